"""Configs of ``mlm_scoring``; ``PRIMARY`` is the one the end-to-end harness runs."""

PRIMARY = "synthetic"
