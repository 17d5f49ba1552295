"""Configs of ``mlm_vs_clm``; ``PRIMARY`` is the one the end-to-end harness runs."""

PRIMARY = "synthetic"
