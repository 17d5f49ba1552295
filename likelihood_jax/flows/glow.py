"""Glow's layers and its multi-scale image flow (Kingma & Dhariwal 2018).

Direction: ``forward`` maps data x -> latent z, ``inverse`` maps z -> x (see ``flows.base``).
Events are channels-last images ``(H, W, C)``; the layers acting on channels also accept any
event whose last axis is the channel axis.

Kingma & Dhariwal 2018, "Glow: Generative Flow with Invertible 1x1 Convolutions", Sec. 3.
One **step of flow** is ActNorm (:class:`~likelihood_jax.flows.ActNorm`), an invertible 1x1
convolution and an affine coupling over channels; a **level** is a squeeze then ``K`` steps;
after every level but the last, half the channels are factored out.

**Invertible 1x1 convolution** (:class:`InvertibleConv1x1`, Sec. 3.2). The same ``C x C``
matrix ``W`` mixes the channels at each of the ``H W`` positions, ``z_ij = W x_ij``, so
``log|det dz/dx| = H W log|det W|``, constant in x (``log_det_depends_on_x = False``, which
EBFlow (Chao et al. 2023) uses to skip it in training):

* unconstrained (``lu=False``): ``W`` itself is the parameter, log-det ``H W slogdet(W)``
  (O(C^3)); this is :class:`~likelihood_jax.flows.Dense`, with a bias;
* LU-parameterized (``lu=True``, Glow's Eq. 10): ``W = P L (U + diag(s))`` with ``P`` a fixed
  permutation, ``L`` unit lower triangular, ``U`` strictly upper triangular and
  ``s = exp(log_s)``, so ``log|det W| = sum(log|s|)`` costs O(C) and the inverse is two
  triangular solves (O(C^2) per position). As in Glow the sign of ``s`` is fixed (here to +1,
  absorbed into the initialization) and only ``L``, ``U`` and ``log_s`` are learned.
  Initialization: a random rotation ``Q``, factored ``Q = P_0 L U`` (partial pivoting), then
  ``W = P P_0^T Q S`` with ``S = diag(sign(diag U))``, again orthogonal (log-det 0 at init).

**Affine coupling over channels** (:class:`ChannelCoupling`, Sec. 3.3). The channels split
into ``x_a = x[..., :C_a]`` (``C_a = C // 2``), passed through, and ``x_b``::

    (t, r) = NN(x_a),   s = sigmoid(r + 2),   z_b = (x_b + t) * s,   z_a = x_a,
    log|det dz/dx| = sum log s,            x_b = z_b / s - t   (the inverse).

``NN`` is Glow's conv net (3x3 conv, ReLU, 1x1 conv, ReLU, zero-initialized 3x3 conv) or a
residual MLP on the flattened ``x_a`` (``conditioner="dense"``). The log-det depends on x.

**Squeeze** (:class:`Squeeze`, RealNVP's and Glow's space-to-depth): ``(H, W, C) ->
(H/2, W/2, 4C)`` with ``out[i, j, 4c + 2a + b] = x[2i + a, 2j + b, c]``; a permutation of the
coordinates, log-det 0.

**Multi-scale architecture** (:class:`MultiScale`, RealNVP Sec. 3.6, Glow Fig. 2). Levels
``f_1, ..., f_L`` are applied in turn; after each level but the last, the second half of the
channels ``z_l`` leaves the flow and the first half continues. The latent is the
concatenation of the flattened ``z_1, ..., z_{L-1}`` and of the last level's output, so with
a standard-normal base (:class:`~likelihood_jax.flows.Flow`)::

    log p(x) = sum_{l<L} log N(z_l; 0, I) + log N(h_L; 0, I) + sum_l log|det df_l/dh_{l-1}|,

i.e. the factored-out latents' standard-normal log-densities enter ``log p(x)``. (Glow
models ``z_l`` with a Gaussian whose mean and scale come from the kept half; that is one
more affine bijection before the split and is left out here.) :func:`multiscale_glow` builds
the image flow.
"""

