"""Variational, Bayesian and approximate marginal likelihood (catalog family LAT-B).

ELBOs, VAEs, SMC, Bayesian adapters and evidence. Empty until the family's papers land;
the layout rule is in the package docstring of ``likelihood_jax``.
"""
