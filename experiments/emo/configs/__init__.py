"""Configs of ``emo``; ``PRIMARY`` is the one the end-to-end harness runs."""

PRIMARY = "synthetic"
