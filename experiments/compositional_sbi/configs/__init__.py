"""Configs of ``compositional_sbi``; ``PRIMARY`` is the one the end-to-end harness runs."""

PRIMARY = "gaussian_linear"

ARTIFACTS = ("samples.png",)
