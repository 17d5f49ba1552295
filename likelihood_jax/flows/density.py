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

:func:`flow_density` builds the five bodies by name (:data:`FLOW_KINDS`): ``"realnvp"``
(Dinh et al. 2017), ``"spline"`` (rational-quadratic spline couplings, Durkan et al. 2019),
``"maf"`` (masked autoregressive, Papamakarios et al. 2017), ``"glow"`` (the multi-scale
image flow of Kingma & Dhariwal 2018), ``"tarflow"`` (the transformer autoregressive flow
over patches, [P008]; images only).

Two autoregressive models of the family have their own adapters:

* :class:`PixelCNNDensity`: PixelCNN++ [P070], a *discrete* model ``P(k)`` of the levels;
  under the contract the piecewise-constant density ``P(floor(L y)) L^D`` on ``[0, 1)^D``
  (:func:`likelihood_jax.density.piecewise_constant_log_prob`), exact, so its uniformly
  dequantized bits/dim is its exact discrete bits/dim; objective ``"ml"`` (dropout on).
* :class:`TraDEDensity`: TraDE [P027], a continuous autoregressive density (a Gaussian
  mixture per column from a causal transformer), exact; objectives ``"ml"`` and
  ``"penalized_ml"`` (the paper's NLL + ``mmd_weight`` MMD^2, :func:`~likelihood_jax.flows.
  trade.penalized_nll`). Discrete data go through the same logit map as the flows.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import jax
import jax.numpy as jnp

from likelihood_jax import density
from likelihood_jax.flows import ebflow
from likelihood_jax.flows.autoregressive import masked_autoregressive_flow
from likelihood_jax.flows.elementwise import Logit
from likelihood_jax.flows.flow import Flow, realnvp
from likelihood_jax.flows.glow import multiscale_glow
from likelihood_jax.flows.pixelcnn import DiscretizedPixelCNN
from likelihood_jax.flows.splines import spline_coupling_flow
from likelihood_jax.flows.tarflow import transformer_autoregressive_flow
from likelihood_jax.flows.trade import TraDE, penalized_nll
from likelihood_jax.models.pixelcnn import PixelCNNPP

FLOW_KINDS = ("realnvp", "spline", "maf", "glow", "tarflow")
IMAGE_KINDS = ("glow", "tarflow")


def logit_model_space(x: jax.Array, model_shape: tuple[int, ...], num_levels: int | None,
                      alpha: float) -> tuple[jax.Array, jax.Array]:
    """``(v, log|dv/dx|)`` of a batch reshaped to ``(B,) + model_shape``.

    Discrete data (``num_levels`` set) in ``[0, 1)``: RealNVP's logit
    ``v = logit(alpha + (1 - 2 alpha) x)`` per entry with its log-det; continuous data: the
    identity (log-det 0).
    """
    x = jnp.asarray(x, jnp.float32)
    v = x.reshape((x.shape[0],) + tuple(model_shape))
    if num_levels is None:
        return v, jnp.zeros(x.shape[:1], v.dtype)
    return jax.vmap(Logit(alpha).forward_and_log_det, in_axes=(None, 0))({}, v)


def logit_data_space(v: jax.Array, event_shape: tuple[int, ...], num_levels: int | None,
                     alpha: float) -> jax.Array:
    """The inverse of :func:`logit_model_space` on a batch, reshaped to ``event_shape``."""
    if num_levels is not None:
        v = jax.vmap(Logit(alpha).inverse, in_axes=(None, 0))({}, v)
    return v.reshape((v.shape[0],) + tuple(event_shape))


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
        return logit_model_space(x, self.flow.event_shape, self.num_levels, self.logit_alpha)

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
        return logit_data_space(self.flow.sample(params, key, num), self.event_shape,
                                self.num_levels, self.logit_alpha)

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
                 patch_size: int = 2, width: int = 64, transformer_layers: int = 2,
                 num_heads: int = 4) -> FlowDensity:
    """A :class:`FlowDensity` with the body named by ``kind`` (:data:`FLOW_KINDS`).

    Args:
      kind: ``"realnvp"``, ``"spline"``, ``"maf"``, ``"glow"`` or ``"tarflow"``.
      event_shape: one example's shape (``(H, W, C)`` for Glow and TarFlow).
      num_levels: levels of discrete data in ``[0, 1)`` (None: continuous data).
      logit_alpha: the logit's margin for discrete data.
      num_layers: coupling / autoregressive layers (Glow: steps per scale; TarFlow:
        blocks of alternating order).
      hidden_dims: conditioner widths (Glow: the first is its width).
      num_bins: spline bins (``"spline"``, ``"maf"`` with ``transform="spline"``).
      bound: spline interval ``[-B, B]``.
      transform: the MAF's ``"affine"`` or ``"spline"``.
      num_scales: Glow's levels (squeeze + steps, then half the channels out).
      patch_size: TarFlow's square patch side (dividing ``H`` and ``W``).
      width: TarFlow's transformer width.
      transformer_layers: layers of each TarFlow block's transformer.
      num_heads: attention heads of TarFlow's transformers.

    Raises:
      ValueError: an unknown ``kind``, or Glow / TarFlow on a non-image ``event_shape``.
    """
    event_shape = tuple(int(d) for d in event_shape)
    num_dims = math.prod(event_shape)
    hidden_dims = tuple(int(h) for h in hidden_dims)
    if kind in IMAGE_KINDS and len(event_shape) != 3:
        raise ValueError(f"kind {kind!r} needs an image event_shape (H, W, C), got "
                         f"{event_shape}")
    if kind == "realnvp":
        body = realnvp(num_dims, num_layers=num_layers, hidden_dims=hidden_dims)
    elif kind == "spline":
        body = spline_coupling_flow(num_dims, num_layers=num_layers, hidden_dims=hidden_dims,
                                    num_bins=num_bins, bound=bound)
    elif kind == "maf":
        body = masked_autoregressive_flow(num_dims, num_layers=num_layers,
                                          hidden_dims=hidden_dims, transform=transform,
                                          num_bins=num_bins, bound=bound)
    elif kind == "tarflow":
        body = transformer_autoregressive_flow(
            event_shape, patch_size=patch_size, num_blocks=num_layers, width=width,
            num_layers=transformer_layers, num_heads=num_heads)
    elif kind == "glow":
        body = multiscale_glow(event_shape, num_levels=num_scales, num_steps=num_layers,
                               hidden=hidden_dims[0])
        return FlowDensity(Flow(body, event_shape), event_shape, num_levels, logit_alpha)
    else:
        raise ValueError(f"kind must be one of {FLOW_KINDS}, got {kind!r}")
    return FlowDensity(Flow(body, (num_dims,)), event_shape, num_levels, logit_alpha)


def _require_objective(model, objective: str) -> None:
    if objective not in model.objectives:
        raise ValueError(f"{type(model).__name__} objective must be one of "
                         f"{model.objectives}, got {objective!r}")


@dataclasses.dataclass(frozen=True)
class PixelCNNDensity:
    """PixelCNN++ [P070] under the density contract: ``P(floor(L y)) L^D`` on ``[0, 1)^D``.

    The network's discrete likelihood ``P(k)`` (:class:`~likelihood_jax.flows.pixelcnn.
    DiscretizedPixelCNN`) read through the cell map ``k = floor(L y)``
    (:func:`likelihood_jax.density.cell_levels`); ``exact = True`` and the uniformly
    dequantized bits/dim equals ``-log2 P(k) / D``. Samples are the cell centers
    ``(k + 1/2) / L`` of levels drawn pixel by pixel.

    Attributes:
      model: the :class:`DiscretizedPixelCNN` (its ``image_shape`` and ``num_levels``).
    """

    model: DiscretizedPixelCNN
    exact = True
    objectives = ("ml",)

    @property
    def event_shape(self) -> tuple[int, ...]:
        """``(H, W, C)``."""
        return self.model.image_shape

    @property
    def num_levels(self) -> int:
        """``L``."""
        return self.model.num_levels

    def levels(self, y: jax.Array) -> jax.Array:
        """Levels ``floor(L y)`` of a batch in ``[0, 1)``, as the network's float input."""
        return density.cell_levels(y, self.num_levels).astype(jnp.float32)

    def init(self, key, x):
        """The network's parameters (from the shape of ``x`` only)."""
        return self.model.init(key, self.levels(x))

    def log_prob(self, params, x, key=None):
        """``log P(floor(L y)) + D log L`` (dropout off; ``key`` unused)."""
        del key
        return density.piecewise_constant_log_prob(
            self.model.log_prob(params, self.levels(x)), self.model.num_dims, self.num_levels)

    def sample(self, params, key, num):
        """Cell centers of ``num`` images drawn pixel by pixel."""
        k = self.model.sample(params, key, num)
        return (k + 0.5) / self.num_levels

    def loss(self, params, x, key, objective):
        """``"ml"``: ``-log P(k)`` in nats per image, with the network's dropout on."""
        _require_objective(self, objective)
        train = self.model.network.dropout > 0
        return -self.model.log_prob(params, self.levels(x), train=train, key=key)


def pixelcnn_density(image_shape: tuple[int, int, int], num_levels: int, *,
                     num_filters: int = 32, num_resnet: int = 1, num_scales: int = 2,
                     num_mixtures: int = 5, dropout: float = 0.0) -> PixelCNNDensity:
    """A :class:`PixelCNNDensity` over ``num_levels`` levels with a :class:`PixelCNNPP`.

    Raises:
      ValueError: ``num_levels < 2`` (None: continuous data) or a non-image shape.
    """
    if num_levels is None or num_levels < 2:
        raise ValueError(f"pixelcnn_density needs discrete data with num_levels >= 2, got "
                         f"{num_levels}")
    network = PixelCNNPP(num_filters=num_filters, num_resnet=num_resnet,
                         num_scales=num_scales, num_mixtures=num_mixtures, dropout=dropout)
    return PixelCNNDensity(DiscretizedPixelCNN(network, tuple(image_shape), num_levels))


@dataclasses.dataclass(frozen=True)
class TraDEDensity:
    """TraDE [P027] under the density contract: an exact autoregressive density.

    Continuous data as given (flat columns); discrete data in ``[0, 1)`` through the
    flows' logit map (:func:`logit_model_space`) with its log-det.

    Attributes:
      model: the :class:`~likelihood_jax.flows.trade.TraDE` over ``prod(event_shape)``
        continuous columns.
      event_shape: shape of one example.
      num_levels: levels of discrete data, or None.
      logit_alpha: the logit's margin.
      mmd_weight: ``lambda`` of ``"penalized_ml"``.
      mmd_samples: model draws of the MMD term per step.
    """

    model: TraDE
    event_shape: tuple[int, ...]
    num_levels: int | None = None
    logit_alpha: float = 0.05
    mmd_weight: float = 0.1
    mmd_samples: int = 64
    exact = True
    objectives = ("ml", "penalized_ml")

    def __post_init__(self):
        object.__setattr__(self, "event_shape", tuple(int(d) for d in self.event_shape))
        if self.model.num_dims != math.prod(self.event_shape) or any(self.model.categories):
            raise ValueError(f"model must have {math.prod(self.event_shape)} continuous "
                             f"columns for event_shape {self.event_shape}, got categories "
                             f"{self.model.categories}")

    def to_model_space(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        """``(v (B, D), log|dv/dx|)``: the logit of discrete data, else the flat data."""
        return logit_model_space(x, (self.model.num_dims,), self.num_levels,
                                 self.logit_alpha)

    def init(self, key, x):
        """The transformer's parameters."""
        return self.model.init(key, self.to_model_space(x)[0])

    def log_prob(self, params, x, key=None):
        """Exact ``log p(x)``: the sum of the columns' conditionals (``key`` unused)."""
        del key
        v, log_det = self.to_model_space(x)
        return self.model.log_prob(params, v) + log_det

    def sample(self, params, key, num):
        """``num`` ancestral draws, column by column."""
        return logit_data_space(self.model.sample(params, key, num), self.event_shape,
                                self.num_levels, self.logit_alpha)

    def loss(self, params, x, key, objective):
        """``"ml"``: ``-log p(v)``; ``"penalized_ml"``: plus ``mmd_weight MMD^2`` (model space)."""
        _require_objective(self, objective)
        v, _ = self.to_model_space(x)
        weight = self.mmd_weight if objective == "penalized_ml" else 0.0
        return penalized_nll(self.model, params, v, key, mmd_weight=weight,
                             num_samples=self.mmd_samples)[0]


def trade_density(event_shape: tuple[int, ...], *, num_levels: int | None = None,
                  logit_alpha: float = 0.05, num_components: int = 8, num_layers: int = 2,
                  width: int = 64, num_heads: int = 4, mmd_weight: float = 0.1
                  ) -> TraDEDensity:
    """A :class:`TraDEDensity` over the ``prod(event_shape)`` entries as continuous columns."""
    event_shape = tuple(int(d) for d in event_shape)
    model = TraDE((0,) * math.prod(event_shape), num_components=num_components,
                  num_layers=num_layers, width=width, num_heads=num_heads)
    return TraDEDensity(model, event_shape, num_levels, logit_alpha, mmd_weight)
