"""Elementwise bijectors: ActNorm and the logit preprocessing.

Direction: ``forward`` maps data x -> latent z, ``inverse`` maps z -> x (see ``flows.base``).

**ActNorm** (Kingma & Dhariwal 2018, "Glow"). An elementwise affine map with one location and
one log-scale per channel (the last axis: per dimension for vector events ``(D,)``, per channel
for image events ``(H, W, C)``)::

    z = (x - loc) * exp(-log_scale),     log|det dz/dx| = -P * sum_c log_scale_c,

with ``P`` the number of positions (``H * W`` for images, 1 for vectors). Data-dependent init:
``loc`` and ``exp(log_scale)`` are the mean and standard deviation of the init batch over the
batch and position axes, so ``forward`` of that batch has zero mean and unit variance per
channel (a constant channel gets ``log_scale = log(1e-3)``, from the variance floor 1e-6).
The log-det does **not** depend on x.

**Logit** (Dinh et al. 2017, "Density estimation using Real NVP", Sec. 4.1). Maps data in
[0, 1] to the real line::

    u = alpha + (1 - 2 alpha) x,    z = logit(u) = log u - log(1 - u),
    log|det dz/dx| = sum_i [log(1 - 2 alpha) - log u_i - log(1 - u_i)],

and back with ``x = (sigmoid(z) - alpha) / (1 - 2 alpha)``. The log-det depends on x.
Domain: finite for ``x`` in the open interval ``(-alpha / (1 - 2 alpha), 1 + alpha / (1 -
2 alpha))``, which contains [0, 1] when ``alpha > 0``; outside it the output is NaN/inf.
Nothing is clipped: rescale or dequantize the data into [0, 1] first.
"""

import dataclasses
import math

import jax
import jax.numpy as jnp

from likelihood_jax.flows.base import Bijector, Context, Params

_ACTNORM_EPS = 1e-6


def _num_positions(x: jax.Array) -> int:
    """Number of positions sharing one channel parameter (all axes but the last)."""
    return math.prod(x.shape[:-1])


@dataclasses.dataclass(frozen=True)
class ActNorm(Bijector):
    """Per-channel affine normalization with data-dependent initialization (Glow).

    ``z = (x - loc) * exp(-log_scale)`` with parameters of shape ``(C,)``, ``C = x.shape[-1]``.
    The log-det does not depend on x.
    """

    log_det_depends_on_x = False

    def init(self, key: jax.Array, x: jax.Array, context: Context = None) -> Params:
        """Sets ``loc``/``log_scale`` to the per-channel mean/log-std of the batch ``x``."""
        del key
        x = jnp.asarray(x)
        if x.ndim < 2:
            raise ValueError(f"ActNorm.init needs a batch (B,) + event_shape, got {x.shape}.")
        axes = tuple(range(x.ndim - 1))
        loc = jnp.mean(x, axis=axes)
        var = jnp.var(x, axis=axes)
        return {"loc": loc, "log_scale": 0.5 * jnp.log(var + _ACTNORM_EPS)}

    def forward_and_log_det(self, params: Params, x: jax.Array, context: Context = None
                            ) -> tuple[jax.Array, jax.Array]:
        """``z = (x - loc) exp(-log_scale)``, ``log_det = -P sum(log_scale)``."""
        z = (x - params["loc"]) * jnp.exp(-params["log_scale"])
        return z, -_num_positions(x) * jnp.sum(params["log_scale"])

    def inverse_and_log_det(self, params: Params, z: jax.Array, context: Context = None
                            ) -> tuple[jax.Array, jax.Array]:
        """``x = z exp(log_scale) + loc``, ``log_det = P sum(log_scale)``."""
        x = z * jnp.exp(params["log_scale"]) + params["loc"]
        return x, _num_positions(z) * jnp.sum(params["log_scale"])


@dataclasses.dataclass(frozen=True)
class Logit(Bijector):
    """RealNVP's logit preprocessing ``z = logit(alpha + (1 - 2 alpha) x)`` for x in [0, 1].

    No parameters. Any event shape. The log-det depends on x. See the module docstring for
    the domain (no silent clipping).

    Attributes:
        alpha: boundary margin in [0, 0.5); RealNVP uses 0.05 (0.0001 for CIFAR-10).
    """

    alpha: float = 0.05
    log_det_depends_on_x = True

    def __post_init__(self):
        if not 0.0 <= self.alpha < 0.5:
            raise ValueError(f"Logit needs 0 <= alpha < 0.5, got {self.alpha}.")

    def forward_and_log_det(self, params: Params, x: jax.Array, context: Context = None
                            ) -> tuple[jax.Array, jax.Array]:
        """``z = log u - log(1 - u)`` with ``u = alpha + (1 - 2 alpha) x``."""
        del params
        u = self.alpha + (1.0 - 2.0 * self.alpha) * x
        log_u, log_1mu = jnp.log(u), jnp.log1p(-u)
        log_det = jnp.sum(math.log1p(-2.0 * self.alpha) - log_u - log_1mu)
        return log_u - log_1mu, log_det

    def inverse_and_log_det(self, params: Params, z: jax.Array, context: Context = None
                            ) -> tuple[jax.Array, jax.Array]:
        """``x = (sigmoid(z) - alpha) / (1 - 2 alpha)``."""
        del params
        x = (jax.nn.sigmoid(z) - self.alpha) / (1.0 - 2.0 * self.alpha)
        log_det = jnp.sum(
            jax.nn.log_sigmoid(z) + jax.nn.log_sigmoid(-z) - math.log1p(-2.0 * self.alpha)
        )
        return x, log_det
