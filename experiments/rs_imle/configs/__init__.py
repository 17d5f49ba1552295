"""Configs of ``rs_imle``; ``PRIMARY`` is the one the end-to-end harness runs."""

PRIMARY = "toy2d"
