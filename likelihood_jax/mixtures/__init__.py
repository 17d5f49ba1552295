"""Mixture models fitted by maximum likelihood and EM (family LAT-A).

* :mod:`~likelihood_jax.mixtures.gmm`: full-covariance Gaussian mixtures, one EM step
  and the log-likelihood (the public API re-exported here).
* :mod:`~likelihood_jax.mixtures.incremental`: the single-pass incremental GMM on precision
  matrices, kept by rank-one (Sherman-Morrison, determinant lemma) updates, ``O(K D^2)`` per
  point; one mixture per class as a classifier [P138, P211].
* :mod:`~likelihood_jax.mixtures.federated`: federated EM with per-client mixing weights and
  per-component linear-Gaussian predictors; summed sufficient statistics, closed-form server
  M-step [P065].
* :mod:`~likelihood_jax.mixtures.naive_bayes`: Gaussian naive Bayes (closed-form weighted
  MLE) and multinomial logistic regression by L-BFGS, the generative/discriminative pair
  [P094].
* :mod:`~likelihood_jax.mixtures.annotators`: learning from noisy annotators, the true label
  as the latent component of ``p(z_a | x) = sum_y p(y | x) P_a(z_a | y, x)`` [P127].
* :mod:`~likelihood_jax.mixtures.sdp_clustering`: likelihood-adjusted SDP clustering of a
  heterogeneous Gaussian mixture (iLA-SDP; consensus ADMM with an ``eigh`` PSD projection)
  [P101].
* :mod:`~likelihood_jax.mixtures.detection`: multi-object detection as a mixture density over
  ground-truth boxes (Cauchy or Gaussian coordinates), its NLL and the maximum component
  maximization (MCM) regularizer against duplicates; AP, NMS and duplicate counts [P136].
"""

from likelihood_jax.mixtures.gmm import gmm_em_step, gmm_log_likelihood

__all__ = ["gmm_em_step", "gmm_log_likelihood"]
