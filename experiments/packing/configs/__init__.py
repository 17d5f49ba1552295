"""Configs of ``packing``; ``PRIMARY`` is the one the end-to-end harness runs."""

PRIMARY = "shakespeare"
