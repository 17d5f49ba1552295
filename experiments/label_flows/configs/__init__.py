"""Configs of ``label_flows``; ``PRIMARY`` is the one the end-to-end harness runs."""

PRIMARY = "digits"
