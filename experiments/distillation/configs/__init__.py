"""Configs of ``distillation``; ``PRIMARY`` is the one the end-to-end harness runs."""

PRIMARY = "synthetic"
