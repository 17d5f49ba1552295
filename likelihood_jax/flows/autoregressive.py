"""MADE masks and masked autoregressive flows (MAF, and the inverse direction of IAF).

Direction: ``forward`` maps data x -> latent z, ``inverse`` maps z -> x (see ``flows.base``).

**MADE** (Germain, Gregor, Murray & Larochelle 2015, "MADE: Masked Autoencoder for
Distribution Estimation", Sec. 4). Give the ``D`` inputs the degrees ``m(i) = 1..D`` (in the
chosen ``order``: ``order[j]`` gets degree ``j + 1``) and each hidden unit a degree in
``[1, D - 1]`` (cycled through, so every degree is present). The weight from unit ``a`` to a
hidden unit ``b`` is kept when ``m(b) >= m(a)``, to an output of input ``i`` when
``m(i) > m(a)``. A path from input ``a`` to output ``i`` then passes through degrees that never
decrease and strictly increase at the end, so output ``i`` depends only on the inputs of
smaller degree: the network's Jacobian, in degree order, is strictly lower triangular.
:func:`made_masks` builds the masks, :class:`MADE` is the masked MLP (``P`` outputs for each
input, the parameters of its element-wise transform).

**MAF** (Papamakarios, Pavlakou & Murray 2017, "Masked Autoregressive Flow for Density
Estimation", Sec. 3). :class:`MaskedAutoregressive` transforms each dimension with
parameters computed by one MADE from the dimensions before it::

    z_i = tau(x_i; theta_i(x_{<i})),    log|det dz/dx| = sum_i log tau'(x_i; theta_i(x_{<i}))

(the Jacobian is triangular). The density direction ``forward`` is one MADE pass. Sampling
(``inverse``) must recover ``x_i`` from ``z_i`` and the already recovered ``x_{<i}``: a
``lax.scan`` over the ``D`` dimensions, one MADE pass each. The element-wise transform
``tau`` is

* ``"affine"``: ``z_i = x_i exp(s_i) + t_i``, with ``exp(s) = softplus(r + c) + 1e-3``
  (``c`` such that ``r = 0`` gives scale 1, as :class:`~likelihood_jax.flows.AffineCoupling`'s
  ``"softplus"`` bound), MAF's own transform;
* ``"spline"``: the monotone rational-quadratic spline of
  :mod:`~likelihood_jax.flows.splines` with linear tails, RQ-NSF (AR) of Durkan et al. 2019.

**IAF** (Kingma, Salimans, Jozefowicz, Chen, Sutskever & Welling 2016, "Improved Variational
Inference with Inverse Autoregressive Flow"). :class:`InverseAutoregressive` is the same layer
used the other way round: its conditioner reads the latent, ``x_i = tau(z_i; theta_i(z_{<i}))``,
so sampling (``inverse``) is one pass and the density (``forward``) is the scan; the choice for
variational posteriors, which are sampled far more than evaluated on outside points.

Both layers' MADE output layer starts at zero, so each starts as the identity map.
"""

import dataclasses
from collections.abc import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from likelihood_jax.flows.base import Bijector, Context, Params
from likelihood_jax.flows.chain import Chain
from likelihood_jax.flows.coupling import _MIN_SCALE, _SOFTPLUS_OFFSET
from likelihood_jax.flows.splines import elementwise_spline, num_spline_params, with_actnorm

TRANSFORMS = ("affine", "spline")


def made_degrees(order: Sequence[int], hidden_dims: Sequence[int]) -> list[np.ndarray]:
    """The MADE degrees of the inputs and of each hidden layer.

    Args:
        order: a permutation of ``range(D)``; input ``order[j]`` gets degree ``j + 1``.
        hidden_dims: the hidden widths.

    Returns:
        ``[input_degrees (D,), hidden_degrees_1, ...]``; hidden unit ``u`` of any layer has
        degree ``1 + u mod max(D - 1, 1)``.
    """
    order = np.asarray(order, int)
    dim = order.shape[0]
    if sorted(order.tolist()) != list(range(dim)):
        raise ValueError(f"order must be a permutation of range({dim}), got {order.tolist()}.")
    inputs = np.empty(dim, int)
    inputs[order] = np.arange(1, dim + 1)
    return [inputs] + [1 + np.arange(width) % max(dim - 1, 1) for width in hidden_dims]


def made_masks(order: Sequence[int], hidden_dims: Sequence[int], num_params: int
               ) -> list[np.ndarray]:
    """The binary masks of a MADE, one per layer, shaped like the kernels ``(in, out)``.

    Hidden layers keep ``m(out) >= m(in)``; the output layer (``num_params`` outputs per input,
    input-major: output ``i * num_params + p``) keeps ``m(i) > m(in)``.

    Args:
        order: a permutation of ``range(D)`` (see :func:`made_degrees`).
        hidden_dims: the hidden widths (at least one).
        num_params: outputs per input dimension.

    Returns:
        ``len(hidden_dims) + 1`` float32 arrays.
    """
    if not hidden_dims:
        raise ValueError("A MADE needs at least one hidden layer.")
    degrees = made_degrees(order, hidden_dims)
    outputs = np.repeat(degrees[0], num_params)
    masks = [(later[None, :] >= earlier[:, None]) for earlier, later in zip(degrees, degrees[1:])]
    masks.append(outputs[None, :] > degrees[-1][:, None])
    return [m.astype(np.float32) for m in masks]


