"""Configs of ``regular_crf``; ``PRIMARY`` is the one the end-to-end harness runs."""

PRIMARY = "one_span"
