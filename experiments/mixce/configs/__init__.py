"""Configs of ``mixce``; ``PRIMARY`` is the one the end-to-end harness runs."""

PRIMARY = "synthetic"
