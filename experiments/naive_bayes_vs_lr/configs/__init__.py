"""Configs of ``naive_bayes_vs_lr``; ``PRIMARY`` is the one the end-to-end harness runs."""

PRIMARY = "simulation"
# A Procedure (closed-form fits and L-BFGS solves, no training loop): nothing to lower.
PROGRESS = {"": None}
ARTIFACTS = ("curve.json", "curve.md")
