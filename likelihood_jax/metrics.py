r"""Bits per dimension and the uniform-dequantization convention.

This is the one place that converts log-likelihoods into bits/dim, because the
conventions are where likelihood numbers most often go wrong.

Discrete data
-------------
An example is ``k in {0, ..., L-1}^D`` (``L = num_levels``, e.g. 256 for 8-bit
images, 17 for scikit-learn's digits). Its bits/dim under a discrete model
``P`` is ``-log2 P(k) / D`` (:func:`bits_per_dim` of ``-log P(k)`` in nats).

Uniform dequantization (Uria et al. 2013; Theis et al. 2016)
-------------------------------------------------------------
A continuous density cannot be compared with a discrete one directly. Add
``u ~ U[0, 1)^D`` to the integers: ``y = k + u`` lies in the unit cell
``[k, k + 1)`` (measured in *levels*). Any density ``p_Y`` defines the discrete
model ``P(k) = integral_{[0,1)^D} p_Y(k + u) du`` and, by Jensen,

    -log P(k) <= E_u[-log p_Y(k + u)],

so the dequantized NLL in level units is an upper bound on the discrete NLL.

The model rarely sees ``y`` itself: it sees ``z = a + scale * y`` (e.g.
``z = y / 256`` in ``[0, 1)``: ``scale = 1/num_levels``; ``z = 2y/256 - 1`` in
``[-1, 1)``: ``scale = 2/num_levels``). The change of variables gives
``p_Y(y) = p_Z(z) * scale^D``, hence the bound in nats

    NLL(k) <= -log p_Z(z) - D * log(scale),

and :func:`dequantized_bits_per_dim` returns
``(-log p_Z(z) - D log(scale)) / (D ln 2)``.

Worked example: a uniform density on ``[0, 1)^D`` has ``log p_Z = 0``; with
``scale = 1/256`` the bound is ``-D log(1/256) = 8 D ln 2`` nats, i.e. exactly
**8 bits/dim**, the cost of coding 8-bit data with no model at all. The same
uniform model on ``[-1, 1)^D`` has ``log p_Z = -D log 2`` and ``scale = 2/256``:
``D log 2 - D log(2/256) = 8 D ln 2``, again 8 bits/dim. For the 17-level
digits data with ``scale = 1/17`` it gives ``log2(17) = 4.09`` bits/dim.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

Array = jax.Array


def bits_per_dim(nll_nats, num_dims) -> Array:
    """Converts a negative log-likelihood in nats into bits per dimension.

    ``bits/dim = nll / (num_dims * ln 2)``. Exact; no estimation involved.

    Args:
      nll_nats: negative log-likelihood of one example (or any array of them),
        in nats.
      num_dims: number of dimensions ``D`` of one example (e.g. ``H * W * C``).

    Returns:
      Bits per dimension, shaped like ``nll_nats``.
    """
    return jnp.asarray(nll_nats) / (num_dims * math.log(2.0))


def uniform_dequantize(key: Array, x: Array, *, num_levels: int = 256,
                       dtype=jnp.float32) -> Array:
    """Uniformly dequantizes integer data into ``[0, 1)``.

    ``k in {0, ..., L-1}  ->  (k + u) / L`` with ``u ~ U[0, 1)`` independently per
    entry and ``L = num_levels``. The map is affine in the dequantized value
    ``y = k + u`` with slope ``1/L`` per level, so densities of the output pair
    with ``dequantized_bits_per_dim(..., scale=1/num_levels)`` (Uria et al.
    2013; Theis, van den Oord and Bethge 2016, "A note on the evaluation of
    generative models"). Its expected log-density is a lower bound on the
    discrete log-likelihood (see the module docstring).

    Args:
      key: PRNG key for ``u``.
      x: integer-valued data in ``{0, ..., num_levels - 1}``, any shape.
      num_levels: number of discrete levels ``L``.
      dtype: floating dtype of the result.

    Returns:
      Dequantized data in ``[0, 1)``, shaped like ``x``.
    """
    x = jnp.asarray(x).astype(dtype)
    u = jax.random.uniform(key, x.shape, dtype)
    return (x + u) / num_levels


def dequantized_bits_per_dim(log_prob, num_dims, *, num_levels: int = 256,
                             scale: float | None = None) -> Array:
    """Bits/dim of discrete data from the log-density of its dequantized version.

    ``bits/dim = (-log_prob - num_dims * log(scale)) / (num_dims * ln 2)``, where
    ``log_prob = log p_Z(z)`` is the model's continuous log-density at
    ``z = a + scale * (k + u)``, ``u ~ U[0, 1)^D``. Averaged over ``u`` this is an
    upper bound on the discrete bits/dim (Theis et al. 2016), tight when the
    density is constant on each cell. Worked example: a uniform density on
    ``[0, 1)^D`` (``log_prob = 0``) with ``scale = 1/256`` gives exactly 8
    bits/dim; see the module docstring for the derivation.

    Args:
      log_prob: continuous log-density (nats) of one dequantized example, or an
        array of them.
      num_dims: number of dimensions ``D`` of one example.
      num_levels: number of discrete levels ``L``; only used for the default
        ``scale``.
      scale: slope of the affine map from levels to model space, per level
        (``1/L`` for data in ``[0, 1)`` as from :func:`uniform_dequantize`,
        ``2/L`` for ``[-1, 1)``). Defaults to ``1/num_levels``.

    Returns:
      Bits per dimension, shaped like ``log_prob``.
    """
    if scale is None:
        scale = 1.0 / num_levels
    nll_levels = -jnp.asarray(log_prob) - num_dims * jnp.log(scale)
    return bits_per_dim(nll_levels, num_dims)


def frechet_distance(mean0, cov0, mean1, cov1) -> Array:
    """Fréchet distance between two Gaussians (the statistic behind FID).

    ``|m0 - m1|^2 + tr(C0 + C1 - 2 (C0^{1/2} C1 C0^{1/2})^{1/2})`` (Dowson &
    Landau 1982; Heusel et al. 2017 apply it to Inception features). The matrix
    square roots use symmetric eigendecompositions, so the result is real and,
    up to rounding, non-negative.

    Args:
      mean0: first mean, shape ``(F,)``.
      cov0: first covariance, shape ``(F, F)``.
      mean1: second mean, shape ``(F,)``.
      cov1: second covariance, shape ``(F, F)``.

    Returns:
      The scalar squared distance.
    """
    def sqrtm_psd(c):
        w, v = jnp.linalg.eigh(c)
        return (v * jnp.sqrt(jnp.clip(w, 0.0))) @ v.T

    root0 = sqrtm_psd(jnp.asarray(cov0))
    cross = sqrtm_psd(root0 @ jnp.asarray(cov1) @ root0)
    diff = jnp.asarray(mean0) - jnp.asarray(mean1)
    return diff @ diff + jnp.trace(cov0) + jnp.trace(cov1) - 2.0 * jnp.trace(cross)
