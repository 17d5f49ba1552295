"""Configs of ``federated_em``; ``PRIMARY`` is the one the end-to-end harness runs."""

PRIMARY = "synthetic"
# A Procedure (closed-form EM rounds): no training loss to lower.
PROGRESS = {"": None}
