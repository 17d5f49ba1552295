"""Configs of ``density_zoo``; ``PRIMARY`` is the one the end-to-end harness runs."""

PRIMARY = "toy2d"
# The loop's 2D plots and the zoo's summary of the model (family, objective, exactness, size).
ARTIFACTS = ("samples.png", "density.png", "zoo.json")
