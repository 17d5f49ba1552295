"""likelihood_jax: likelihood-based training in JAX.

The pure modules (``estimators``, ``score_matching``, ``distributions``,
``metrics``, ``structured``, ``mixtures``, ``transport``, ``flows``) import only
jax, numpy and their peers and can be used without the trainer::

    from likelihood_jax import score_matching
    loss = score_matching.sliced_score_matching(score_fn, x, key)
"""

__version__ = "0.1.0"
