"""Monotone rational-quadratic splines and the spline coupling layer (neural spline flows).

Direction: ``forward`` maps data x -> latent z, ``inverse`` maps z -> x (see ``flows.base``).

**The spline** (Durkan, Bekasov, Murray & Papamakarios 2019, "Neural Spline Flows", Sec. 3.1,
after Gregory & Delbourgo 1982). On ``[-B, B]`` a monotone map is built from ``K`` bins with
knots ``(x_k, y_k)``, ``k = 0..K``, ``x_0 = y_0 = -B``, ``x_K = y_K = B``, and positive
derivatives ``d_k`` at the knots. Bin widths and heights are a softmax of unconstrained
parameters (each at least ``min_bin_width``/``min_bin_height`` of ``2B``), the interior
derivatives a softplus (at least ``min_derivative``), and the boundary derivatives are 1, so
the spline joins the identity map used outside ``[-B, B]`` (the *linear tails*) with a
continuous derivative. In bin ``k``, with ``w = x_{k+1} - x_k``, ``h = y_{k+1} - y_k``,
``s = h / w``, ``xi = (x - x_k) / w`` in ``[0, 1]`` (Eq. 4 and the appendix)::

    y = y_k + h [s xi^2 + d_k xi (1 - xi)] / [s + (d_{k+1} + d_k - 2 s) xi (1 - xi)],

    dy/dx = s^2 [d_{k+1} xi^2 + 2 s xi (1 - xi) + d_k (1 - xi)^2]
            / [s + (d_{k+1} + d_k - 2 s) xi (1 - xi)]^2,

which is strictly increasing. The inverse in bin ``k`` solves the quadratic
``a xi^2 + b xi + c = 0`` with ``a = h (s - d_k) + (y - y_k) D``, ``b = h d_k - (y - y_k) D``,
``c = -s (y - y_k)``, ``D = d_{k+1} + d_k - 2 s``, by its numerically stable root
``xi = 2c / (-b - sqrt(b^2 - 4ac))``; so both directions cost one pass.

The unconstrained parameters of one scalar spline are a vector of ``3K - 1`` numbers
(:func:`num_spline_params`): ``K`` width logits, ``K`` height logits and ``K - 1`` interior
derivative pre-activations. The derivative's softplus is shifted so that all-zero parameters
give uniform bins and unit derivatives: the spline is then exactly the identity, so a layer
whose conditioner's output layer starts at zero starts as the identity.

**SplineCoupling**: a coupling layer (Dinh et al. 2017) whose element-wise transform is this
spline, with the ``3K - 1`` parameters of each transformed dimension computed by a residual MLP
of the conditioning dimensions: ``z_c = x_c``, ``z_t = RQS(x_t; theta(x_c))``,
``log|det dz/dx| = sum_j log RQS'(x_{t,j}; theta_j(x_c))``. :func:`spline_coupling_flow` stacks
them with alternating masks (the "RQ-NSF (C)" flow of the paper).
"""

import dataclasses
import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp

from likelihood_jax.flows.base import Bijector, Context, Params
from likelihood_jax.flows.chain import Chain
from likelihood_jax.flows.coupling import AffineCoupling, alternating_mask
from likelihood_jax.flows.elementwise import ActNorm
from likelihood_jax.models.mlp import ResidualMLP

MIN_BIN_WIDTH = 1e-3
MIN_BIN_HEIGHT = 1e-3
MIN_DERIVATIVE = 1e-3
# softplus(offset) + MIN_DERIVATIVE = 1: zero parameters give unit derivatives (the identity).
_DERIVATIVE_OFFSET = math.log(math.expm1(1.0 - MIN_DERIVATIVE))


def num_spline_params(num_bins: int) -> int:
    """Unconstrained parameters of one scalar spline with ``K`` bins: ``3K - 1``."""
    return 3 * num_bins - 1


