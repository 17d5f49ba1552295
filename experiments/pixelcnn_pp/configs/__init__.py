"""Configs of ``pixelcnn_pp``; ``PRIMARY`` is the one the end-to-end harness runs."""

PRIMARY = "digits"
ARTIFACTS = ("samples.png",)
