"""The family's Experiment base: a window CRF tagger trained by penalized likelihood.

:class:`WindowCrfExperiment` holds what the CRF experiments share [P068, P126]: the
:class:`~likelihood_jax.structured.taggers.WindowCrfTagger` over the dataset's vocabulary
and tags (``config.model.window`` tokens each side), its zero initialization, its scores of
a batch, and the Gaussian-prior penalty ``|theta|^2 / (2 sigma^2 N)`` per sequence
(``sigma^2 = config.prior_variance``, ``N`` training sequences). The only module of the
family that imports :mod:`likelihood_jax.train`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from likelihood_jax.structured.taggers import WindowCrfTagger
from likelihood_jax.train import Experiment


class WindowCrfExperiment(Experiment):
    """A window CRF tagger of ``batch["x"]`` ``[B, T]``; subclasses add the likelihood."""

    def make_model(self, config, info):
        """The window tagger over the dataset's vocabulary and tags."""
        return WindowCrfTagger(len(info.vocab), info.num_classes, int(config.model.window))

    def init_params(self, key, batch):
        """Zeros (the penalized log-likelihood is concave in them)."""
        return self.model.init(key, jnp.asarray(batch["x"][0]))

    def scores(self, params, x):
        """CRF scores of a batch ``[B, T]``: unary ``[B, T, K]``, transition, start, end."""
        unary, transition, start, end = jax.vmap(lambda t: self.model.apply(params, t))(x)
        return unary, transition[0], start[0], end[0]

    def l2_penalty(self, params):
        """``|theta|^2 / (2 sigma^2 N)``: the Gaussian prior's share of one sequence."""
        squares = sum(jnp.sum(p ** 2) for p in jax.tree.leaves(params))
        return squares / (2 * self.config.prior_variance * self.dataset.train["x"].shape[0])
