"""Configs of ``incremental_gmm``; ``PRIMARY`` is the one the end-to-end harness runs."""

PRIMARY = "digits"
# A Procedure (single-pass fits and scikit-learn's batch EM): no training loss to lower.
PROGRESS = {"": None}
