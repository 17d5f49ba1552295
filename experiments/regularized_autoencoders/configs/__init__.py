"""Configs of ``regularized_autoencoders``; ``PRIMARY`` is the one the end-to-end harness runs."""

PRIMARY = "mixture"
