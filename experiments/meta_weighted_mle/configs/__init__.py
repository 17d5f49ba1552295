"""Configs of ``meta_weighted_mle``; ``PRIMARY`` is the one the end-to-end harness runs."""

PRIMARY = "names"
