"""EDM noise levels, preconditioning, denoising loss and Heun sampler (for iCT [P233]).

Karras, Aittala, Aila & Laine (NeurIPS 2022), "Elucidating the Design Space of Diffusion-Based
Generative Models" (no catalog id of its own: the diffusion baseline of iCT [P233]), write a
diffusion model on the variance-exploding path ``x_sigma = x + sigma z`` through a denoiser

    D(x, sigma) = c_skip(sigma) x + c_out(sigma) F(c_in(sigma) x, c_noise(sigma)),
    c_skip = sigma_d^2 / (sigma^2 + sigma_d^2),   c_out = sigma sigma_d / sqrt(sigma^2 + sigma_d^2),
    c_in = 1 / sqrt(sigma^2 + sigma_d^2),          c_noise = log(sigma) / 4,

trained by ``lambda(sigma) |D(x + sigma z, sigma) - x|^2`` with ``lambda = 1 / c_out^2`` and
``log sigma ~ N(P_mean, P_std^2)``, and sampled by Heun's method on the probability-flow ODE
``dx/dsigma = (x - D(x, sigma)) / sigma`` over the noise levels

    sigma_i = (sigma_max^(1/rho) + i / (N - 1) (sigma_min^(1/rho) - sigma_max^(1/rho)))^rho,

``i = 0..N-1``, then ``sigma_N = 0`` (``2N - 1`` network evaluations). Consistency models
(:mod:`likelihood_jax.continuous_time.consistency`) reuse the noise levels and a shifted version of
the preconditioning.

``F`` is any ``net_fn(c_noise, x_in) -> output`` for one example (noise level first, as
every time-dependent function of :mod:`likelihood_jax.types`); ``x`` has any shape.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from likelihood_jax.types import TimeField

Array = jax.Array


def karras_sigmas(num_levels, sigma_min: float = 0.002, sigma_max: float = 80.0,
                  rho: float = 7.0, *, size: int | None = None) -> Array:
    """The ``N`` noise levels ``sigma_min = s_0 < ... < s_{N-1} = sigma_max`` (ascending).

    Args:
      num_levels: ``N`` (may be a traced integer when ``size`` is given); ``N = 1``
        gives ``[sigma_max]`` (a one-step sampler).
      sigma_min: the smallest level (EDM: 0.002).
      sigma_max: the largest level (EDM: 80).
      rho: the schedule's curvature (EDM: 7).
      size: length of the returned array (static); entries past ``N`` continue the
        formula and are meant to be masked. Defaults to ``num_levels`` (then static).

    Returns:
      ``(size,)`` ascending noise levels.
    """
    size = int(num_levels) if size is None else size
    i = jnp.arange(size, dtype=jnp.float32)
    gaps = jnp.maximum(jnp.asarray(num_levels, jnp.float32) - 1.0, 1.0)
    frac = jnp.where(jnp.asarray(num_levels) > 1, i / gaps, 1.0)  # one level: sigma_max
    lo, hi = sigma_min ** (1.0 / rho), sigma_max ** (1.0 / rho)
    return (lo + frac * (hi - lo)) ** rho


def preconditioning(sigma, sigma_data: float, sigma_min: float = 0.0
                    ) -> tuple[Array, Array, Array, Array]:
    """``(c_skip, c_out, c_in, c_noise)`` at ``sigma``.

    ``sigma_min = 0`` gives EDM's denoiser. ``sigma_min > 0`` gives the consistency-model
    version (Song et al. 2023, Appendix C): ``c_skip = sigma_d^2 / ((sigma - sigma_min)^2 +
    sigma_d^2)`` and ``c_out = (sigma - sigma_min) sigma_d / sqrt(sigma_d^2 + sigma^2)``, so
    that ``c_skip = 1`` and ``c_out = 0`` exactly at ``sigma = sigma_min`` (the boundary
    condition ``f(x, sigma_min) = x``).
    """
    sigma = jnp.asarray(sigma, jnp.float32)
    shifted = sigma - sigma_min
    c_skip = sigma_data**2 / (shifted**2 + sigma_data**2)
    c_out = shifted * sigma_data / jnp.sqrt(sigma**2 + sigma_data**2)
    c_in = 1.0 / jnp.sqrt(sigma**2 + sigma_data**2)
    c_noise = 0.25 * jnp.log(sigma)
    return c_skip, c_out, c_in, c_noise


def denoise(net_fn: TimeField, x: Array, sigma, sigma_data: float,
            sigma_min: float = 0.0) -> Array:
    """``c_skip x + c_out F(c_in x, c_noise)`` for one example (see :func:`preconditioning`)."""
    c_skip, c_out, c_in, c_noise = preconditioning(sigma, sigma_data, sigma_min)
    return c_skip * x + c_out * net_fn(c_noise, c_in * x)


def denoising_loss(net_fn: TimeField, x: Array, key: Array, *, sigma_data: float,
                   p_mean: float = -1.2, p_std: float = 1.2) -> Array:
    """EDM's per-example loss ``lambda(sigma) mean |D(x + sigma z, sigma) - x|^2``.

    ``log sigma ~ N(p_mean, p_std^2)``, ``lambda = (sigma^2 + sigma_d^2) / (sigma sigma_d)^2``
    (so that the effective regression target of ``F`` has unit variance). The mean is over
    the example's entries.
    """
    sigma_key, noise_key = jax.random.split(key)
    sigma = jnp.exp(p_mean + p_std * jax.random.normal(sigma_key, ()))
    noisy = x + sigma * jax.random.normal(noise_key, x.shape, x.dtype)
    weight = (sigma**2 + sigma_data**2) / (sigma * sigma_data) ** 2
    return weight * jnp.mean((denoise(net_fn, noisy, sigma, sigma_data) - x) ** 2)


def heun_sample(net_fn: TimeField, noise: Array, *, num_steps: int, sigma_data: float,
                sigma_min: float = 0.002, sigma_max: float = 80.0, rho: float = 7.0) -> Array:
    """EDM's deterministic sampler (Algorithm 1) from ``noise ~ N(0, I)`` for one example.

    Heun steps on ``dx/dsigma = (x - D(x, sigma)) / sigma`` from ``sigma_max`` down the
    :func:`karras_sigmas` to ``sigma_min``, then an Euler step to 0: ``2 num_steps - 1``
    evaluations of the network.
    """
    sigmas = jnp.concatenate([karras_sigmas(num_steps, sigma_min, sigma_max, rho)[::-1],
                              jnp.zeros((1,))])

    def slope(x, sigma):
        return (x - denoise(net_fn, x, sigma, sigma_data)) / sigma

    def heun_step(i, x):
        s, s_next = sigmas[i], sigmas[i + 1]
        d = slope(x, s)
        euler = x + (s_next - s) * d
        return x + (s_next - s) * 0.5 * (d + slope(euler, s_next))

    x = jax.lax.fori_loop(0, num_steps - 1, heun_step, noise * sigma_max)
    return x - sigmas[num_steps - 1] * slope(x, sigmas[num_steps - 1])  # Euler to sigma = 0
