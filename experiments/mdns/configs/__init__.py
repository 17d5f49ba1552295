"""Configs of ``mdns``; ``PRIMARY`` is the one the end-to-end harness runs."""

PRIMARY = "ising"
