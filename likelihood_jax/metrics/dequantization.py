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

Truncated-normal dequantization (Zheng, Lu, Chen & Zhu 2023, i-DODE)
--------------------------------------------------------------------
A diffusion model trained on the cell *centers* ``c_k`` sees, at its first time
``t_0``, the points ``z = alpha_0 c_k + sigma_0 eps``: a tiny Gaussian around the
center, not a uniform spread over the cell. Uniform dequantization then evaluates
the model where it was never trained (the "training-evaluation gap"). i-DODE
instead dequantizes with the same Gaussian, truncated to the cell:
``z = alpha_0 c_k + sigma_0 eps``, ``eps ~ TN(0, I; [-tau, tau]^D)`` with
``tau = alpha_0 h / sigma_0`` (``h`` the half-width of a cell in model space), so
``z`` stays inside the cell ``alpha_0 [c_k - h, c_k + h]``. These scaled cells are
disjoint, so ``P(k) = integral_{cell_k} p(z) dz`` is a (sub-)probability model of
the discrete data and, by Jensen (a variational dequantization with density ``q``),

    -log P(k) <= E_q[log q(z | k) - log p(z)],

a bound in nats on the discrete NLL itself (no change of scale to add):
:func:`truncated_normal_dequantize` draws ``z`` and ``log q``,
:func:`truncated_normal_entropy` gives ``E_q[-log q]`` in closed form and
:func:`truncated_normal_bits_per_dim` turns the bound into bits/dim (optionally
importance weighted over several draws). The gap of the bound is
``KL(q || p(. | k))``; if the model density on the cell is the diffused data's own
Gaussian ``P(k) N(alpha_0 c_k, sigma_0^2 I)``, the gap is ``-D log Z(tau)`` with
``Z(tau) = erf(tau / sqrt 2)``, which vanishes as ``tau -> infinity`` (the
bound becomes exact as ``sigma_0 / alpha_0 -> 0``).

Argument domains
----------------
``num_dims >= 1``, ``num_levels`` an integer ``>= 2``, ``scale > 0``, ``alpha > 0``,
``sigma > 0`` and ``high > low`` are checked when given as Python numbers (or concrete
arrays), at call or trace time (free under ``jax.jit``), and raise a ``ValueError``
naming the function and the argument. Data in ``{0, ..., L-1}`` is a value check, run
with ``validate_args=True`` through ``jax.experimental.checkify`` (under ``jax.jit``:
``jax.jit(checkify.checkify(f))``, then ``err.throw()``).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy import special

from likelihood_jax import _checks

Array = jax.Array


def _check_levels(function: str, x, num_levels: int, validate_args: bool) -> None:
    """Value check (with ``validate_args``): ``x`` holds integers in ``[0, num_levels)``."""
    if validate_args:
        x = jnp.asarray(x)
        _checks.check(function, jnp.all(x == jnp.round(x)),
                      "x must hold integer levels, got a fractional value")
        _checks.check_in_range(function, "x", x, 0, num_levels)


def bits_per_dim(nll_nats, num_dims) -> Array:
    """Converts a negative log-likelihood in nats into bits per dimension.

    ``bits/dim = nll / (num_dims * ln 2)``. Exact; no estimation involved.

    Args:
      nll_nats: negative log-likelihood of one example (or any array of them),
        in nats.
      num_dims: number of dimensions ``D`` of one example (e.g. ``H * W * C``),
        ``>= 1``.

    Returns:
      Bits per dimension, shaped like ``nll_nats``.

    Raises:
      ValueError: for ``num_dims < 1``.
    """
    _checks.require_at_least("bits_per_dim", "num_dims", num_dims, 1)
    return jnp.asarray(nll_nats) / (num_dims * math.log(2.0))


def uniform_dequantize(key: Array, x: Array, *, num_levels: int = 256,
                       dtype=jnp.float32, validate_args: bool = False) -> Array:
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
      x: integer-valued data in ``{0, ..., num_levels - 1}``, any shape (a
        value at or above ``num_levels`` leaves ``[0, 1)`` unless
        ``validate_args``).
      num_levels: number of discrete levels ``L``, an integer ``>= 2``.
      dtype: floating dtype of the result.
      validate_args: also check that ``x`` holds integers in
        ``[0, num_levels)`` (with ``jax.experimental.checkify``; see the module
        docstring).

    Returns:
      Dequantized data in ``[0, 1)``, shaped like ``x``.

    Raises:
      ValueError: for ``num_levels < 2`` or a non-floating ``dtype``; with
        ``validate_args``, for data outside ``{0, ..., num_levels - 1}``.
    """
    _checks.require_integer_at_least("uniform_dequantize", "num_levels", num_levels, 2)
    _checks.require_floating_dtype("uniform_dequantize", "dtype", dtype)
    _check_levels("uniform_dequantize", x, num_levels, validate_args)
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
      num_dims: number of dimensions ``D`` of one example, ``>= 1``.
      num_levels: number of discrete levels ``L``, an integer ``>= 2``; only
        used for the default ``scale``.
      scale: slope of the affine map from levels to model space, per level,
        ``> 0`` (``1/L`` for data in ``[0, 1)`` as from
        :func:`uniform_dequantize`, ``2/L`` for ``[-1, 1)``). Defaults to
        ``1/num_levels``.

    Returns:
      Bits per dimension, shaped like ``log_prob``.

    Raises:
      ValueError: for ``num_dims < 1``, ``num_levels < 2`` or ``scale <= 0``.
    """
    function = "dequantized_bits_per_dim"
    _checks.require_at_least(function, "num_dims", num_dims, 1)
    _checks.require_integer_at_least(function, "num_levels", num_levels, 2)
    if scale is not None:
        _checks.require_greater(function, "scale", scale, 0.0)
    if scale is None:
        scale = 1.0 / num_levels
    nll_levels = -jnp.asarray(log_prob) - num_dims * jnp.log(scale)
    return bits_per_dim(nll_levels, num_dims)