class MaskedDense(nn.Module):
    """``y = x @ (W * mask) + b`` (MADE's masked layer).

    Attributes:
        mask: the ``(in, out)`` binary mask (a numpy array).
        zero_init: start the kernel (and bias) at zero.
    """

    mask: np.ndarray
    zero_init: bool = False

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        """Maps ``(..., in)`` to ``(..., out)``."""
        init = nn.initializers.zeros if self.zero_init else nn.initializers.lecun_normal()
        kernel = self.param("kernel", init, self.mask.shape, x.dtype)
        bias = self.param("bias", nn.initializers.zeros, self.mask.shape[1:], x.dtype)
        return x @ (kernel * jnp.asarray(self.mask, x.dtype)) + bias


class MADE(nn.Module):
    """The masked MLP: ``(D,)`` inputs to ``(D, num_params)`` autoregressive outputs.

    Row ``i`` of the output depends only on the inputs before ``i`` in ``order``.

    Attributes:
        order: a permutation of ``range(D)``, as a tuple.
        hidden_dims: hidden widths (at least one).
        num_params: outputs per dimension.
        activation: elementwise nonlinearity.
        zero_init_last: zero output layer (the flow layer starts as the identity).
    """

    order: tuple[int, ...]
    hidden_dims: tuple[int, ...]
    num_params: int
    activation: Callable[[jax.Array], jax.Array] = nn.silu
    zero_init_last: bool = True

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        """Maps ``x`` of shape ``(..., D)`` to ``(..., D, num_params)``."""
        masks = made_masks(self.order, self.hidden_dims, self.num_params)
        h = jnp.asarray(x)
        for i, mask in enumerate(masks[:-1]):
            h = self.activation(MaskedDense(mask, name=f"hidden_{i}")(h))
        out = MaskedDense(masks[-1], self.zero_init_last, name="output")(h)
        return out.reshape(out.shape[:-1] + (len(self.order), self.num_params))


def _affine(x: jax.Array, raw: jax.Array, inverse: bool) -> tuple[jax.Array, jax.Array]:
    """``z = x exp(s) + t`` per element (or its inverse); ``raw`` is ``(N, 2)``: ``t, r``."""
    shift, log_scale = raw[:, 0], jnp.log(jax.nn.softplus(raw[:, 1] + _SOFTPLUS_OFFSET)
                                          + _MIN_SCALE)
    if inverse:
        return (x - shift) * jnp.exp(-log_scale), -jnp.sum(log_scale)
    return x * jnp.exp(log_scale) + shift, jnp.sum(log_scale)


