"""Configs of ``loss_smoothing``; ``PRIMARY`` is the one the end-to-end harness runs."""

PRIMARY = "synthetic"
