"""Configs of ``weighted_mmd``; ``PRIMARY`` is the one the end-to-end harness runs."""

PRIMARY = "gaussian_location"
# A Procedure (closed forms, weights and minimum-distance fits; no training loop): nothing
# to lower.
PROGRESS = {"": None}
ARTIFACTS = ("table.md", "results.json")
