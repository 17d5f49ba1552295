r"""Diffusion bridges and their mixture: the generative process of GruM [P010].

Jo, Kim & Hwang (ICML 2024), "Graph Generation with Diffusion Mixture", build the generative
SDE on ``t in [0, 1]`` as a mixture of *endpoint-conditioned* diffusions. The reference
process is (their code's ``OU`` and ``BB`` bridges)

    dZ_t = -k sigma_t^2 Z_t dt + sigma_t dW_t            (OU, k = drift_coeff / 2)
    dZ_t = sigma_t dW_t                                   (Brownian, k = 0)

with ``sigma_t^2 = (1 - t) sigma_0^2 + t sigma_1^2``. In the clock ``tau = beta_t =
int_0^t sigma_s^2 ds = t sigma_0^2 - t^2 (sigma_0^2 - sigma_1^2) / 2`` it is a standard
OU (or Brownian) motion, so ``Z_1 | Z_t = z ~ N(a_t z, v_t I)`` with
``D = beta_1 - beta_t``, ``a_t = e^{-k D}``, ``v_t = (1 - e^{-2 k D}) / (2 k)`` (``a = 1``,
``v = D`` for ``k = 0``). Conditioning on ``Z_1 = x`` (Doob's h-transform) gives the bridge

    dZ_t = [f(t, Z_t) + sigma_t^2 a_t (x - a_t Z_t) / v_t] dt + sigma_t dW_t,   (bridge drift)

whose marginal from ``Z_0 = z_0`` is Gaussian, ``N(c0_t z_0 + c1_t x, s_t^2 I)`` with
``c0 = S(beta_1 - beta_t) / S(beta_1)``, ``c1 = S(beta_t) / S(beta_1)``,
``s^2 = S(beta_t) S(beta_1 - beta_t) / (k S(beta_1))``, ``S(u) = sinh(k u)`` (for ``k = 0``:
``c0 = (beta_1 - beta_t) / beta_1``, ``c1 = beta_t / beta_1``,
``s^2 = beta_t (beta_1 - beta_t) / beta_1``).

**Mixture.** Start ``Z_0 ~ N(0, prior_std^2 I)`` and draw the endpoint ``x ~ Pi`` (data).
The mixture of bridges has the Markov drift ``eta(t, z) = E[bridge drift(t, z; X) | Z_t =
z]``; the bridge drift is affine in ``x``, so ``eta(t, z) = bridge_drift(t, z;
E[X | Z_t = z])``: the posterior mean of the *destination*. GruM parameterizes it by a
network ``D_theta(t, Z_t) ~ E[X | Z_t]`` (:func:`mixture_drift`), and its marginals are those
of the mixture, so simulating it (:func:`simulate`) from the prior lands on ``Pi``.

**Training** (:func:`bridge_regression_loss`). The KL between the path measures of the
mixture and of the model is ``E int_0^1 |eta_theta - eta^X|^2 / (2 sigma_t^2) dt =
E int w_t^2 |D_theta(t, Z_t) - X|^2 / 2 dt`` with ``w_t = sigma_t a_t / v_t``, a regression
of the network onto the endpoint; ``Z_t`` is drawn from the bridge marginal given ``X`` with
``z_0`` marginalized: ``Z_t | X ~ N(c1_t X, (c0_t^2 prior_std^2 + s_t^2) I)``
(:meth:`Bridge.endpoint_marginal`). ``weighting="bridge"`` uses ``w_t`` (GruM's
``loss_type: default``; ``w_t -> inf`` as ``t -> 1``, hence ``t <= 1 - t_eps``),
``"constant"`` uses 1 (GruM's ``const``; the plain regression ``E |D_theta - X|^2``).

For a finite set of (Dirac) endpoints the posterior mean is analytic
(:func:`dirac_posterior_mean`), which the tests use in place of a network.

All functions act elementwise on an example of any shape (scalar ``t``); callers vmap over
a batch.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from likelihood_jax.sde import time_grid
from likelihood_jax.types import TimeField

Array = jax.Array

KINDS = ("ou", "brownian")
WEIGHTINGS = ("constant", "bridge")


@dataclasses.dataclass(frozen=True)
class Bridge:
    """The reference process and its endpoint-conditioned bridges (module docstring).

    Attributes:
      kind: ``"ou"`` (GruM's default) or ``"brownian"``.
      sigma_0: diffusion scale at ``t = 0``.
      sigma_1: diffusion scale at ``t = 1``.
      drift_coeff: ``lambda`` of the OU reference drift ``-lambda sigma_t^2 z / 2``.
      prior_std: std of the start distribution ``N(0, prior_std^2 I)``.
    """

    kind: str = "ou"
    sigma_0: float = 0.4
    sigma_1: float = 0.2
    drift_coeff: float = 1.0
    prior_std: float = 1.0

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown bridge kind {self.kind!r}; choose one of {KINDS}")
        if self.sigma_0 <= 0 or self.sigma_1 <= 0:
            raise ValueError("sigma_0 and sigma_1 must be positive")

    @property
    def k(self) -> float:
        """OU rate in the ``beta`` clock (0 for the Brownian bridge)."""
        return 0.5 * self.drift_coeff if self.kind == "ou" else 0.0

    def variance(self, t) -> Array:
        """``sigma_t^2 = (1 - t) sigma_0^2 + t sigma_1^2``."""
        return (1.0 - t) * self.sigma_0**2 + t * self.sigma_1**2

    def diffusion(self, t) -> Array:
        """``sigma_t``."""
        return jnp.sqrt(self.variance(t))

    def beta(self, t) -> Array:
        """``beta_t = int_0^t sigma_s^2 ds``."""
        return t * self.sigma_0**2 - 0.5 * t**2 * (self.sigma_0**2 - self.sigma_1**2)

    def _sinh_ratio(self, u, total) -> Array:
        # S(u) / S(total) with S(u) = sinh(k u), and u / total for k = 0.
        if self.k == 0.0:
            return u / total
        return jnp.sinh(self.k * u) / jnp.sinh(self.k * total)

    def transition_to_end(self, t) -> tuple[Array, Array]:
        """``(a_t, v_t)``: ``Z_1 | Z_t = z ~ N(a_t z, v_t I)`` under the reference process."""
        gap = self.beta(1.0) - self.beta(t)
        if self.k == 0.0:
            return jnp.ones_like(gap), gap
        return jnp.exp(-self.k * gap), -jnp.expm1(-2.0 * self.k * gap) / (2.0 * self.k)

    def reference_drift(self, t, z: Array) -> Array:
        """``f(t, z) = -k sigma_t^2 z`` (0 for the Brownian reference)."""
        return -self.k * self.variance(t) * z

    def bridge_drift(self, t, z: Array, x: Array) -> Array:
        """Drift of the bridge to ``x``: ``f + sigma_t^2 a_t (x - a_t z) / v_t``."""
        a, v = self.transition_to_end(t)
        return self.reference_drift(t, z) + self.variance(t) * a * (x - a * z) / v

    def marginal(self, t) -> tuple[Array, Array, Array]:
        """``(c0, c1, s)``: ``Z_t | Z_0 = z0, Z_1 = x ~ N(c0 z0 + c1 x, s^2 I)``."""
        b, b1 = self.beta(t), self.beta(1.0)
        c0 = self._sinh_ratio(b1 - b, b1)
        c1 = self._sinh_ratio(b, b1)
        if self.k == 0.0:
            var = b * (b1 - b) / b1
        else:
            var = jnp.sinh(self.k * b) * jnp.sinh(self.k * (b1 - b)) / (
                self.k * jnp.sinh(self.k * b1))
        return c0, c1, jnp.sqrt(var)

    def endpoint_marginal(self, t) -> tuple[Array, Array]:
        """``(c1, std)``: ``Z_t | X = x ~ N(c1 x, std^2 I)`` with ``Z_0 ~ N(0, prior_std^2 I)``."""
        c0, c1, s = self.marginal(t)
        return c1, jnp.sqrt((c0 * self.prior_std) ** 2 + s**2)

    def sample_given_endpoint(self, key: Array, x: Array, t) -> Array:
        """A draw of ``Z_t`` given the endpoint ``x`` (start marginalized)."""
        c1, std = self.endpoint_marginal(t)
        return c1 * x + std * jax.random.normal(key, jnp.shape(x), jnp.asarray(x).dtype)

    def loss_weight(self, t) -> Array:
        """``w_t = sigma_t a_t / v_t``: the path-KL weight of ``|D - x|`` at time ``t``."""
        a, v = self.transition_to_end(t)
        return self.diffusion(t) * a / v


def mixture_drift(bridge: Bridge, predict_fn: TimeField) -> TimeField:
    """``eta(t, z) = bridge_drift(t, z; D(t, z))``: the mixture drift from an endpoint predictor.

    Exact for the mixture when ``D(t, z) = E[X | Z_t = z]`` (the drift is affine in ``x``).
    """

    def drift(t, z):
        return bridge.bridge_drift(t, z, predict_fn(t, z))

    return drift


def simulate(bridge: Bridge, predict_fn: TimeField, z0: Array, key: Array, *, num_steps: int,
             denoise: bool = True, return_path: bool = False, noise_fn=None):
    """Euler–Maruyama for the mixture SDE from ``t = 0`` to ``t = 1`` (``lax.scan``).

    Uniform grid ``t_i = i / N`` (:func:`likelihood_jax.sde.time_grid`); step ``z <- z +
    eta(z, t_i) h_i + sigma_{t_i} sqrt(h_i) xi``, ``h_i = t_{i+1} - t_i``. The drift is
    evaluated at ``t <= 1 - h`` only (it is singular at 1). With ``denoise``
    the last step adds no noise (GruM's ``noise_removal``): it returns the drift-only mean,
    which for small ``h`` is close to the last endpoint prediction.

    Args:
      bridge: the bridge family.
      predict_fn: ``D(t, z)``, the endpoint predictor.
      z0: the start state (a draw of the prior, same shape as the data).
      key: PRNG key.
      num_steps: ``N``.
      denoise: drop the noise of the last step.
      return_path: also return every state, ``(N,) + z0.shape``.
      noise_fn: optional ``noise_fn(key, shape) -> noise`` (default standard normal).

    Returns:
      ``z_1`` (and the path).
    """
    drift = mixture_drift(bridge, predict_fn)
    z0 = jnp.asarray(z0)
    noise_fn = noise_fn or (lambda k, shape: jax.random.normal(k, shape, z0.dtype))
    grid = time_grid(0.0, 1.0, num_steps, z0.dtype)

    def step(z, inputs):
        i, t, t_next, k = inputs
        h = t_next - t
        mean = z + drift(t, z) * h
        scale = bridge.diffusion(t) * jnp.sqrt(h)
        if denoise:
            scale = jnp.where(i == num_steps - 1, 0.0, scale)
        z = mean + scale * noise_fn(k, z.shape)
        return z, (z if return_path else None)

    keys = jax.random.split(key, num_steps)
    z, path = jax.lax.scan(step, z0, (jnp.arange(num_steps), grid[:-1], grid[1:], keys))
    return (z, path) if return_path else z


def simulate_bridge(bridge: Bridge, x: Array, z0: Array, key: Array, *, num_steps: int,
                    t_end: float = 1.0) -> Array:
    """Euler–Maruyama for the single bridge to ``x`` from ``z0``, up to ``t_end`` (tests)."""
    z0 = jnp.asarray(z0)
    grid = time_grid(0.0, t_end, num_steps, z0.dtype)

    def step(z, inputs):
        t, t_next, k = inputs
        h = t_next - t
        noise = jax.random.normal(k, z.shape, z.dtype)
        z = z + bridge.bridge_drift(t, z, x) * h + bridge.diffusion(t) * jnp.sqrt(h) * noise
        return z, None

    keys = jax.random.split(key, num_steps)
    z, _ = jax.lax.scan(step, z0, (grid[:-1], grid[1:], keys))
    return z


def dirac_posterior_mean(bridge: Bridge, endpoints: Array, log_weights: Array, t,
                         z: Array) -> Array:
    """``E[X | Z_t = z]`` when ``X`` takes the values ``endpoints[m]`` with given weights.

    ``p(m | z) propto w_m N(z; c1_t x_m, std_t^2 I)`` (:meth:`Bridge.endpoint_marginal`),
    so ``E[X | z] = sum_m softmax_m(log w_m - |z - c1 x_m|^2 / (2 std^2)) x_m``.

    Args:
      bridge: the bridge family.
      endpoints: ``(M,) + z.shape`` endpoint values.
      log_weights: ``(M,)`` log mixture weights (need not be normalized).
      t: time in ``[0, 1)``.
      z: the state.

    Returns:
      The posterior mean, shaped like ``z``.
    """
    c1, std = bridge.endpoint_marginal(t)
    diff = (z[None] - c1 * endpoints).reshape(endpoints.shape[0], -1)
    logits = log_weights - 0.5 * jnp.sum(diff * diff, axis=1) / std**2
    probs = jax.nn.softmax(logits)
    return jnp.tensordot(probs, endpoints, axes=1)


def bridge_regression_loss(bridge: Bridge, predict_fn: TimeField, x: Array, key: Array, *,
                           weighting: str = "constant", t_eps: float = 2e-3,
                           mask: Array | None = None, noise_fn=None) -> tuple[Array, Array]:
    """GruM's per-example loss ``w_t^2 |D(Z_t, t) - x|^2 / 2`` with ``Z_t`` from the bridge.

    ``t ~ U[0, 1 - t_eps]``, ``Z_t = c1_t x + std_t eps`` (:meth:`Bridge.endpoint_marginal`);
    ``w_t = 1`` (``"constant"``) or ``sigma_t a_t / v_t`` (``"bridge"``: the path-measure KL,
    up to the constant ``1 - t_eps``). Unbiased single-sample estimate; one network call.

    Args:
      bridge: the bridge family.
      predict_fn: ``D(t, z)``.
      x: one data example (the endpoint).
      key: PRNG key.
      weighting: ``"constant"`` or ``"bridge"``.
      t_eps: time cut-off near 1.
      mask: optional 0/1 array like ``x``; masked-out entries do not count.
      noise_fn: optional ``noise_fn(key, shape)`` for ``eps`` (e.g. symmetric noise).

    Returns:
      ``(loss, t)``.

    Raises:
      ValueError: unknown weighting.
    """
    if weighting not in WEIGHTINGS:
        raise ValueError(f"unknown weighting {weighting!r}; choose one of {WEIGHTINGS}")
    x = jnp.asarray(x)
    t_key, z_key = jax.random.split(key)
    t = jax.random.uniform(t_key, (), x.dtype, 0.0, 1.0 - t_eps)
    c1, std = bridge.endpoint_marginal(t)
    eps = (noise_fn(z_key, x.shape) if noise_fn is not None
           else jax.random.normal(z_key, x.shape, x.dtype))
    z = c1 * x + std * eps
    err = predict_fn(t, z) - x
    if mask is not None:
        err = err * mask
    weight = bridge.loss_weight(t) ** 2 if weighting == "bridge" else 1.0
    return 0.5 * weight * jnp.sum(err * err), t
