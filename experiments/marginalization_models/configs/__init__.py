"""Configs of ``marginalization_models``; ``PRIMARY`` is the one the end-to-end harness runs."""

PRIMARY = "ising"
