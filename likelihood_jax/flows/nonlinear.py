"""Elementwise nonlinear bijections whose log-det depends on x (EBFlow's nonlinear layers).

Direction: ``forward`` maps data x -> latent z, ``inverse`` maps z -> x (see ``flows.base``).

An elementwise map ``z_i = f(x_i)`` with ``f' > 0`` has a diagonal Jacobian, so

    log|det dz/dx| = sum_i log f'(x_i),

an O(D) term that **depends on x**. In EBFlow (Chao et al. 2023, "Training Energy-Based
Normalizing Flow with Score-Matching Objectives") these layers, sandwiched between dense
linear layers whose log-dets are constant in x, make the flow nonlinear; their log-dets are
part of the energy and are computed during score-matching training, while the linear layers'
are not. Neither map has a closed-form inverse; ``inverse`` solves ``f(x) = z`` elementwise
by a fixed number of Newton (or bisection) steps, which is exact to float precision.

**SmoothLeakyReLU** (Keller et al. 2021, "Self Normalizing Flows"; the activation of
EBFlow's FC-based MNIST/CIFAR models, with ``alpha = 0.3``)::

    f(x) = alpha x + (1 - alpha) softplus(x),      f'(x) = alpha + (1 - alpha) sigmoid(x),

a smooth leaky ReLU with slopes in ``(alpha, 1)``: convex and increasing, so Newton's method
started to the right of the root converges monotonically. ``x0 = z`` for ``z >= 0`` and
``x0 = z / alpha`` for ``z < 0`` are such starts, because ``f(x) >= x`` and ``f(x) > alpha x``.

**SmoothTanh** (the other activation of the EBFlow code base, from Keller et al. 2021)::

    f(x) = tanh(a x) + b x,      f'(x) = a (1 - tanh(a x)^2) + b,     a, b > 0.

Not convex, so the inverse brackets the root in ``[(z - 1) / b, (z + 1) / b]`` (because
``|tanh| < 1``) and bisects, then polishes with two Newton steps.
"""

import dataclasses

import jax
import jax.numpy as jnp

from likelihood_jax.flows.base import Bijector, Context, Params


@dataclasses.dataclass(frozen=True)
class SmoothLeakyReLU(Bijector):
    """``z = alpha x + (1 - alpha) softplus(x)`` elementwise; log-det depends on x.

    No parameters; any event shape. ``log|det| = sum log(alpha + (1 - alpha) sigmoid(x))``,
    bounded below by ``D log(alpha)``.

    Attributes:
        alpha: slope for ``x -> -inf``, in ``(0, 1]`` (1 is the identity). EBFlow uses 0.3.
        newton_steps: Newton iterations of the inverse.
    """

    alpha: float = 0.3
    newton_steps: int = 40
    log_det_depends_on_x = True

    def __post_init__(self):
        if not 0.0 < self.alpha <= 1.0:
            raise ValueError(f"SmoothLeakyReLU needs 0 < alpha <= 1, got {self.alpha}.")
        if self.newton_steps < 1:
            raise ValueError(f"newton_steps must be >= 1, got {self.newton_steps}.")

    def _f(self, x: jax.Array) -> jax.Array:
        return self.alpha * x + (1.0 - self.alpha) * jax.nn.softplus(x)

    def _log_slope(self, x: jax.Array) -> jax.Array:
        return jnp.log(self.alpha + (1.0 - self.alpha) * jax.nn.sigmoid(x))

    def forward_and_log_det(self, params: Params, x: jax.Array, context: Context = None
                            ) -> tuple[jax.Array, jax.Array]:
        """``z = f(x)``, ``log_det = sum log f'(x)``."""
        del params
        return self._f(x), jnp.sum(self._log_slope(x))

    def inverse_and_log_det(self, params: Params, z: jax.Array, context: Context = None
                            ) -> tuple[jax.Array, jax.Array]:
        """Solves ``f(x) = z`` by Newton from the right of the root; ``log_det = -sum log f'``."""
        del params
        x0 = jnp.where(z >= 0, z, z / self.alpha)

        def step(_, x):
            slope = self.alpha + (1.0 - self.alpha) * jax.nn.sigmoid(x)
            return x - (self._f(x) - z) / slope

        x = jax.lax.fori_loop(0, self.newton_steps, step, x0)
        return x, -jnp.sum(self._log_slope(x))


@dataclasses.dataclass(frozen=True)
class SmoothTanh(Bijector):
    """``z = tanh(a x) + b x`` elementwise; log-det depends on x.

    No parameters; any event shape. ``log|det| = sum log(a (1 - tanh(a x)^2) + b)``.

    Attributes:
        a: input scale of the tanh, > 0.
        b: slope of the linear part, > 0 (the slope for ``|x| -> inf``).
        bisection_steps: bisection iterations of the inverse (each halves the bracket of
            width ``2 / b``), followed by two Newton steps.
    """

    a: float = 1.0
    b: float = 0.1
    bisection_steps: int = 60
    log_det_depends_on_x = True

    def __post_init__(self):
        if self.a <= 0 or self.b <= 0:
            raise ValueError(f"SmoothTanh needs a > 0 and b > 0, got a={self.a}, b={self.b}.")

    def _f(self, x: jax.Array) -> jax.Array:
        return jnp.tanh(self.a * x) + self.b * x

    def _slope(self, x: jax.Array) -> jax.Array:
        return self.a * (1.0 - jnp.square(jnp.tanh(self.a * x))) + self.b

    def forward_and_log_det(self, params: Params, x: jax.Array, context: Context = None
                            ) -> tuple[jax.Array, jax.Array]:
        """``z = f(x)``, ``log_det = sum log f'(x)``."""
        del params
        return self._f(x), jnp.sum(jnp.log(self._slope(x)))

    def inverse_and_log_det(self, params: Params, z: jax.Array, context: Context = None
                            ) -> tuple[jax.Array, jax.Array]:
        """Solves ``f(x) = z`` by bisection on ``[(z-1)/b, (z+1)/b]`` plus two Newton steps."""
        del params
        lo, hi = (z - 1.0) / self.b, (z + 1.0) / self.b

        def bisect(_, bracket):
            lo, hi = bracket
            mid = 0.5 * (lo + hi)
            below = self._f(mid) < z
            return jnp.where(below, mid, lo), jnp.where(below, hi, mid)

        lo, hi = jax.lax.fori_loop(0, self.bisection_steps, bisect, (lo, hi))
        x = 0.5 * (lo + hi)
        for _ in range(2):
            x = x - (self._f(x) - z) / self._slope(x)
        return x, -jnp.sum(jnp.log(self._slope(x)))
