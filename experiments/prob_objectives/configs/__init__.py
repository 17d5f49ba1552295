"""Configs of ``prob_objectives``; ``PRIMARY`` is the one the end-to-end harness runs."""

PRIMARY = "synthetic"
