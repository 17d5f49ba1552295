"""Configs of ``ot_cfm``; ``PRIMARY`` is the one the end-to-end harness runs."""

PRIMARY = "toy2d"

ARTIFACTS = ("samples.png",)
