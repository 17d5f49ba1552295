"""Configs of ``membership_inference``; ``PRIMARY`` is the one the end-to-end harness runs."""

PRIMARY = "shakespeare"
