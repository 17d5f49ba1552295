"""Configs of ``mcmi``; ``PRIMARY`` is the one the end-to-end harness runs."""

PRIMARY = "digits"
