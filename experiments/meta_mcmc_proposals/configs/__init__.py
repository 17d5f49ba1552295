"""Configs of ``meta_mcmc_proposals``; ``PRIMARY`` is the one the end-to-end harness runs."""

PRIMARY = "gaussian_motif"
