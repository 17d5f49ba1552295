r"""The density contract: one small interface for every model that assigns a likelihood.

A *density model* is any object with these members (a :class:`typing.Protocol`: nothing to
inherit; each family writes an adapter around its own model, e.g.
:mod:`likelihood_jax.flows.density`, :mod:`likelihood_jax.continuous_time.density`,
:mod:`likelihood_jax.sequence.density`):

* ``event_shape``: the shape of one example;
* ``exact``: True when ``log_prob`` is the model's exact log-density (a normalizing flow, an
  autoregressive model, a CNF or diffusion ODE with the exact divergence, up to the solver's
  error); False when it is a bound or a stochastic estimate of it (a diffusion ELBO, a
  Hutchinson trace estimate);
* ``init(key, x) -> params`` from a batch ``x`` of shape ``(B,) + event_shape``;
* ``log_prob(params, x, key=None) -> (B,)``: log-densities (nats) of a batch; a model whose
  value is an estimate draws its randomness from ``key`` (a fixed key when None), the others
  ignore it;
* ``sample(params, key, num) -> (num,) + event_shape``.

**Data space.** Continuous data (the 2D toys) are given as they are. Discrete data with ``L``
levels ``k in {0, ..., L-1}^D`` are given to a density model as points of the unit cube
``[0, 1)^D``, and the model's ``log_prob`` is a density there: the adapters carry their own
maps (RealNVP's logit, ``2 y - 1`` for a CNF) with their log-determinants. A discrete model
(an autoregressive model over pixel values) is the piecewise-constant density
``p(y) = P(floor(L y)) L^D``, which is exact under uniform dequantization.

**Bits/dim of discrete data** (:func:`bits_per_dim`), through the one convention of
:mod:`likelihood_jax.metrics`:

* ``"uniform"`` (Uria et al. 2013; Theis et al. 2016): ``y = (k + u) / L``,
  ``u ~ U[0, 1)^D``; ``(-log p(y) + D log L) / (D ln 2)``
  (:func:`~likelihood_jax.metrics.dequantized_bits_per_dim` with ``scale = 1/L``), in
  expectation an upper bound on ``-log2 P(k) / D`` for ``P(k) = integral_cell p``;
* ``"truncated_normal"`` (Zheng et al. 2023, i-DODE): ``y = c_k + sigma eps``,
  ``eps ~ TN(0, I; [-tau, tau])`` inside the cell of ``k`` (``c_k`` its center,
  ``tau = 1 / (2 L sigma)``), bound ``E_q[log q(y | k) - log p(y)] / (D ln 2)``
  (:func:`~likelihood_jax.metrics.truncated_normal_bits_per_dim`).

Both are bounds on the discrete NLL of the model ``P(k) = integral_{cell k} p(y) dy``; they
are tight for a density that is constant on each cell. With ``exact=False`` the bits/dim is
a bound (or an estimate) of a bound: tables mark it (:func:`likelihood_kind`).

Example::

    from likelihood_jax import density
    from likelihood_jax.flows.density import flow_density
    model = flow_density("realnvp", (8, 8, 1), num_levels=17)
    assert isinstance(model, density.DensityModel)
    params = model.init(key, y_batch)          # y_batch in [0, 1)
    bpd = density.bits_per_dim(model, params, key, k_batch, num_levels=17)  # (B,)
"""

from __future__ import annotations

import math
from typing import Any, Protocol, runtime_checkable

import jax
import jax.numpy as jnp

from likelihood_jax import _checks, metrics

Array = jax.Array

DEQUANTIZATIONS = ("uniform", "truncated_normal")


@runtime_checkable
class DensityModel(Protocol):
    """A model with a log-density of a batch, samples, and whether the log-density is exact.

    See the module docstring for the data space and the meaning of ``exact``.
    """

    event_shape: tuple[int, ...]
    exact: bool

    def init(self, key: Array, x: Array) -> Any:
        """Parameters, from a data batch ``(B,) + event_shape``."""

    def log_prob(self, params: Any, x: Array, key: Array | None = None) -> Array:
        """Log-densities (nats) of a batch ``(B,) + event_shape -> (B,)``."""

    def sample(self, params: Any, key: Array, num: int) -> Array:
        """``num`` samples ``(num,) + event_shape``."""


@runtime_checkable
class TrainableDensity(DensityModel, Protocol):
    """A density model that also names its training objectives (the zoo trains these).

    ``objectives``: the names it accepts, the first being its default (``"ml"``: maximum
    likelihood, ``"score_matching"``, ``"flow_matching"``); ``loss(params, x, key,
    objective) -> (B,)`` the per-example loss of a batch in the model's data space.
    """

    objectives: tuple[str, ...]

    def loss(self, params: Any, x: Array, key: Array, objective: str) -> Array:
        """Per-example training loss ``(B,)`` of ``objective``."""


def likelihood_kind(model: DensityModel) -> str:
    """``"exact"`` or ``"bound"`` (a bound or a stochastic estimate), for tables."""
    return "exact" if model.exact else "bound"


