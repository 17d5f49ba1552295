"""Configs of ``tarflow``; ``PRIMARY`` is the one the end-to-end harness runs."""

PRIMARY = "digits"
