"""Configs of ``unlikelihood``; ``PRIMARY`` is the one the end-to-end harness runs."""

PRIMARY = "shakespeare"