from __future__ import annotations

import dataclasses
import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from likelihood_jax.flows.base import Bijector, Context, Params
from likelihood_jax.flows.chain import Chain, batched_forward
from likelihood_jax.flows.elementwise import ActNorm
from likelihood_jax.flows.linear import Dense
from likelihood_jax.models.mlp import ResidualMLP

_SCALE_OFFSET = 2.0  # Glow's s = sigmoid(r + 2): scale 0.88 at r = 0


def _positions(x: jax.Array) -> int:
    """Number of positions sharing the channel map (all axes but the last)."""
    return math.prod(x.shape[:-1])


def _lu_factors(params: Params) -> tuple[jax.Array, jax.Array]:
    """``(L, U + diag(exp(log_s)))`` from the stored triangles."""
    lower = params["lower"]
    unit_lower = jnp.tril(lower, -1) + jnp.eye(lower.shape[0], dtype=lower.dtype)
    return unit_lower, jnp.triu(params["upper"], 1) + jnp.diag(jnp.exp(params["log_s"]))


def lu_weight(params: Params, perm: tuple[int, ...] | None = None) -> jax.Array:
    """The matrix ``W = P L (U + diag(exp(log_s)))`` of an LU-parameterized 1x1 convolution.

    Args:
        params: ``{"lower", "upper", "log_s"}``; only the strictly lower (upper) triangle of
            ``lower`` (``upper``) is used.
        perm: ``P`` as a permutation, ``(P v)_i = v_{perm_i}`` (None: identity).

    Returns:
        ``W`` of shape ``(C, C)``.
    """
    lower, upper = _lu_factors(params)
    w = lower @ upper
    return w if perm is None else w[np.asarray(perm)]


@dataclasses.dataclass(frozen=True)
class InvertibleConv1x1(Bijector):
    """Glow's invertible 1x1 convolution ``z_ij = W x_ij``; log-det ``H W log|det W|``.

    See the module docstring for both parameterizations. Acts on the last axis of any event.

    Attributes:
        lu: True for ``W = P L (U + diag(s))`` (log-det O(C)), False for an unconstrained
            ``W`` with a bias (:class:`~likelihood_jax.flows.Dense`, log-det by ``slogdet``).
        perm: the fixed permutation ``P`` of the LU form, a permutation of ``range(C)``
            (None: identity; the random rotation at init already mixes the channels).
    """

    lu: bool = True
    perm: tuple[int, ...] | None = None
    log_det_depends_on_x = False

    def __post_init__(self):
        if self.perm is None:
            return
        if not self.lu:
            raise ValueError("InvertibleConv1x1: perm applies to the LU form (lu=True) only.")
        perm = tuple(int(i) for i in self.perm)
        if sorted(perm) != list(range(len(perm))):
            raise ValueError(f"InvertibleConv1x1: perm must permute range(C), got {perm}.")
        object.__setattr__(self, "perm", perm)

    def init(self, key: jax.Array, x: jax.Array, context: Context = None) -> Params:
        """A random rotation (log-det 0), in the chosen parameterization.

        Args:
            key: a ``jax.random.key``.
            x: a batch ``(B,) + event_shape``; ``C = x.shape[-1]``.
            context: ignored.

        Returns:
            ``{"lower", "upper", "log_s"}`` (LU) or ``{"w", "b"}`` (unconstrained).
        """
        if not self.lu:
            return Dense().init(key, x)
        channels = x.shape[-1]
        if self.perm is not None and len(self.perm) != channels:
            raise ValueError(f"InvertibleConv1x1: perm has {len(self.perm)} entries for "
                             f"{channels} channels.")
        q = jax.nn.initializers.orthogonal()(key, (channels, channels), x.dtype)
        _, lower, upper = jax.scipy.linalg.lu(q)  # q = P0 L U, |L_ij| <= 1
        diag = jnp.diag(upper)
        # L (U S) = P0^T Q S is orthogonal and has a positive diagonal in U S.
        upper = upper * jnp.sign(diag)[None, :]
        return {"lower": jnp.tril(lower, -1), "upper": jnp.triu(upper, 1),
                "log_s": jnp.log(jnp.abs(diag))}

    def weight(self, params: Params) -> jax.Array:
        """The ``(C, C)`` matrix ``W``."""
        return lu_weight(params, self.perm) if self.lu else params["w"]

    def forward(self, params: Params, x: jax.Array, context: Context = None) -> jax.Array:
        """``z = W x`` at each position (``+ b`` unconstrained), without the log-det."""
        if not self.lu:
            return Dense().forward(params, x)
        return x @ self.weight(params).T

    def forward_and_log_det(self, params: Params, x: jax.Array, context: Context = None
                            ) -> tuple[jax.Array, jax.Array]:
        """``z = W x``; ``log_det = H W sum(log_s)`` (LU) or ``H W slogdet(W)``."""
        if not self.lu:
            return Dense().forward_and_log_det(params, x)
        return self.forward(params, x), _positions(x) * jnp.sum(params["log_s"])

    def inverse_and_log_det(self, params: Params, z: jax.Array, context: Context = None
                            ) -> tuple[jax.Array, jax.Array]:
        """``x = (U + diag(s))^{-1} L^{-1} P^T z`` by two triangular solves (LU form)."""
        if not self.lu:
            return Dense().inverse_and_log_det(params, z)
        channels = z.shape[-1]
        rows = z.reshape(-1, channels)
        if self.perm is not None:
            rows = rows[:, np.argsort(self.perm)]
        lower, upper = _lu_factors(params)
        solve = jax.scipy.linalg.solve_triangular
        a = solve(lower, rows.T, lower=True, unit_diagonal=True)
        x = solve(upper, a, lower=False).T.reshape(z.shape)
        return x, -_positions(z) * jnp.sum(params["log_s"])