@dataclasses.dataclass(frozen=True)
class MaskedAutoregressive(Bijector):
    """MAF layer on vector events ``(D,)``: density in one pass, sampling by a scan.

    Unconditional: a context is ignored.

    Attributes:
        hidden_dims: hidden widths of the MADE.
        transform: ``"affine"`` or ``"spline"`` (see the module docstring).
        num_bins: ``K`` of the spline transform.
        bound: ``B`` of the spline transform (identity outside ``[-B, B]``).
        order: the autoregressive order, a permutation of ``range(D)``; None: ``0..D-1``.
    """

    hidden_dims: tuple[int, ...] = (64, 64)
    transform: str = "affine"
    num_bins: int = 8
    bound: float = 3.0
    order: tuple[int, ...] | None = None
    log_det_depends_on_x = True

    def __post_init__(self):
        if self.transform not in TRANSFORMS:
            raise ValueError(f"transform must be one of {TRANSFORMS}, got {self.transform!r}.")
        if not self.hidden_dims:
            raise ValueError("hidden_dims needs at least one hidden layer.")
        if self.num_bins < 1 or not self.bound > 0:
            raise ValueError(f"num_bins must be >= 1 and bound > 0, got {self.num_bins} and "
                             f"{self.bound}.")
        object.__setattr__(self, "hidden_dims", tuple(int(h) for h in self.hidden_dims))
        if self.order is not None:
            object.__setattr__(self, "order", tuple(int(i) for i in self.order))

    @property
    def num_params(self) -> int:
        """Parameters of one dimension's transform: 2 (affine) or ``3K - 1`` (spline)."""
        return 2 if self.transform == "affine" else num_spline_params(self.num_bins)

    def _order(self, dim: int) -> tuple[int, ...]:
        order = tuple(range(dim)) if self.order is None else self.order
        if len(order) != dim:
            raise ValueError(f"order {order} has length {len(order)}, the event has {dim}.")
        return order

    def made(self, dim: int) -> MADE:
        """The layer's MADE for events of size ``dim``."""
        return MADE(self._order(dim), self.hidden_dims, self.num_params)

    def init(self, key: jax.Array, x: jax.Array, context: Context = None) -> Params:
        """MADE parameters with a zero output layer; ``x`` is a batch ``(B, D)``."""
        del context
        if x.ndim != 2:
            raise ValueError(f"{type(self).__name__} needs a batch (B, D), got {x.shape}.")
        return {"made": self.made(x.shape[-1]).init(key, x[0])}

    def _elementwise(self, v: jax.Array, raw: jax.Array, inverse: bool
                     ) -> tuple[jax.Array, jax.Array]:
        if self.transform == "affine":
            return _affine(v, raw, inverse)
        return elementwise_spline(v, raw, self.bound, inverse)

    def _one_pass(self, params: Params, v: jax.Array) -> tuple[jax.Array, jax.Array]:
        """``tau(v; theta(v))``: the MAF density direction (the conditioner reads its input)."""
        raw = self.made(v.shape[-1]).apply(params["made"], v)
        return self._elementwise(v, raw, inverse=False)

    def _scan(self, params: Params, u: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Solves ``u = tau(v; theta(v))`` for ``v``, one dimension per step, in ``order``."""
        made = self.made(u.shape[-1])

        def step(v, i):
            raw = made.apply(params["made"], v)[i]
            vi, log_det = self._elementwise(u[i][None], raw[None], inverse=True)
            return v.at[i].set(vi[0]), log_det

        order = jnp.asarray(self._order(u.shape[-1]))
        v, log_dets = jax.lax.scan(step, jnp.zeros_like(u), order)
        return v, jnp.sum(log_dets)

    def forward_and_log_det(self, params: Params, x: jax.Array, context: Context = None
                            ) -> tuple[jax.Array, jax.Array]:
        """``z_i = tau(x_i; theta_i(x_{<i}))`` in one MADE pass; the log-det sums the diagonal."""
        del context
        return self._one_pass(params, x)

    def inverse_and_log_det(self, params: Params, z: jax.Array, context: Context = None
                            ) -> tuple[jax.Array, jax.Array]:
        """``x_i = tau^{-1}(z_i; theta_i(x_{<i}))``: a ``lax.scan`` of D MADE passes."""
        del context
        return self._scan(params, z)


@dataclasses.dataclass(frozen=True)
class InverseAutoregressive(MaskedAutoregressive):
    """IAF layer: the MADE reads the latent; sampling in one pass, density by a scan.

    ``x_i = tau(z_i; theta_i(z_{<i}))`` (``inverse``, one pass) and ``forward`` solves it for
    ``z`` dimension by dimension. Same attributes as :class:`MaskedAutoregressive`.
    """

    def forward_and_log_det(self, params: Params, x: jax.Array, context: Context = None
                            ) -> tuple[jax.Array, jax.Array]:
        """``z_i = tau^{-1}(x_i; theta_i(z_{<i}))``: a ``lax.scan`` of D MADE passes."""
        del context
        return self._scan(params, x)

    def inverse_and_log_det(self, params: Params, z: jax.Array, context: Context = None
                            ) -> tuple[jax.Array, jax.Array]:
        """``x_i = tau(z_i; theta_i(z_{<i}))`` in one MADE pass."""
        del context
        return self._one_pass(params, z)


def masked_autoregressive_flow(event_dim: int, num_layers: int = 4,
                               hidden_dims: Sequence[int] = (64, 64),
                               transform: str = "affine", num_bins: int = 8,
                               bound: float = 3.0, actnorm: bool = True,
                               inverse_autoregressive: bool = False) -> Chain:
    """A MAF (or IAF) for vector data: ``[ActNorm, MADE layer] * num_layers``.

    Consecutive layers use the orders ``0..D-1`` and ``D-1..0`` in turn (MAF's reversal of
    the ordering between layers).

    Args:
        event_dim: D >= 1.
        num_layers: autoregressive layers.
        hidden_dims: hidden widths of each MADE.
        transform: ``"affine"`` or ``"spline"``.
        num_bins: ``K`` of the spline transform.
        bound: ``B`` of the spline transform.
        actnorm: put an ActNorm before each layer.
        inverse_autoregressive: use :class:`InverseAutoregressive` layers (fast sampling).

    Returns:
        A :class:`Chain`.
    """
    if event_dim < 1:
        raise ValueError(f"event_dim must be positive, got {event_dim}.")
    cls = InverseAutoregressive if inverse_autoregressive else MaskedAutoregressive
    order = tuple(range(event_dim))
    return with_actnorm([cls(tuple(hidden_dims), transform, num_bins, bound,
                             order if i % 2 == 0 else order[::-1])
                         for i in range(num_layers)], actnorm)
