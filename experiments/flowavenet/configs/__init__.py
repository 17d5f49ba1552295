"""Configs of ``flowavenet``; ``PRIMARY`` is the one the end-to-end harness runs."""

PRIMARY = "ar1"
