"""Variational, Bayesian and approximate marginal likelihood (catalog family LAT-B).

ELBOs, VAEs, SMC, Bayesian adapters and evidence; the layout rule is in the package
docstring of ``likelihood_jax``.

Modules:

* ``transferability``: feature extractors for encoder-selection studies
  (``pca_features``, ``random_projection_features``, the hidden layer of a small classifier
  ``fit_mlp`` / ``mlp_hidden_features``) and the H-score baseline ``h_score``; the score
  itself, LogME, is the core metric ``likelihood_jax.metrics.logme`` [P204].
"""
