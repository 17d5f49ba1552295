"""Configs of ``trade``; ``PRIMARY`` is the one the end-to-end harness runs."""

PRIMARY = "correlated_gaussian"