def _check_range(function: str, num_levels: int, low: float, high: float) -> None:
    """``num_levels >= 2`` levels on a data range ``[low, high]`` with ``high > low``."""
    _checks.require_integer_at_least(function, "num_levels", num_levels, 2)
    if not (_checks.is_traced(low, high) or np.all(np.asarray(high) > np.asarray(low))):
        raise _checks.error(function, "high", f"> low = {low}", repr(high))


def _truncation(function: str, num_levels: int, alpha, sigma, low: float, high: float):
    """Cell half-width ``h`` in model space and ``tau = alpha h / sigma``."""
    _check_range(function, num_levels, low, high)
    _checks.require_greater(function, "alpha", alpha, 0.0)
    _checks.require_greater(function, "sigma", sigma, 0.0)
    half_width = 0.5 * (high - low) / num_levels
    return half_width, alpha * half_width / sigma


def cell_centers(x: Array, *, num_levels: int, low: float = -1.0, high: float = 1.0,
                 dtype=jnp.float32, validate_args: bool = False) -> Array:
    """Maps integer levels ``k`` to the centers of their cells in ``[low, high]``.

    ``c_k = low + (high - low) (k + 1/2) / L``: the points a diffusion model is
    trained on when it sees the discrete data without dequantization noise (VDM,
    i-DODE). Exact; any shape.

    Args:
      x: integer data in ``{0, ..., num_levels - 1}``.
      num_levels: number of levels ``L``, an integer ``>= 2``.
      low: lower end of the data range in model space.
      high: upper end, ``> low``.
      dtype: floating dtype of the result.
      validate_args: also check that ``x`` holds integers in
        ``[0, num_levels)`` (with ``jax.experimental.checkify``).

    Returns:
      The centers, shaped like ``x``.

    Raises:
      ValueError: for ``num_levels < 2`` or ``high <= low``; with
        ``validate_args``, for data outside ``{0, ..., num_levels - 1}``.
    """
    _check_range("cell_centers", num_levels, low, high)
    _check_levels("cell_centers", x, num_levels, validate_args)
    x = jnp.asarray(x).astype(dtype)
    return low + (high - low) * (x + 0.5) / num_levels


def truncated_normal_dequantize(key: Array, x: Array, *, num_levels: int, alpha, sigma,
                                low: float = -1.0, high: float = 1.0,
                                dtype=jnp.float32,
                                validate_args: bool = False) -> tuple[Array, Array]:
    """Truncated-normal dequantization of one example (i-DODE, Zheng et al. 2023).

    ``z = alpha c_k + sigma eps`` with ``c_k`` the cell centers (:func:`cell_centers`),
    ``eps ~ N(0, I)`` truncated to ``[-tau, tau]^D``, ``tau = alpha h / sigma`` and
    ``h = (high - low) / (2 L)``, so ``z`` lies in the scaled cell of ``k``. Its
    log-density is ``log q(z | k) = sum_i [-eps_i^2 / 2 - log(sqrt(2 pi) Z)] - D log
    sigma`` with ``Z = erf(tau / sqrt 2)``. ``alpha`` and ``sigma`` are the diffusion's
    marginal coefficients at the first time ``t_0`` of the probability-flow ODE. See
    the module docstring for the bound this gives.

    Args:
      key: PRNG key.
      x: one example of integer levels in ``{0, ..., num_levels - 1}`` (any
        shape).
      num_levels: number of levels ``L``, an integer ``>= 2``.
      alpha: ``alpha(t_0) > 0``, a scalar.
      sigma: ``sigma(t_0) > 0``, a scalar.
      low: lower end of the data range in model space (before the factor ``alpha``).
      high: upper end, ``> low``.
      dtype: floating dtype.
      validate_args: also check that ``x`` holds integers in
        ``[0, num_levels)`` (with ``jax.experimental.checkify``).

    Returns:
      ``(z, log_q)``: the dequantized example (shaped like ``x``) and the scalar
      ``log q(z | k)`` (nats).

    Raises:
      ValueError: for ``num_levels < 2``, ``alpha <= 0``, ``sigma <= 0`` or
        ``high <= low`` (when given as numbers); with ``validate_args``, for
        data outside ``{0, ..., num_levels - 1}``.
    """
    function = "truncated_normal_dequantize"
    half_width, tau = _truncation(function, num_levels, alpha, sigma, low, high)
    _check_levels(function, x, num_levels, validate_args)
    x = jnp.asarray(x)
    tau = jnp.asarray(tau, dtype)
    eps = jax.random.truncated_normal(key, -tau, tau, x.shape, dtype)
    z = alpha * cell_centers(x, num_levels=num_levels, low=low, high=high, dtype=dtype) \
        + sigma * eps
    log_norm = jnp.log(special.erf(tau / math.sqrt(2.0)))
    log_q = (-0.5 * jnp.sum(eps * eps)
             - x.size * (0.5 * math.log(2.0 * math.pi) + log_norm + jnp.log(sigma)))
    return z, log_q


