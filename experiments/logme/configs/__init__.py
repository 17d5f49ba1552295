"""Configs of ``logme``; ``PRIMARY`` is the one the end-to-end harness runs."""

PRIMARY = "digits"
# A Procedure (closed-form scores and scikit-learn probes, no training loop): nothing to lower.
PROGRESS = {"": None}
ARTIFACTS = ("ranking.json", "ranking.md")
