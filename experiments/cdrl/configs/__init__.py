"""Configs of ``cdrl``; ``PRIMARY`` is the one the end-to-end harness runs."""

PRIMARY = "eight_gaussians"
# The sum of the two players' losses falls as the EBM separates data from its samples.
PROGRESS = {"": "loss"}
ARTIFACTS = ("samples.png",)
