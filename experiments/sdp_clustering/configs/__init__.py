"""Configs of ``sdp_clustering``; ``PRIMARY`` is the one the end-to-end harness runs."""

PRIMARY = "heterogeneous"
# A Procedure (convex solves and EM, no training loop): nothing to lower.
PROGRESS = {"": None}
ARTIFACTS = ("clustering.json",)