def _bin_edges(logits: jax.Array, bound: float, min_fraction: float) -> jax.Array:
    """``K + 1`` increasing edges from ``-B`` to ``B``; each bin at least ``min * 2B`` wide."""
    num_bins = logits.shape[-1]
    if min_fraction * num_bins >= 1.0:
        raise ValueError(f"min bin size {min_fraction} times {num_bins} bins must be below 1.")
    fractions = min_fraction + (1.0 - min_fraction * num_bins) * jax.nn.softmax(logits)
    # The last edge is exactly 1 (then B), whatever the rounding of the sum.
    edges = jnp.concatenate([jnp.zeros((1,), logits.dtype), jnp.cumsum(fractions[:-1]),
                             jnp.ones((1,), logits.dtype)])
    return -bound + 2.0 * bound * edges


def spline_knots(params: jax.Array, bound: float) -> tuple[jax.Array, jax.Array, jax.Array]:
    """The knots ``(x_k, y_k)`` and derivatives ``d_k`` (each ``(K + 1,)``) of one spline.

    Args:
        params: ``(3K - 1,)`` unconstrained parameters: width logits, height logits,
            interior derivative pre-activations (see the module docstring).
        bound: ``B``; the spline maps ``[-B, B]`` onto itself.

    Returns:
        ``(x_knots, y_knots, derivatives)`` with ``d_0 = d_K = 1``.
    """
    if params.ndim != 1 or params.shape[0] % 3 != 2:
        raise ValueError(f"A spline's parameters must be a vector of length 3K - 1, got shape "
                         f"{params.shape}.")
    num_bins = (params.shape[0] + 1) // 3
    width_logits = params[:num_bins]
    height_logits = params[num_bins:2 * num_bins]
    inner = MIN_DERIVATIVE + jax.nn.softplus(params[2 * num_bins:] + _DERIVATIVE_OFFSET)
    one = jnp.ones((1,), params.dtype)
    return (_bin_edges(width_logits, bound, MIN_BIN_WIDTH),
            _bin_edges(height_logits, bound, MIN_BIN_HEIGHT),
            jnp.concatenate([one, inner, one]))


def _locate(value: jax.Array, edges: jax.Array) -> jax.Array:
    """Index ``k`` in ``[0, K - 1]`` of the bin ``[edges_k, edges_{k+1})`` holding ``value``."""
    return jnp.clip(jnp.sum(value >= edges[1:-1]), 0, edges.shape[0] - 2)


def _bin(knots, k):
    xs, ys, ds = knots
    width, height = xs[k + 1] - xs[k], ys[k + 1] - ys[k]
    return xs[k], ys[k], width, height, height / width, ds[k], ds[k + 1]


def _log_derivative(xi, slope, d0, d1):
    """``log dy/dx`` inside a bin at relative position ``xi`` (Eq. 5 of the paper)."""
    t = xi * (1.0 - xi)
    denominator = slope + (d1 + d0 - 2.0 * slope) * t
    numerator = slope ** 2 * (d1 * xi ** 2 + 2.0 * slope * t + d0 * (1.0 - xi) ** 2)
    return jnp.log(numerator) - 2.0 * jnp.log(denominator)


def rational_quadratic_spline(x: jax.Array, params: jax.Array, bound: float
                              ) -> tuple[jax.Array, jax.Array]:
    """The spline at one scalar ``x``: ``(y, log dy/dx)``; the identity outside ``[-B, B]``.

    Args:
        x: a scalar.
        params: its ``(3K - 1,)`` unconstrained parameters.
        bound: ``B``.

    Returns:
        ``(y, log dy/dx)``, scalars (``log dy/dx = 0`` on the tails).
    """
    knots = spline_knots(params, bound)
    inside = (x >= -bound) & (x <= bound)
    xc = jnp.where(inside, x, 0.0)  # keeps the unused branch finite, and its gradient
    x_k, y_k, width, height, slope, d0, d1 = _bin(knots, _locate(xc, knots[0]))
    xi = (xc - x_k) / width  # in [0, 1] up to rounding
    t = xi * (1.0 - xi)
    y = y_k + height * (slope * xi ** 2 + d0 * t) / (slope + (d1 + d0 - 2.0 * slope) * t)
    log_det = _log_derivative(xi, slope, d0, d1)
    return jnp.where(inside, y, x), jnp.where(inside, log_det, 0.0)


