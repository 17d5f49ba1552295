"""Amortized Bayesian prediction, in-context learning and calibration (catalog family BAYES).

Empty until the family's papers land; the layout rule is in the package docstring of
``likelihood_jax``.
"""
