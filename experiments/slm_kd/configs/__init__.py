"""Configs of ``slm_kd``; ``PRIMARY`` is the one the end-to-end harness runs."""

PRIMARY = "markov"