class GlowConditioner(nn.Module):
    """Glow's coupling network: 3x3 conv, ReLU, 1x1 conv, ReLU, zero-initialized 3x3 conv.

    Attributes:
        hidden: channels of the hidden convolutions.
        out_channels: output channels (``2 C_b``: the shift and the raw scale).
    """

    hidden: int
    out_channels: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        """``(H, W, C_a) -> (H, W, out_channels)`` ("SAME" padding; batches also work)."""
        h = nn.relu(nn.Conv(self.hidden, (3, 3))(x))
        h = nn.relu(nn.Conv(self.hidden, (1, 1))(h))
        return nn.Conv(self.out_channels, (3, 3), kernel_init=nn.initializers.zeros)(h)


@dataclasses.dataclass(frozen=True)
class ChannelCoupling(Bijector):
    """Glow's affine coupling over channels: ``z_b = (x_b + t(x_a)) sigmoid(r(x_a) + 2)``.

    See the module docstring. Needs ``C >= 2``.

    Attributes:
        hidden: width of the conditioner (conv channels, or the MLP's two hidden widths).
        conditioner: ``"conv"`` (:class:`GlowConditioner`, image events ``(H, W, C)``) or
            ``"dense"`` (a residual MLP on the flattened ``x_a``; any event shape).
    """

    hidden: int = 32
    conditioner: str = "conv"
    log_det_depends_on_x = True

    def __post_init__(self):
        if self.conditioner not in ("conv", "dense"):
            raise ValueError(f"ChannelCoupling: conditioner must be 'conv' or 'dense', got "
                             f"{self.conditioner!r}.")

    def _net(self, event_shape: tuple[int, ...]) -> nn.Module:
        channels = event_shape[-1]
        out = 2 * (channels - channels // 2)
        if self.conditioner == "conv":
            return GlowConditioner(self.hidden, out)
        return ResidualMLP((self.hidden, self.hidden), math.prod(event_shape[:-1]) * out,
                           zero_init_last=True)

    def init(self, key: jax.Array, x: jax.Array, context: Context = None) -> Params:
        """The conditioner's parameters (zero last layer), from one example of the batch.

        Args:
            key: a ``jax.random.key``.
            x: a batch ``(B, H, W, C)`` (``(B,) + event_shape`` for the dense conditioner).
            context: ignored.

        Returns:
            The conditioner's flax parameters.
        """
        if x.shape[-1] < 2:
            raise ValueError(f"ChannelCoupling needs at least 2 channels, got {x.shape}.")
        if self.conditioner == "conv" and x.ndim != 4:
            raise ValueError(f"ChannelCoupling(conditioner='conv') needs a batch (B, H, W, C), "
                             f"got {x.shape}.")
        x_a = self._split(x[0])[0]
        return self._net(x.shape[1:]).init(key, self._net_input(x_a))

    def _net_input(self, x_a: jax.Array) -> jax.Array:
        return x_a if self.conditioner == "conv" else x_a.reshape(-1)

    @staticmethod
    def _split(x: jax.Array) -> tuple[jax.Array, jax.Array]:
        half = x.shape[-1] // 2
        return x[..., :half], x[..., half:]

    def shift_and_log_scale(self, params: Params, x_a: jax.Array, event_shape: tuple[int, ...]
                            ) -> tuple[jax.Array, jax.Array]:
        """``(t, log s)`` of one example, each shaped like ``x_b``."""
        out = self._net(event_shape).apply(params, self._net_input(x_a))
        out = out.reshape(event_shape[:-1] + (-1,))
        shift, raw = jnp.split(out, 2, axis=-1)
        return shift, jax.nn.log_sigmoid(raw + _SCALE_OFFSET)

    def forward_and_log_det(self, params: Params, x: jax.Array, context: Context = None
                            ) -> tuple[jax.Array, jax.Array]:
        """``z_b = (x_b + t) s``, ``log_det = sum(log s)``."""
        x_a, x_b = self._split(x)
        shift, log_scale = self.shift_and_log_scale(params, x_a, x.shape)
        z_b = (x_b + shift) * jnp.exp(log_scale)
        return jnp.concatenate([x_a, z_b], axis=-1), jnp.sum(log_scale)

    def inverse_and_log_det(self, params: Params, z: jax.Array, context: Context = None
                            ) -> tuple[jax.Array, jax.Array]:
        """``x_b = z_b / s - t``, ``log_det = -sum(log s)``."""
        z_a, z_b = self._split(z)
        shift, log_scale = self.shift_and_log_scale(params, z_a, z.shape)
        x_b = z_b * jnp.exp(-log_scale) - shift
        return jnp.concatenate([z_a, x_b], axis=-1), -jnp.sum(log_scale)


def _check_image(x: jax.Array, name: str) -> None:
    if x.ndim != 3:
        raise ValueError(f"{name} expects one image (H, W, C), got shape {x.shape}.")


@dataclasses.dataclass(frozen=True)
class Squeeze(Bijector):
    """Space-to-depth ``(H, W, C) -> (H/2, W/2, 4C)`` (a permutation); log-det 0.

    ``out[i, j, 4c + 2a + b] = x[2i + a, 2j + b, c]`` (Glow's ordering); H and W must be even.
    """

    log_det_depends_on_x = False

    def forward_and_log_det(self, params: Params, x: jax.Array, context: Context = None
                            ) -> tuple[jax.Array, jax.Array]:
        """The squeezed image, log-det 0."""
        _check_image(x, "Squeeze.forward")
        h, w, c = x.shape
        if h % 2 or w % 2:
            raise ValueError(f"Squeeze needs an even height and width, got {x.shape}.")
        z = x.reshape(h // 2, 2, w // 2, 2, c).transpose(0, 2, 4, 1, 3)
        return z.reshape(h // 2, w // 2, 4 * c), jnp.zeros((), x.dtype)

    def inverse_and_log_det(self, params: Params, z: jax.Array, context: Context = None
                            ) -> tuple[jax.Array, jax.Array]:
        """The unsqueezed image ``(2H, 2W, C/4)``, log-det 0."""
        _check_image(z, "Squeeze.inverse")
        h, w, c4 = z.shape
        if c4 % 4:
            raise ValueError(f"Squeeze.inverse needs channels divisible by 4, got {z.shape}.")
        x = z.reshape(h, w, c4 // 4, 2, 2).transpose(0, 3, 1, 4, 2)
        return x.reshape(2 * h, 2 * w, c4 // 4), jnp.zeros((), z.dtype)


@dataclasses.dataclass(frozen=True)
class MultiScale(Bijector):
    """Levels with half the channels factored out after each but the last; flat latent.

    ``forward``: ``h_0 = x``; for each level ``l``: ``h_l = f_l(h_{l-1})`` and, unless ``l``
    is the last, ``(h_l, z_l) = (h_l[..., :C/2], h_l[..., C/2:])``. It returns
    ``concat(z_1.ravel(), ..., z_{L-1}.ravel(), h_L.ravel())`` and ``sum_l log|det f_l'|``, so
    a standard-normal base counts every factored latent (module docstring). EBFlow's split
    (:func:`~likelihood_jax.flows.forward_and_x_dependent_log_det`) treats a MultiScale as one
    x-dependent layer: its constant log-dets (ActNorm, 1x1 convolutions) are computed with
    the rest.

    Attributes:
        event_shape: the data event shape (the inverse needs it to unflatten the latent).
        levels: the level bijectors, data side first; each level's output must have an
            even number of channels (except the last level's).
    """

    event_shape: tuple[int, ...]
    levels: tuple[Bijector, ...]

    def __post_init__(self):
        object.__setattr__(self, "event_shape", tuple(int(d) for d in self.event_shape))
        object.__setattr__(self, "levels", tuple(self.levels))
        if not self.levels:
            raise ValueError("MultiScale needs at least one level.")

    @property
    def log_det_depends_on_x(self) -> bool:
        """True when any level's log-det depends on its input."""
        return any(level.log_det_depends_on_x for level in self.levels)

    @staticmethod
    def _factor_out(h: jax.Array) -> tuple[jax.Array, jax.Array]:
        channels = h.shape[-1]
        if channels % 2:
            raise ValueError(f"MultiScale factors out half the channels: a level's output "
                             f"needs an even channel count, got shape {h.shape}.")
        return h[..., :channels // 2], h[..., channels // 2:]

    def init(self, key: jax.Array, x: jax.Array, context: Context = None) -> Params:
        """Initializes each level on the batch as transformed and split by those before it."""
        if tuple(x.shape[1:]) != self.event_shape:
            raise ValueError(f"MultiScale expects a batch (B,) + {self.event_shape}, got "
                             f"{x.shape}.")
        params = []
        for i, (level, level_key) in enumerate(zip(self.levels,
                                                   jax.random.split(key, len(self.levels)))):
            params.append(level.init(level_key, x, context))
            if i + 1 < len(self.levels):
                x = self._factor_out(batched_forward(level, params[-1], x, context))[0]
        return tuple(params)

    def forward_and_log_det(self, params: Params, x: jax.Array, context: Context = None
                            ) -> tuple[jax.Array, jax.Array]:
        """``(concat(z_1, ..., z_{L-1}, h_L), sum of the levels' log-dets)``."""
        if x.shape != self.event_shape:
            raise ValueError(f"MultiScale expects one example of shape {self.event_shape}, "
                             f"got {x.shape}.")
        parts, log_det = [], jnp.zeros((), x.dtype)
        for i, (level, level_params) in enumerate(zip(self.levels, params)):
            x, level_log_det = level.forward_and_log_det(level_params, x, context)
            log_det = log_det + level_log_det
            if i + 1 < len(self.levels):
                x, factored = self._factor_out(x)
                parts.append(factored.reshape(-1))
        return jnp.concatenate(parts + [x.reshape(-1)]), log_det

    def level_shapes(self, params: Params, dtype=jnp.float32, context: Context = None
                     ) -> list[tuple[int, ...]]:
        """The output shape of each level (before its split), traced without computing."""
        shape, shapes = self.event_shape, []
        for i, (level, level_params) in enumerate(zip(self.levels, params)):
            shape = jax.eval_shape(level.forward, level_params,
                                   jax.ShapeDtypeStruct(shape, dtype), context).shape
            shapes.append(shape)
            if i + 1 < len(self.levels):
                shape = shape[:-1] + (shape[-1] // 2,)
        return shapes

    def inverse_and_log_det(self, params: Params, z: jax.Array, context: Context = None
                            ) -> tuple[jax.Array, jax.Array]:
        """Unflattens the latent and applies the levels' inverses, re-joining each split."""
        size = math.prod(self.event_shape)
        if z.shape != (size,):
            raise ValueError(f"MultiScale expects one flat latent of shape ({size},), got "
                             f"{z.shape}.")
        shapes = self.level_shapes(params, z.dtype, context)
        sizes = [math.prod(s) // 2 for s in shapes[:-1]]
        pieces = jnp.split(z, np.cumsum(sizes))
        h = pieces[-1].reshape(shapes[-1])
        log_det = jnp.zeros((), z.dtype)
        for i in reversed(range(len(self.levels))):
            if i + 1 < len(self.levels):
                shape = shapes[i][:-1] + (shapes[i][-1] // 2,)
                h = jnp.concatenate([h, pieces[i].reshape(shape)], axis=-1)
            h, level_log_det = self.levels[i].inverse_and_log_det(params[i], h, context)
            log_det = log_det + level_log_det
        return h, log_det


def glow_step(hidden: int = 32, lu: bool = True, conditioner: str = "conv") -> Chain:
    """One step of flow: ``Chain([ActNorm, InvertibleConv1x1(lu), ChannelCoupling])``."""
    return Chain((ActNorm(), InvertibleConv1x1(lu), ChannelCoupling(hidden, conditioner)))


def multiscale_glow(event_shape: tuple[int, int, int], num_levels: int = 2, num_steps: int = 4,
         hidden: int = 32, lu: bool = True, conditioner: str = "conv") -> MultiScale:
    """Glow's multi-scale image bijector (Kingma & Dhariwal 2018, Fig. 2).

    Each level is a :class:`Squeeze` then ``num_steps`` :func:`glow_step`; half the channels
    are factored out after each level but the last. Wrap it in
    :class:`~likelihood_jax.flows.Flow` (``event_shape`` the image's) for ``log_prob`` and
    ``sample``; for data in [0, 1], dequantize and prepend a
    :class:`~likelihood_jax.flows.Logit` in a :class:`~likelihood_jax.flows.Chain`.

    Args:
        event_shape: ``(H, W, C)`` with H and W divisible by ``2 ** num_levels``.
        num_levels: L >= 1.
        num_steps: K >= 1 steps of flow per level.
        hidden: conditioner width.
        lu: LU-parameterized (True) or unconstrained (False) 1x1 convolutions.
        conditioner: ``"conv"`` or ``"dense"`` (see :class:`ChannelCoupling`).

    Returns:
        A :class:`MultiScale` whose latent is a flat vector of ``H W C`` entries.
    """
    event_shape = tuple(int(d) for d in event_shape)
    if len(event_shape) != 3:
        raise ValueError(f"multiscale_glow needs an image event_shape (H, W, C), got "
                         f"{event_shape}.")
    if num_levels < 1 or num_steps < 1:
        raise ValueError(f"multiscale_glow needs num_levels >= 1 and num_steps >= 1, got "
                         f"{num_levels} and {num_steps}.")
    height, width, _ = event_shape
    factor = 2 ** num_levels
    if height % factor or width % factor:
        raise ValueError(f"multiscale_glow with {num_levels} levels needs H and W divisible "
                         f"by {factor}, got event_shape {event_shape}.")
    step = glow_step(hidden, lu, conditioner)
    level = Chain((Squeeze(),) + (step,) * num_steps)
    return MultiScale(event_shape, (level,) * num_levels)
