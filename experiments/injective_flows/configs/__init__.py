"""Configs of ``injective_flows``; ``PRIMARY`` is the one the end-to-end harness runs."""

PRIMARY = "ppca"
ARTIFACTS = ("samples.png",)