def resolve_objective(model: TrainableDensity, objective: str | None) -> str:
    """``objective`` checked against ``model.objectives`` (None or ``"auto"``: the first).

    Raises:
      ValueError: an objective the model does not train with, naming the allowed ones.
    """
    if objective in (None, "", "auto"):
        return model.objectives[0]
    if objective not in model.objectives:
        raise ValueError(f"objective {objective!r} is not one of {type(model).__name__}'s "
                         f"objectives {model.objectives}")
    return objective


def num_parameters(params: Any) -> int:
    """Number of scalar parameters of a pytree (floating leaves only)."""
    return int(sum(leaf.size for leaf in jax.tree.leaves(params)
                   if jnp.issubdtype(jnp.asarray(leaf).dtype, jnp.floating)))


def cell_levels(y: Array, num_levels: int) -> Array:
    """The level ``k = floor(L y)`` of points ``y in [0, 1)`` (int32, clipped to ``0..L-1``).

    The cell a uniformly dequantized point came from (``y = (k + u) / L``); same shape as
    ``y``. A discrete model reads its data through this map (module docstring).
    """
    k = jnp.floor(jnp.asarray(y) * num_levels).astype(jnp.int32)
    return jnp.clip(k, 0, num_levels - 1)


def piecewise_constant_log_prob(discrete_log_prob: Array, num_dims: int, num_levels: int
                                ) -> Array:
    """``log p(y) = log P(floor(L y)) + D log L``: a discrete model as a density on ``[0, 1)^D``.

    Constant on each cell of volume ``L^-D``, so it integrates to ``sum_k P(k) = 1`` and
    the uniformly dequantized bits/dim of it is exactly ``-log2 P(k) / D`` (no Jensen gap).
    """
    return discrete_log_prob + num_dims * math.log(num_levels)


def _check_batch(model: DensityModel, x) -> None:
    shape = tuple(jnp.shape(x))
    if shape[1:] != tuple(model.event_shape):
        raise ValueError(f"x must be a batch (B,) + {tuple(model.event_shape)} for "
                         f"{type(model).__name__}, got shape {shape}")


def bits_per_dim(model: DensityModel, params: Any, key: Array, k: Array, *, num_levels: int,
                 dequantization: str = "uniform", sigma: float | None = None) -> Array:
    """Bits/dim of discrete data ``k`` under a density model on ``[0, 1)^D``, per example.

    ``"uniform"``: ``y = (k + u) / L`` and ``(-log p(y) + D log L) / (D ln 2)``;
    ``"truncated_normal"``: ``y = c_k + sigma eps`` (``eps`` truncated to the cell) and
    ``(log q(y | k) - log p(y)) / (D ln 2)``. Each is, in expectation, an upper bound on
    the discrete bits/dim ``-log2 P(k) / D`` (module docstring); one draw per example.

    Args:
      model: a :class:`DensityModel` whose data space is ``[0, 1)^D``.
      params: its parameters.
      key: PRNG key of the dequantization (and of the model's own estimate).
      k: integer levels, a batch ``(B,) + model.event_shape``.
      num_levels: ``L``, an integer ``>= 2``.
      dequantization: ``"uniform"`` or ``"truncated_normal"``.
      sigma: the truncated normal's scale in ``[0, 1)`` units (default: a quarter of a
        cell, ``1 / (4 L)``, so ``tau = 2``).

    Returns:
      Bits per dimension, shape ``(B,)``.

    Raises:
      ValueError: an unknown ``dequantization``, ``num_levels < 2``, ``sigma <= 0``, or
        ``k`` not a batch of the model's event shape.
    """
    function = "density.bits_per_dim"
    _checks.require_option(function, "dequantization", dequantization, DEQUANTIZATIONS)
    _checks.require_integer_at_least(function, "num_levels", num_levels, 2)
    _check_batch(model, k)
    num_dims = math.prod(model.event_shape)
    deq_key, model_key = jax.random.split(key)
    if dequantization == "uniform":
        y = metrics.uniform_dequantize(deq_key, k, num_levels=num_levels)
        return metrics.dequantized_bits_per_dim(model.log_prob(params, y, model_key), num_dims,
                                                num_levels=num_levels)
    sigma = 0.25 / num_levels if sigma is None else sigma
    _checks.require_greater(function, "sigma", sigma, 0.0)
    keys = jax.random.split(deq_key, k.shape[0])
    y, log_q = jax.vmap(lambda kk, ki: metrics.truncated_normal_dequantize(
        kk, ki, num_levels=num_levels, alpha=1.0, sigma=sigma, low=0.0, high=1.0))(keys, k)
    y = jnp.clip(y, 0.0, jnp.nextafter(jnp.ones((), y.dtype), 0.0))  # rounding at 1
    return metrics.truncated_normal_bits_per_dim(model.log_prob(params, y, model_key), log_q,
                                                 num_dims)