def inverse_rational_quadratic_spline(y: jax.Array, params: jax.Array, bound: float
                                      ) -> tuple[jax.Array, jax.Array]:
    """The inverse spline at one scalar ``y``: ``(x, log dx/dy)``, in closed form.

    The root of the bin's quadratic (module docstring); ``log dx/dy = -log dy/dx`` at ``x``.

    Args:
        y: a scalar.
        params: the same ``(3K - 1,)`` parameters as the forward spline.
        bound: ``B``.

    Returns:
        ``(x, log dx/dy)``, scalars.
    """
    knots = spline_knots(params, bound)
    inside = (y >= -bound) & (y <= bound)
    yc = jnp.where(inside, y, 0.0)
    x_k, y_k, width, height, slope, d0, d1 = _bin(knots, _locate(yc, knots[1]))
    dy = yc - y_k
    curvature = d1 + d0 - 2.0 * slope
    a = height * (slope - d0) + dy * curvature
    b = height * d0 - dy * curvature
    c = -slope * dy
    discriminant = jnp.maximum(b ** 2 - 4.0 * a * c, 0.0)
    xi = 2.0 * c / (-b - jnp.sqrt(discriminant))  # in [0, 1] up to rounding
    x = x_k + xi * width
    log_det = -_log_derivative(xi, slope, d0, d1)
    return jnp.where(inside, x, y), jnp.where(inside, log_det, 0.0)


def elementwise_spline(x: jax.Array, params: jax.Array, bound: float, inverse: bool = False
                       ) -> tuple[jax.Array, jax.Array]:
    """One spline per element of ``x`` ``(N,)``: ``(y, sum_n log|dy_n/dx_n|)``.

    ``params`` is ``(N, 3K - 1)``, one row per element; ``inverse=True`` applies the inverse
    splines (and returns their log-det).
    """
    fn = inverse_rational_quadratic_spline if inverse else rational_quadratic_spline
    y, log_det = jax.vmap(fn, in_axes=(0, 0, None))(x, params, bound)
    return y, jnp.sum(log_det)


