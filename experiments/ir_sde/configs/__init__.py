"""Configs of ``ir_sde``; ``PRIMARY`` is the one the end-to-end harness runs."""

PRIMARY = "mnist5k"
ARTIFACTS = ("restorations.png",)
