"""Configs of ``social_implicit``; ``PRIMARY`` is the one the end-to-end harness runs."""

PRIMARY = "routes"
