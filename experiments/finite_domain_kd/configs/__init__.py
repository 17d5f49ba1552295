"""Configs of ``finite_domain_kd``; ``PRIMARY`` is the one the end-to-end harness runs."""

PRIMARY = "simulation"
