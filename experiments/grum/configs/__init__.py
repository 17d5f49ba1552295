"""Configs of ``grum``; ``PRIMARY`` is the one the end-to-end harness runs."""

PRIMARY = "community_small"

ARTIFACTS = ("samples.png",)
