"""Amortized Bayesian prediction, in-context learning and calibration (catalog family BAYES).

Pure modules (import core, ``data`` and ``models`` only; the layout rule is in the package
docstring of ``likelihood_jax``):

* :mod:`.membership`: membership inference against a language model: member/non-member
  splits, per-sequence scores (mean log-probability, Min-K% [P105], Min-K%++ [P251], whose
  math is in the core module :mod:`likelihood_jax.scoring`) and the zlib baseline.
"""
