"""Gaussian data mollification with a noise level annealed to zero during training.

Tran, Franzese, Michiardi & Filippone (2023), "One-Line-of-Code Data Mollification
Improves Optimization of Likelihood-based Generative Models". A likelihood model
is trained on the mollified data

    x_t = sqrt(1 - n(t)) * x + sqrt(n(t)) * eps,   eps ~ N(0, I),

whose noise level ``n(t)`` falls from 1 (pure noise) at the first step to 0 at
step ``num_steps`` and stays 0 afterwards, so the objective moves from an easy
one (fit a Gaussian) to the original one: a Gaussian homotopy (a continuation
method). The paper's schedule is a sigmoid (Chen 2023, "On the importance of
noise scheduling for diffusion models"):

    n(t) = (s(e/tau) - s((u (e - b) + b)/tau)) / (s(e/tau) - s(b/tau)),  u = t/num_steps,

with ``s`` the logistic sigmoid and (b, e, tau) = (0, 3, 0.7); it equals 1 at
u = 0 and 0 at u = 1. The distribution of ``x_t`` is the data distribution
scaled by ``sqrt(1 - n)`` and convolved with ``N(0, n I)`` (the variance-preserving
form of the mollifier).

The shared loop applies it as one switch (``config.mollify.enabled``) to the
experiment's model-space inputs ``batch["x"]`` after ``Experiment.preprocess``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

Array = jax.Array


def sigmoid_noise_schedule(step, num_steps: int, *, start: float = 0.0, end: float = 3.0,
                           tau: float = 0.7) -> Array:
    """Noise level ``n(step)`` in [0, 1]: 1 at step 0, exactly 0 from ``num_steps`` on.

    Args:
      step: the training step (scalar, may be traced).
      num_steps: the number of steps over which the noise anneals to zero.
      start: sigmoid input at the first step (the paper's ``start=0``).
      end: sigmoid input at ``num_steps`` (the paper's ``end=3``).
      tau: sigmoid temperature (the paper's ``tau=0.7``).

    Returns:
      The noise variance fraction ``n`` (float32 scalar).
    """
    if num_steps <= 0:
        raise ValueError(f"num_steps must be positive, got {num_steps}")
    u = jnp.clip(jnp.asarray(step, jnp.float32) / num_steps, 0.0, 1.0)
    s_start = jax.nn.sigmoid(start / tau)
    s_end = jax.nn.sigmoid(end / tau)
    level = (s_end - jax.nn.sigmoid((u * (end - start) + start) / tau)) / (s_end - s_start)
    return jnp.where(u >= 1.0, 0.0, jnp.clip(level, 0.0, 1.0))


def mollify(x: Array, key: Array, noise_level) -> Array:
    """``sqrt(1 - n) x + sqrt(n) eps`` with ``eps ~ N(0, I)`` shaped like ``x``.

    Args:
      x: model-space data (any shape, floating).
      key: PRNG key for ``eps``.
      noise_level: ``n`` in [0, 1]; 0 returns ``x`` unchanged.

    Returns:
      The mollified data, shaped like ``x``.
    """
    noise_level = jnp.asarray(noise_level, x.dtype)
    eps = jax.random.normal(key, x.shape, x.dtype)
    return jnp.sqrt(1.0 - noise_level) * x + jnp.sqrt(noise_level) * eps