@dataclasses.dataclass(frozen=True)
class SplineCoupling(Bijector):
    """Rational-quadratic spline coupling on vector events ``(D,)``, identity at init.

    The transformed dimensions (``mask == 0``) go through one spline each, whose ``3K - 1``
    parameters a residual MLP computes from the conditioning dimensions (``mask == 1``); the
    MLP's output layer starts at zero, so the layer starts as the identity. Unconditional: a
    context is ignored.

    Attributes:
        mask: tuple of D zeros and ones; ones mark the conditioning (unchanged) dimensions.
        hidden_dims: hidden widths of the residual MLP conditioner.
        num_bins: ``K``, the spline's bins.
        bound: ``B``; the splines act on ``[-B, B]`` and are the identity outside.
    """

    mask: tuple[int, ...]
    hidden_dims: tuple[int, ...] = (64, 64)
    num_bins: int = 8
    bound: float = 3.0
    log_det_depends_on_x = True

    def __post_init__(self):
        mask = tuple(int(m) for m in self.mask)
        if set(mask) != {0, 1}:
            raise ValueError(f"The mask needs both zeros and ones, got {mask}.")
        if self.num_bins < 1:
            raise ValueError(f"num_bins must be at least 1, got {self.num_bins}.")
        if not self.bound > 0:
            raise ValueError(f"bound must be positive, got {self.bound}.")
        object.__setattr__(self, "mask", mask)
        object.__setattr__(self, "hidden_dims", tuple(int(h) for h in self.hidden_dims))
        object.__setattr__(self, "bound", float(self.bound))

    # The mask's index sets (``mask == 1`` conditions, ``mask == 0`` is transformed), as the
    # affine coupling defines them.
    conditioning_indices = AffineCoupling.conditioning_indices
    transformed_indices = AffineCoupling.transformed_indices

    def _conditioner(self) -> ResidualMLP:
        return ResidualMLP(self.hidden_dims,
                           len(self.transformed_indices) * num_spline_params(self.num_bins),
                           zero_init_last=True)

    def init(self, key: jax.Array, x: jax.Array, context: Context = None) -> Params:
        """Conditioner parameters with a zero output layer; ``x`` is a batch ``(B, D)``."""
        del context
        if x.ndim != 2 or x.shape[-1] != len(self.mask):
            raise ValueError(f"SplineCoupling needs a batch (B, {len(self.mask)}), "
                             f"got {x.shape}.")
        return {"conditioner": self._conditioner().init(key, x[0, self.conditioning_indices])}

    def spline_params(self, params: Params, x_cond: jax.Array) -> jax.Array:
        """The conditioner's ``(len(transformed_indices), 3K - 1)`` spline parameters."""
        out = self._conditioner().apply(params["conditioner"], x_cond)
        return out.reshape(len(self.transformed_indices), num_spline_params(self.num_bins))

    def _apply(self, params: Params, v: jax.Array, inverse: bool
               ) -> tuple[jax.Array, jax.Array]:
        cond, trans = self.conditioning_indices, self.transformed_indices
        spline = self.spline_params(params, v[cond])
        out, log_det = elementwise_spline(v[trans], spline, self.bound, inverse)
        return v.at[trans].set(out), log_det

    def forward_and_log_det(self, params: Params, x: jax.Array, context: Context = None
                            ) -> tuple[jax.Array, jax.Array]:
        """``z_t = RQS(x_t; theta(x_c))``, ``log_det = sum_j log RQS'(x_{t,j})``."""
        del context
        return self._apply(params, x, inverse=False)

    def inverse_and_log_det(self, params: Params, z: jax.Array, context: Context = None
                            ) -> tuple[jax.Array, jax.Array]:
        """``x_t = RQS^{-1}(z_t; theta(z_c))`` (closed form), ``log_det`` of the inverse."""
        del context
        return self._apply(params, z, inverse=True)


def spline_coupling_flow(event_dim: int, num_layers: int = 4,
                         hidden_dims: Sequence[int] = (64, 64), num_bins: int = 8,
                         bound: float = 3.0, actnorm: bool = True) -> Chain:
    """The coupling neural spline flow for vector data ``(event_dim,)`` (Durkan et al. 2019).

    ``Chain([ActNorm, SplineCoupling(alternating_mask(D, 0)), ActNorm,
    SplineCoupling(alternating_mask(D, 1)), ...])``: consecutive couplings transform the odd
    and the even dimensions in turn. ActNorm's data-dependent init standardizes each layer's
    input, so ``bound`` is in standard deviations of the data.

    Args:
        event_dim: D >= 2.
        num_layers: spline coupling layers (an even number transforms every dimension equally
            often).
        hidden_dims: hidden widths of each coupling's residual MLP.
        num_bins: bins ``K`` of every spline.
        bound: ``B`` of every spline.
        actnorm: put an ActNorm before each coupling.

    Returns:
        A :class:`Chain`.
    """
    if event_dim < 2:
        raise ValueError(f"A coupling flow needs event_dim >= 2, got {event_dim}.")
    return with_actnorm([SplineCoupling(alternating_mask(event_dim, parity=i % 2),
                                        tuple(hidden_dims), num_bins, bound)
                         for i in range(num_layers)], actnorm)


def with_actnorm(layers: Sequence[Bijector], actnorm: bool = True) -> Chain:
    """``Chain([ActNorm, layers[0], ActNorm, layers[1], ...])`` (just the layers without)."""
    return Chain(tuple(x for layer in layers for x in ((ActNorm(), layer) if actnorm
                                                       else (layer,))))
