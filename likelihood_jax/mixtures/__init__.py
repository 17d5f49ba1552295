"""Mixture models fitted by maximum likelihood and EM (family LAT-A).

* :mod:`~likelihood_jax.mixtures.gmm`: full-covariance Gaussian mixtures, one EM step
  and the log-likelihood (the public API re-exported here).
"""

from likelihood_jax.mixtures.gmm import gmm_em_step, gmm_log_likelihood

__all__ = ["gmm_em_step", "gmm_log_likelihood"]