def truncated_normal_entropy(num_dims: int, *, num_levels: int, alpha, sigma,
                             low: float = -1.0, high: float = 1.0) -> Array:
    """``E_q[-log q(z | k)]`` of :func:`truncated_normal_dequantize`, in closed form.

    Per dimension, the entropy of ``sigma * TN(0, 1; [-tau, tau])`` is
    ``log(sqrt(2 pi e) sigma Z) - tau phi(tau) / Z`` with ``Z = erf(tau / sqrt 2)``
    and ``phi`` the standard normal density (``E[eps^2] = 1 - 2 tau phi(tau) / Z``).
    Using it in place of the sample ``-log q`` keeps the bound's expectation and
    removes that term's noise (as the i-DODE code does with one draw).

    Args:
      num_dims: dimensions ``D`` of one example, ``>= 1``.
      num_levels: number of levels ``L``, an integer ``>= 2``.
      alpha: ``alpha(t_0) > 0``.
      sigma: ``sigma(t_0) > 0``.
      low: lower end of the data range in model space.
      high: upper end, ``> low``.

    Returns:
      The entropy in nats (scalar).

    Raises:
      ValueError: for ``num_dims < 1``, ``num_levels < 2``, ``alpha <= 0``,
        ``sigma <= 0`` or ``high <= low`` (when given as numbers).
    """
    _checks.require_at_least("truncated_normal_entropy", "num_dims", num_dims, 1)
    _, tau = _truncation("truncated_normal_entropy", num_levels, alpha, sigma, low, high)
    tau = jnp.asarray(tau, jnp.result_type(float))
    z = special.erf(tau / math.sqrt(2.0))
    phi = jnp.exp(-0.5 * tau * tau) / math.sqrt(2.0 * math.pi)
    per_dim = (0.5 * math.log(2.0 * math.pi * math.e) + jnp.log(sigma) + jnp.log(z)
               - tau * phi / z)
    return num_dims * per_dim


def truncated_normal_bits_per_dim(log_prob, log_q, num_dims: int, *,
                                  axis: int | None = None) -> Array:
    """Bits/dim bound on discrete data from a truncated-normal dequantization.

    ``(log q(z | k) - log p(z)) / (D ln 2)`` with ``z`` from
    :func:`truncated_normal_dequantize`: in expectation over ``z`` an upper bound on
    ``-log2 P(k) / D`` for the discrete model ``P`` the density ``p`` defines on the
    scaled cells (module docstring). ``log_q`` may be the sample value or the
    negative of :func:`truncated_normal_entropy` (same expectation). With ``axis``,
    the ``K`` draws along that axis are combined into the importance-weighted bound
    ``-log (1/K) sum_j p(z_j) / q(z_j | k)`` (Burda et al. 2016; tighter as ``K``
    grows, equal to the mean bound at ``K = 1``); then ``log_q`` must be the sample
    value.

    Args:
      log_prob: ``log p(z)`` (nats) of the dequantized example(s).
      log_q: ``log q(z | k)``, broadcastable to ``log_prob``.
      num_dims: dimensions ``D`` of one example, ``>= 1``.
      axis: the axis of ``K`` independent draws to combine, or ``None``.

    Returns:
      Bits per dimension (shaped like ``log_prob`` without ``axis``).

    Raises:
      ValueError: for ``num_dims < 1``, shapes that do not broadcast, or an
        ``axis`` that the log-weights do not have.
    """
    function = "truncated_normal_bits_per_dim"
    _checks.require_at_least(function, "num_dims", num_dims, 1)
    shape = _checks.require_broadcast(function, log_prob=jnp.shape(log_prob),
                                      log_q=jnp.shape(log_q))
    if axis is not None and not -len(shape) <= axis < len(shape):
        raise _checks.error(function, "axis", f"an axis of the log-weights' shape {shape}",
                            repr(axis))
    log_w = jnp.asarray(log_prob) - jnp.asarray(log_q)
    if axis is not None:
        k = log_w.shape[axis]
        log_w = jax.nn.logsumexp(log_w, axis=axis) - math.log(k)
    return bits_per_dim(-log_w, num_dims)
