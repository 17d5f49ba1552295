"""Two MLPs over a partially observed discrete vector: a marginal and a conditional head.

The networks of generative marginalization models [P033] for small problems (the public
code's ``MLPResDual``): the input ``tokens [..., D]`` holds values ``0..K-1`` and the mask
token ``K`` at unobserved positions, one-hot encoded (``D (K + 1)`` features). Two separate
residual MLPs (:class:`~likelihood_jax.models.mlp.ResidualMLP`) read it:

* ``marginal``: one number, ``log p_theta(x_S)`` (unnormalized);
* ``conditional``: ``(D, K)`` log-probabilities ``log p_phi(x_i | x_S)`` of every position
  (log-softmax over values), an any-order autoregressive model.

Usage::

    net = MarginalizationMLP(num_dims=10, num_values=2, hidden_dims=(128, 128))
    params = net.init(key, jnp.full((10,), 2))
    log_marginal, log_cond = net.apply(params, tokens)
"""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax

from likelihood_jax.models.mlp import ResidualMLP


class MarginalizationMLP(nn.Module):
    """``tokens [..., D] -> (log_marginal [...], log_cond [..., D, K])``.

    Attributes:
      num_dims: ``D``; num_values: ``K`` (the mask token is ``K``).
      hidden_dims: hidden widths of each of the two MLPs.
    """

    num_dims: int
    num_values: int
    hidden_dims: Sequence[int] = (128, 128)

    def setup(self):  # noqa: D102
        self.marginal_net = ResidualMLP(tuple(self.hidden_dims), 1)
        self.conditional_net = ResidualMLP(tuple(self.hidden_dims),
                                           self.num_dims * self.num_values)

    def _features(self, tokens: jax.Array) -> jax.Array:
        if tokens.shape[-1] != self.num_dims:
            raise ValueError(f"tokens must end in D={self.num_dims}, got shape {tokens.shape}")
        h = jax.nn.one_hot(tokens, self.num_values + 1)
        return h.reshape(*tokens.shape[:-1], self.num_dims * (self.num_values + 1))

    def marginal(self, tokens: jax.Array) -> jax.Array:
        """``log p_theta(x_S)`` only, ``[...]`` (one MLP pass)."""
        return self.marginal_net(self._features(tokens))[..., 0]

    def conditional(self, tokens: jax.Array) -> jax.Array:
        """``log p_phi(x_i | x_S)`` only, ``[..., D, K]`` (one MLP pass)."""
        logits = self.conditional_net(self._features(tokens))
        logits = logits.reshape(*tokens.shape[:-1], self.num_dims, self.num_values)
        return jax.nn.log_softmax(logits, axis=-1)

    def __call__(self, tokens: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Log-marginal and conditional log-probabilities of ``tokens``."""
        return self.marginal(tokens), self.conditional(tokens)
