"""Configs of ``teacher_distillation``; ``PRIMARY`` is the one the end-to-end harness runs."""

PRIMARY = "instructions"
