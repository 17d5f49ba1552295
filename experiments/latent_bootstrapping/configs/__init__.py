"""Configs of ``latent_bootstrapping``; ``PRIMARY`` is the one the end-to-end harness runs."""

PRIMARY = "synthetic"
