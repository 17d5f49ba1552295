"""The flows' adapter to the density contract (:mod:`likelihood_jax.density`).

:class:`FlowDensity` wraps a :class:`~likelihood_jax.flows.Flow` so that it is a
``TrainableDensity``: a batch ``log_prob``, ``sample``, ``exact = True`` (the change of
variables is exact), and its objectives ``"ml"`` (the NLL) and ``"score_matching"``
(EBFlow's sliced score matching on the flow's energy, Chao et al. 2023 [P001], through
:func:`~likelihood_jax.flows.ebflow.flow_score_matching_loss`: no ``slogdet`` in training).

Data space: continuous data as given; discrete data (``num_levels`` set) in ``[0, 1)^D``,
mapped by RealNVP's logit ``v = logit(alpha + (1 - 2 alpha) y)`` (:class:`~likelihood_jax.
flows.Logit`) whose log-det is added, so ``log_prob`` is a density on ``[0, 1)^D``:
``log p(y) = log p_flow(v) + log|dv/dy|``. Score matching acts on ``v``.

:func:`flow_density` builds the four bodies by name (:data:`FLOW_KINDS`): ``"realnvp"``
(Dinh et al. 2017), ``"spline"`` (rational-quadratic spline couplings, Durkan et al. 2019),
``"maf"`` (masked autoregressive, Papamakarios et al. 2017), ``"glow"`` (the multi-scale
image flow of Kingma & Dhariwal 2018).
"""

from __future__ import annotations

import dataclasses
import functools
import math

import jax
import jax.numpy as jnp

from likelihood_jax.flows import ebflow
from likelihood_jax.flows.autoregressive import masked_autoregressive_flow
from likelihood_jax.flows.elementwise import Logit
from likelihood_jax.flows.flow import Flow, realnvp
from likelihood_jax.flows.glow import multiscale_glow
from likelihood_jax.flows.splines import spline_coupling_flow

FLOW_KINDS = ("realnvp", "spline", "maf", "glow")


@dataclasses.dataclass(frozen=True)
class FlowDensity:
    """A normalizing flow under the density contract.

    Attributes:
      flow: the flow on the model space (its ``event_shape`` holds ``prod(event_shape)``
        entries: flat, or the image itself for Glow).
      event_shape: shape of one data example.
      num_levels: levels of discrete data (data in ``[0, 1)``, logit map), or None.
      logit_alpha: the logit's boundary margin.
    """

    flow: Flow
    event_shape: tuple[int, ...]
    num_levels: int | None = None
    logit_alpha: float = 0.05
    exact = True
    objectives = ("ml", "score_matching")

    def __post_init__(self):
        object.__setattr__(self, "event_shape", tuple(int(d) for d in self.event_shape))
        if math.prod(self.flow.event_shape) != math.prod(self.event_shape):
            raise ValueError(f"flow.event_shape {self.flow.event_shape} does not hold an "
                             f"example of event_shape {self.event_shape}")

    @property
    def logit(self) -> Logit:
        """RealNVP's logit map of discrete data."""
        return Logit(self.logit_alpha)

    def to_model_space(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        """``(v, log|dv/dx|)`` of a batch: the logit of discrete data, else identity."""
        x = jnp.asarray(x, jnp.float32)
        v = x.reshape((x.shape[0],) + self.flow.event_shape)
        if self.num_levels is None:
            return v, jnp.zeros(x.shape[:1], v.dtype)
        return jax.vmap(self.logit.forward_and_log_det, in_axes=(None, 0))({}, v)

    def init(self, key, x):
        """The flow's (data-dependent) initialization on the model-space batch."""
        return self.flow.init(key, self.to_model_space(x)[0])

    def log_prob(self, params, x, key=None):
        """Exact ``log p(x)`` of a batch (``key`` unused)."""
        del key
        v, log_det = self.to_model_space(x)
        return jax.vmap(self.flow.log_prob, in_axes=(None, 0))(params, v) + log_det

    def sample(self, params, key, num):
        """``num`` samples by the flow's inverse (and the logit's, for discrete data)."""
        v = self.flow.sample(params, key, num)
        if self.num_levels is not None:
            v = jax.vmap(self.logit.inverse, in_axes=(None, 0))({}, v)
        return v.reshape((num,) + self.event_shape)

    def loss(self, params, x, key, objective):
        """``"ml"``: ``-log p(x)``; ``"score_matching"``: EBFlow's SSM on the energy of ``v``."""
        if objective == "ml":
            return -self.log_prob(params, x)
        if objective != "score_matching":
            raise ValueError(f"FlowDensity objective must be one of {self.objectives}, got "
                             f"{objective!r}")
        v, _ = self.to_model_space(x)
        energy = functools.partial(self.flow.energy, params)
        keys = jax.random.split(key, v.shape[0])
        return jax.vmap(lambda vi, ki: ebflow.flow_score_matching_loss(
            "ssm", energy, vi, ki))(v, keys)


def flow_density(kind: str, event_shape: tuple[int, ...], *, num_levels: int | None = None,
                 logit_alpha: float = 0.05, num_layers: int = 4,
                 hidden_dims: tuple[int, ...] = (64, 64), num_bins: int = 8,
                 bound: float = 3.0, transform: str = "affine", num_scales: int = 2,
                 ) -> FlowDensity:
    """A :class:`FlowDensity` with the body named by ``kind`` (:data:`FLOW_KINDS`).

    Args:
      kind: ``"realnvp"``, ``"spline"``, ``"maf"`` or ``"glow"``.
      event_shape: one example's shape (``(H, W, C)`` for Glow).
      num_levels: levels of discrete data in ``[0, 1)`` (None: continuous data).
      logit_alpha: the logit's margin for discrete data.
      num_layers: coupling / autoregressive layers (Glow: steps per scale).
      hidden_dims: conditioner widths (Glow: the first is its width).
      num_bins: spline bins (``"spline"``, ``"maf"`` with ``transform="spline"``).
      bound: spline interval ``[-B, B]``.
      transform: the MAF's ``"affine"`` or ``"spline"``.
      num_scales: Glow's levels (squeeze + steps, then half the channels out).

    Raises:
      ValueError: an unknown ``kind``, or Glow on a non-image ``event_shape``.
    """
    event_shape = tuple(int(d) for d in event_shape)
    num_dims = math.prod(event_shape)
    hidden_dims = tuple(int(h) for h in hidden_dims)
    if kind == "realnvp":
        body = realnvp(num_dims, num_layers=num_layers, hidden_dims=hidden_dims)
    elif kind == "spline":
        body = spline_coupling_flow(num_dims, num_layers=num_layers, hidden_dims=hidden_dims,
                                    num_bins=num_bins, bound=bound)
    elif kind == "maf":
        body = masked_autoregressive_flow(num_dims, num_layers=num_layers,
                                          hidden_dims=hidden_dims, transform=transform,
                                          num_bins=num_bins, bound=bound)
    elif kind == "glow":
        if len(event_shape) != 3:
            raise ValueError(f"kind 'glow' needs an image event_shape (H, W, C), got "
                             f"{event_shape}")
        body = multiscale_glow(event_shape, num_levels=num_scales, num_steps=num_layers,
                               hidden=hidden_dims[0])
        return FlowDensity(Flow(body, event_shape), event_shape, num_levels, logit_alpha)
    else:
        raise ValueError(f"kind must be one of {FLOW_KINDS}, got {kind!r}")
    return FlowDensity(Flow(body, (num_dims,)), event_shape, num_levels, logit_alpha)
