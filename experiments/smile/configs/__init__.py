"""Configs of ``smile``; ``PRIMARY`` is the one the end-to-end harness runs."""

PRIMARY = "captions"
