"""Consistency training without distillation: the improved techniques of iCT [P233].

Song & Dhariwal (2023), "Improved Techniques for Training Consistency Models" (ICLR 2024),
on top of Song, Dhariwal, Chen & Sutskever (2023), "Consistency Models". A consistency
function ``f(x_sigma, sigma)`` maps every point of a probability-flow ODE trajectory of the
variance-exploding path ``x_sigma = x + sigma z`` to its origin; it is parameterized as

    f(x, sigma) = c_skip(sigma) x + c_out(sigma) F(c_in(sigma) x, c_noise(sigma))

with the shifted EDM coefficients (:func:`likelihood_jax.continuous_time.edm.preconditioning` with
``sigma_min``), so ``f(x, sigma_min) = x`` exactly. Consistency *training* (CT) needs no
pretrained diffusion model: adjacent noise levels share the noise ``z``,

    L = lambda(sigma_i) d(f(x + sigma_{i+1} z, sigma_{i+1}), sg[f(x + sigma_i z, sigma_i)]).

iCT's changes to CT, each a piece of this module:

* **no EMA teacher**: the target uses the current parameters under ``stop_gradient``;
* **pseudo-Huber metric** ``d(a, b) = sqrt(|a - b|^2 + c^2) - c`` with
  ``c = 0.00054 sqrt(dim)`` (:func:`pseudo_huber`);
* **weighting** ``lambda(sigma_i) = 1 / (sigma_{i+1} - sigma_i)``;
* **lognormal noise schedule**: ``i`` drawn with probability proportional to
  ``erf((log sigma_{i+1} - P_mean) / (sqrt 2 P_std)) - erf((log sigma_i - P_mean) /
  (sqrt 2 P_std))``, ``P_mean = -1.1``, ``P_std = 2`` (:func:`noise_level_probabilities`);
* **discretization curriculum** ``N(k) = min(s0 2^floor(k / K'), s1) + 1`` noise levels at
  training step ``k`` of ``K``, ``K' = floor(K / (log2 floor(s1 / s0) + 1))``, ``s0 = 10``,
  ``s1 = 1280`` (:func:`num_noise_levels`): the number of levels doubles at equal intervals.

The paper's other ingredients (dropout, no scaling of ``c_noise``, large batches) concern
the network and the scale of training, not the objective.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from likelihood_jax.continuous_time import edm
from likelihood_jax.types import TimeField

Array = jax.Array


def pseudo_huber(a: Array, b: Array, c: float) -> Array:
    """``sqrt(|a - b|^2 + c^2) - c`` over all entries of one example.

    Close to ``|a - b|^2 / (2c)`` for small differences and to ``|a - b| - c`` for large
    ones, so outliers weigh less than under the squared distance.
    """
    return jnp.sqrt(jnp.sum((a - b) ** 2) + c**2) - c


def default_huber_c(dim: int) -> float:
    """The pseudo-Huber ``c = 0.00054 sqrt(dim)`` of iCT (0.03 for CIFAR-10's 3072 entries)."""
    return 0.00054 * math.sqrt(dim)


def num_noise_levels(step, total_steps: int, s0: int = 10, s1: int = 1280) -> Array:
    """The iCT curriculum ``N(k) = min(s0 2^floor(k / K'), s1) + 1``; ``k`` may be traced."""
    if total_steps < 1:
        raise ValueError(f"total_steps must be positive, got {total_steps}")
    stage = max(total_steps // (int(math.log2(s1 // s0)) + 1), 1)
    doublings = jnp.asarray(step, jnp.int32) // stage
    levels = jnp.minimum(s0 * 2.0 ** doublings.astype(jnp.float32), s1)
    return levels.astype(jnp.int32) + 1


def noise_level_probabilities(sigmas: Array, num_levels, p_mean: float = -1.1,
                              p_std: float = 2.0) -> Array:
    """Probabilities of the pairs ``(sigma_i, sigma_{i+1})``, ``i < N - 1``, under iCT's schedule.

    Args:
      sigmas: ``(M,)`` ascending levels, of which the first ``num_levels`` are used.
      num_levels: ``N`` (may be traced).
      p_mean: mean of ``log sigma`` of the lognormal.
      p_std: its standard deviation.

    Returns:
      ``(M - 1,)`` probabilities, zero for ``i >= N - 1``, summing to 1.
    """
    cdf = jax.scipy.special.erf((jnp.log(sigmas) - p_mean) / (math.sqrt(2.0) * p_std))
    mass = cdf[1:] - cdf[:-1]
    valid = jnp.arange(len(sigmas) - 1) < num_levels - 1
    mass = jnp.where(valid, mass, 0.0)
    return mass / jnp.sum(mass)


def consistency_function(net_fn: TimeField, x: Array, sigma, *, sigma_data: float,
                         sigma_min: float) -> Array:
    """``f(x, sigma) = c_skip x + c_out F(c_in x, c_noise)``, with ``f(x, sigma_min) = x``."""
    return edm.denoise(net_fn, x, sigma, sigma_data, sigma_min)


def consistency_training_loss(net_fn: TimeField, x: Array, key: Array, num_levels, *,
                              sigma_data: float, sigma_min: float = 0.002,
                              sigma_max: float = 80.0, rho: float = 7.0, p_mean: float = -1.1,
                              p_std: float = 2.0, huber_c: float | None = None,
                              max_levels: int = 1281) -> Array:
    """The per-example iCT loss (see the module docstring).

    Args:
      net_fn: ``F(c_noise, x_in)`` for one example, closed over the trained parameters
        (the target branch is the same network under ``stop_gradient``).
      x: one clean example.
      key: PRNG key (the pair of levels and the shared noise).
      num_levels: ``N``, the current number of levels (e.g. :func:`num_noise_levels`).
      sigma_data: the data's standard deviation (0.5 for images in [-1, 1]).
      sigma_min: the smallest noise level (the boundary).
      sigma_max: the largest noise level.
      rho: the Karras schedule's curvature.
      p_mean: mean of ``log sigma`` of the lognormal level schedule.
      p_std: its standard deviation.
      huber_c: the pseudo-Huber ``c``; ``None``: :func:`default_huber_c` of ``x.size``.
      max_levels: static upper bound on ``N`` (``s1 + 1``).

    Returns:
      A scalar.
    """
    c = default_huber_c(x.size) if huber_c is None else huber_c
    sigmas = edm.karras_sigmas(num_levels, sigma_min, sigma_max, rho, size=max_levels)
    probs = noise_level_probabilities(sigmas, num_levels, p_mean, p_std)
    level_key, noise_key = jax.random.split(key)
    i = jax.random.categorical(level_key, jnp.log(probs))
    sigma_i, sigma_next = sigmas[i], sigmas[i + 1]
    z = jax.random.normal(noise_key, x.shape, x.dtype)

    def f(v, sigma):
        return consistency_function(net_fn, v, sigma, sigma_data=sigma_data,
                                    sigma_min=sigma_min)

    student = f(x + sigma_next * z, sigma_next)
    target = jax.lax.stop_gradient(f(x + sigma_i * z, sigma_i))
    return pseudo_huber(student, target, c) / (sigma_next - sigma_i)


def multistep_sample(net_fn: TimeField, noise: Array, key: Array, sigmas: tuple[float, ...], *,
                     sigma_data: float, sigma_min: float = 0.002) -> Array:
    """Consistency sampling of one example (Song et al. 2023, Algorithm 1).

    ``x = f(sigma_0 noise, sigma_0)``; then for each further level ``tau``:
    ``x = f(x + sqrt(tau^2 - sigma_min^2) z, tau)``. One level (``sigma_max``) is one-step
    generation; iCT's two-step sampling on CIFAR-10 uses ``(80, 0.821)``.

    Args:
      net_fn: ``F(c_noise, x_in)`` for one example.
      noise: ``N(0, I)`` of the example's shape.
      key: PRNG key of the re-noising steps.
      sigmas: the decreasing levels, ``sigmas[0]`` the largest.
      sigma_data: the data's standard deviation.
      sigma_min: the boundary level.

    Returns:
      The sample.
    """
    if not sigmas or any(b >= a for a, b in zip(sigmas, sigmas[1:])):
        raise ValueError(f"sampling levels must be a non-empty decreasing tuple, got {sigmas}")
    x = consistency_function(net_fn, sigmas[0] * noise, sigmas[0], sigma_data=sigma_data,
                             sigma_min=sigma_min)
    for tau, step_key in zip(sigmas[1:], jax.random.split(key, max(len(sigmas) - 1, 1))):
        z = jax.random.normal(step_key, x.shape, x.dtype)
        x = consistency_function(net_fn, x + math.sqrt(tau**2 - sigma_min**2) * z, tau,
                                 sigma_data=sigma_data, sigma_min=sigma_min)
    return x
