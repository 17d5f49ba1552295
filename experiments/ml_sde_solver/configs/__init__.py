"""Configs of ``ml_sde_solver``; ``PRIMARY`` is the one the end-to-end harness runs."""

PRIMARY = "digits"

ARTIFACTS = ("samples.png",)
