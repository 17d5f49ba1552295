"""Configs of ``multi_annotator``; ``PRIMARY`` is the one the end-to-end harness runs."""

PRIMARY = "digits"
ARTIFACTS = ("annotators.json",)
