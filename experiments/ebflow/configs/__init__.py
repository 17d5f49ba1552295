"""Configs of ``ebflow``; ``PRIMARY`` is the one the end-to-end harness runs."""

PRIMARY = "toy2d"
# The loop's plots of the 2D toy (samples and the model density).
ARTIFACTS = ("samples.png", "density.png")
