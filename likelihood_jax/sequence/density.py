"""An autoregressive transformer over pixel values under the density contract.

:class:`AutoregressivePixels` models discrete images ``k in {0, ..., L-1}^D`` in raster
order, ``P(k) = prod_i P(k_i | k_<i)``, with the causal
:class:`~likelihood_jax.models.transformer.TransformerLM` (input ids ``0..L-1`` plus a
beginning-of-image id ``L``; ``L`` output classes), as the pixel-level autoregressive models
(PixelRNN/Image Transformer, van den Oord et al. 2016, Parmar et al. 2018) do.

Under the contract (:mod:`likelihood_jax.density`) its data space is ``[0, 1)^D``: the
model is the piecewise-constant density ``p(y) = P(floor(L y)) L^D``, so
``log_prob(y) = log P(k) + D log L`` and the uniformly dequantized bits/dim is exactly
``-log2 P(k) / D`` (``exact = True``; the Jensen gap of uniform dequantization vanishes for a
density constant on each cell). Sampling is sequential, one pixel per step through the
transformer's KV cache, inside ``lax.scan``. Objective: ``"ml"`` (the NLL, teacher-forced).
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp

from likelihood_jax import density
from likelihood_jax.models.transformer import TransformerLM


@dataclasses.dataclass(frozen=True)
class AutoregressivePixels:
    """A causal transformer over the ``D`` pixel values of an image, in raster order.

    Attributes:
      network: a :class:`TransformerLM` with ``vocab_size = num_levels + 1`` and
        ``output_size = num_levels`` (see :func:`autoregressive_pixels`).
      event_shape: shape of one image.
      num_levels: ``L``.
    """

    network: TransformerLM
    event_shape: tuple[int, ...]
    num_levels: int
    exact = True
    objectives = ("ml",)

    def __post_init__(self):
        object.__setattr__(self, "event_shape", tuple(int(d) for d in self.event_shape))
        if self.network.vocab_size != self.num_levels + 1 or \
                self.network.num_outputs != self.num_levels:
            raise ValueError(f"network must have vocab_size {self.num_levels + 1} and "
                             f"output_size {self.num_levels} for {self.num_levels} levels, got "
                             f"{self.network.vocab_size} and {self.network.num_outputs}")

    @property
    def num_dims(self) -> int:
        """``D``, pixels of one image."""
        return math.prod(self.event_shape)

    def levels(self, y: jax.Array) -> jax.Array:
        """Flat integer levels ``floor(L y)`` of a batch in ``[0, 1)^D``: ``(B, D)``."""
        k = density.cell_levels(y, self.num_levels)
        return k.reshape(k.shape[0], self.num_dims)

    def _inputs(self, k: jax.Array) -> jax.Array:
        bos = jnp.full((k.shape[0], 1), self.num_levels, jnp.int32)
        return jnp.concatenate([bos, k[:, :-1]], axis=1)

    def init(self, key, x):
        """The transformer's parameters (from the shape of ``x`` only)."""
        return self.network.init(key, self._inputs(self.levels(x[:1])))

    def discrete_log_prob(self, params, k: jax.Array) -> jax.Array:
        """``log P(k) = sum_i log P(k_i | k_<i)`` of flat levels ``(B, D) -> (B,)``."""
        logits = self.network.apply(params, self._inputs(k))
        log_probs = jax.nn.log_softmax(logits, axis=-1)
        return jnp.sum(jnp.take_along_axis(log_probs, k[..., None], axis=-1)[..., 0], axis=-1)

    def log_prob(self, params, x, key=None):
        """``log P(floor(L y)) + D log L``: the piecewise-constant density (``key`` unused)."""
        del key
        return density.piecewise_constant_log_prob(
            self.discrete_log_prob(params, self.levels(x)), self.num_dims, self.num_levels)

    def sample_levels(self, params, key, num):
        """``num`` images of levels ``(num, D)``, one pixel per step with the KV cache."""
        cache = self.network.init_cache(num, self.num_dims)
        first = jnp.full((num, 1), self.num_levels, jnp.int32)

        def step(carry, step_key):
            tokens, cache = carry
            logits, cache = self.network.apply(params, tokens, cache,
                                               method=self.network.extend)
            new = jax.random.categorical(step_key, logits[:, -1])[:, None].astype(jnp.int32)
            return (new, cache), new[:, 0]

        _, k = jax.lax.scan(step, (first, cache), jax.random.split(key, self.num_dims))
        return k.T

    def sample(self, params, key, num):
        """Samples in ``[0, 1)``: the centers ``(k + 1/2) / L`` of the sampled levels."""
        k = self.sample_levels(params, key, num)
        return ((k + 0.5) / self.num_levels).reshape((num,) + self.event_shape)

    def loss(self, params, x, key, objective):
        """``"ml"``: ``-log P(k)`` (nats per image; ``key`` unused)."""
        del key
        if objective != "ml":
            raise ValueError(f"AutoregressivePixels objective must be 'ml', got {objective!r}")
        return -self.discrete_log_prob(params, self.levels(x))


def autoregressive_pixels(event_shape: tuple[int, ...], num_levels: int, *,
                          num_layers: int = 2, width: int = 64, num_heads: int = 4,
                          ) -> AutoregressivePixels:
    """An :class:`AutoregressivePixels` over ``num_levels`` levels with a small transformer.

    Raises:
      ValueError: ``num_levels < 2``.
    """
    if num_levels is None or num_levels < 2:
        raise ValueError(f"autoregressive_pixels needs discrete data with num_levels >= 2, got "
                         f"{num_levels}")
    network = TransformerLM(vocab_size=num_levels + 1, output_size=num_levels,
                            num_layers=num_layers, width=width, num_heads=num_heads,
                            max_len=math.prod(event_shape))
    return AutoregressivePixels(network, event_shape, num_levels)
