"""Configs of ``dlsm``; ``PRIMARY`` is the one the end-to-end harness runs."""

PRIMARY = "gmm2d"

ARTIFACTS = ("samples.png",)
