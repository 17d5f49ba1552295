"""Configs of ``finite_domain_kd``; ``PRIMARY`` is the one the end-to-end harness runs."""

PRIMARY = "simulation"

# write_artifacts: the closed-form learners' TV risk against n, and its log-log plot.
ARTIFACTS = ("rates.json", "rates.png")
