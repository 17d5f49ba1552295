"""The PixelCNN++ density over images of integer levels: exact ``log_prob`` and ``sample`` [P070].

Salimans, Karpathy, Chen & Kingma (2017), "PixelCNN++: Improving the PixelCNN with
Discretized Logistic Mixture Likelihood and Other Modifications". The network
(:class:`likelihood_jax.models.pixelcnn.PixelCNNPP`, masked two-stream convolutions, gated
resnets, down/up-sampling with shortcuts, dropout) gives, at every pixel ``i``, the
parameters of a ``K``-component logistic mixture that depend only on the pixels before
``i`` in raster order, and

    log P(x) = sum_i sum_c log P(x_{i,c} | x_{<i}),
    P(x_{i,c} | x_{<i}) = sum_k pi_k [sigma((x + h - mu_k)/s_k) - sigma((x - h - mu_k)/s_k)]

on the grid ``x = -1 + 2k/(L - 1)`` with half-width ``h = 1/(L - 1)`` and the edge bins
taking the tails (:func:`likelihood_jax.distributions.discretized_logistic_mixture_log_prob`
with ``num_levels = L``: 17 for scikit-learn's digits, 256 for 8-bit images). The
probabilities of the ``L^D`` images sum to one, so ``-log P(x) / (D ln 2)`` is an exact
bits/dim of the discrete data (no dequantization bound). Sampling is sequential: ``H W``
network passes, each drawing one pixel from its mixture.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp

from likelihood_jax import distributions
from likelihood_jax.models.pixelcnn import PixelCNNPP


def levels_to_unit(x: jax.Array, num_levels: int) -> jax.Array:
    """Integer levels ``{0..L-1}`` -> the grid ``-1 + 2k/(L - 1)`` in ``[-1, 1]``."""
    return 2.0 * jnp.asarray(x, jnp.float32) / (num_levels - 1) - 1.0


def pixel_log_probs(raw: jax.Array, x_unit: jax.Array, num_levels: int) -> jax.Array:
    """``log P(x_i | x_{<i})`` per pixel and channel from the network output ``raw``.

    Args:
        raw: ``[..., 3K]`` (logits, means, log-scales), as :class:`PixelCNNPP` returns.
        x_unit: the data on the grid of :func:`levels_to_unit`, shape ``raw.shape[:-1]``.
        num_levels: ``L``.
    """
    logits, means, log_scales = jnp.split(raw, 3, axis=-1)
    return distributions.discretized_logistic_mixture_log_prob(
        x_unit, logits, means, log_scales, num_levels=num_levels)


def sample_discretized_logistic_mixture(key: jax.Array, raw: jax.Array, num_levels: int
                                        ) -> jax.Array:
    """Integer levels drawn from the mixtures ``raw [..., 3K]`` (shape ``raw.shape[:-1]``).

    A component ``k ~ softmax(logits)``, ``y = mu_k + s_k log(u / (1 - u))`` (a logistic
    draw), then the level whose bin holds ``y`` (the edge bins take the tails): exactly
    the discretized distribution of :func:`pixel_log_probs`.
    """
    logits, means, log_scales = jnp.split(raw, 3, axis=-1)
    component_key, logistic_key = jax.random.split(key)
    k = jax.random.categorical(component_key, logits, axis=-1)[..., None]
    mean = jnp.take_along_axis(means, k, axis=-1)[..., 0]
    log_scale = jnp.maximum(jnp.take_along_axis(log_scales, k, axis=-1)[..., 0], -7.0)
    y = mean + jnp.exp(log_scale) * jax.random.logistic(logistic_key, mean.shape)
    levels = jnp.round((y + 1.0) * (num_levels - 1) / 2.0)
    return jnp.clip(levels, 0, num_levels - 1)


@dataclasses.dataclass(frozen=True)
class DiscretizedPixelCNN:
    """A PixelCNN++ density over images of integer levels: ``log_prob`` and ``sample`` [P070].

    ``x`` holds integers ``0..L-1`` (any numeric dtype), shape ``(B, H, W, C)``.
    ``log_prob`` is the exact discrete log-likelihood in nats (bits/dim:
    ``-log_prob / (H W C ln 2)``, ``metrics.bits_per_dim``).

    Attributes:
        network: the :class:`PixelCNNPP`.
        image_shape: ``(H, W, C)``.
        num_levels: ``L >= 2``.
    """

    network: PixelCNNPP
    image_shape: tuple[int, int, int]
    num_levels: int

    def __post_init__(self):
        object.__setattr__(self, "image_shape", tuple(int(d) for d in self.image_shape))
        if len(self.image_shape) != 3:
            raise ValueError(f"image_shape must be (H, W, C), got {self.image_shape}.")
        if self.num_levels < 2:
            raise ValueError(f"num_levels must be >= 2, got {self.num_levels}.")

    def init(self, key: jax.Array, x: jax.Array) -> dict:
        """Network parameters (``x``: a batch of images, only its shape is used)."""
        return self.network.init(key, levels_to_unit(x[:1], self.num_levels))["params"]

    def log_prob(self, params, x: jax.Array, *, train: bool = False,
                 key: jax.Array | None = None) -> jax.Array:
        """Exact ``log P(x)`` in nats of a batch ``(B, H, W, C)`` -> ``(B,)``.

        ``train=True`` turns dropout on (needs ``key``).
        """
        if tuple(x.shape[1:]) != self.image_shape:
            raise ValueError(f"x must be a batch (B,) + {self.image_shape}, got {x.shape}.")
        unit = levels_to_unit(x, self.num_levels)
        rngs = {"dropout": key} if train else None
        raw = self.network.apply({"params": params}, unit, train, rngs=rngs)
        return jnp.sum(pixel_log_probs(raw, unit, self.num_levels), axis=(1, 2, 3))

    def sample(self, params, key: jax.Array, num_samples: int) -> jax.Array:
        """``num_samples`` images of levels ``(n, H, W, C)`` (float), pixel by pixel.

        A ``lax.fori_loop`` over the ``H W`` raster positions; each step runs the whole
        network (no caching) and draws pixel ``i`` from its mixture.
        """
        height, width, _ = self.image_shape
        keys = jax.random.split(key, height * width)

        def step(i, x):
            raw = self.network.apply({"params": params}, levels_to_unit(x, self.num_levels))
            r, c = i // width, i % width
            pixel = sample_discretized_logistic_mixture(keys[i], raw[:, r, c], self.num_levels)
            return x.at[:, r, c].set(pixel)

        x0 = jnp.zeros((num_samples,) + self.image_shape, jnp.float32)
        return jax.lax.fori_loop(0, height * width, step, x0)

    @property
    def num_dims(self) -> int:
        """``H W C``."""
        return math.prod(self.image_shape)
