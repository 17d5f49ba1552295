"""Configs of ``mle_flow``; ``PRIMARY`` is the one the end-to-end harness runs."""

PRIMARY = "toy2d"
