"""Configs of ``mle_flow``; ``PRIMARY`` is the one the end-to-end harness runs."""

PRIMARY = "toy2d"
# The loop's plots of the 2D toy (samples over the data, data and model density side by
# side) and the experiment's train/test NLL with the checkerboard's entropy.
ARTIFACTS = ("samples.png", "density.png", "nll.png")
