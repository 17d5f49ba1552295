"""Configs of ``crf``; ``PRIMARY`` is the one the end-to-end harness runs."""

PRIMARY = "hmm"
