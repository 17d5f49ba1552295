"""A linear-chain CRF tagger over token windows: the scores and their feature counts.

The tagger of the CRF experiments [P068, P126]: tag ``k`` at position ``t`` of tokens
``x`` scores

    unary[t, k] = bias[k] + sum_{o = -w..w} E_o[x_{t+o}, k]

(``E_o`` an embedding table per offset, i.e. a linear model on one-hot window features;
positions outside the sequence read a padding row), with learned ``transition (K, K)``,
``start (K,)`` and ``end (K,)``: the scores of :mod:`~likelihood_jax.structured.crf`.
Every parameter enters the scores linearly, so the log-likelihood is concave in them
(Sutton and McCallum 2012, section 5.1) and zero is a good initial value.
:func:`window_feature_counts` gives the feature counts that turn the marginals of
:func:`~likelihood_jax.structured.crf.crf_count_gradients` into the gradient of the tables.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

Array = jax.Array


def window_positions(tokens: Array, window: int) -> Array:
    """``[2w + 1, T]``: the padded ids ``x_{t+o} + 1`` for ``o = -w..w`` (``0`` off the ends)."""
    length = tokens.shape[0]
    padded = jnp.pad(tokens.astype(jnp.int32) + 1, window)
    return jnp.stack([padded[window + o:window + o + length] for o in range(-window, window + 1)])


def window_feature_counts(tokens: Array, weights: Array, vocab_size: int,
                          window: int) -> Array:
    """``[2w + 1, V + 1, K]``: ``sum_t 1[x_{t+o} + 1 = v] weights[t, k]`` per offset.

    With ``weights = 1[y_t = k] - P(y_t = k)`` these are the empirical minus expected
    counts of the window features: the gradient of ``log P(y)`` with respect to the
    tables ``E_o`` of :class:`WindowCrfTagger` [P068].
    """
    ids = window_positions(tokens, window)
    return jnp.einsum("otv,tk->ovk", jax.nn.one_hot(ids, vocab_size + 1, dtype=weights.dtype),
                      weights)


class WindowCrfTagger(nn.Module):
    """Tokens ``[T]`` -> CRF scores ``(unary [T, K], transition, start, end)``."""

    vocab_size: int
    num_tags: int
    window: int = 1

    @nn.compact
    def __call__(self, tokens: Array) -> tuple[Array, Array, Array, Array]:
        """The scores of one sequence (``vmap`` over a batch)."""
        zeros = nn.initializers.zeros
        tables = self.param("tables", zeros,
                            (2 * self.window + 1, self.vocab_size + 1, self.num_tags))
        ids = window_positions(tokens, self.window)
        offsets = jnp.arange(2 * self.window + 1)[:, None]
        unary = jnp.sum(tables[offsets, ids], axis=0) + self.param("bias", zeros,
                                                                   (self.num_tags,))
        return (unary,
                self.param("transition", zeros, (self.num_tags, self.num_tags)),
                self.param("start", zeros, (self.num_tags,)),
                self.param("end", zeros, (self.num_tags,)))
