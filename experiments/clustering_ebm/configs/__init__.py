"""Configs of ``clustering_ebm``; ``PRIMARY`` is the one the end-to-end harness runs."""

PRIMARY = "toy"
