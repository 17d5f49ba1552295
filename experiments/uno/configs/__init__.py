"""Configs of ``uno``; ``PRIMARY`` is the one the end-to-end harness runs."""

PRIMARY = "digits"
