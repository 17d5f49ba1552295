"""Configs of ``poe_debiasing``; ``PRIMARY`` is the one the end-to-end harness runs."""

PRIMARY = "digits"
