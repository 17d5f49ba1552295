"""Gaussian data mollification [P162] with a noise level annealed to zero during training.

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

An experiment applies it to its model-space training inputs with :func:`mollify_batch`,
called from its ``loss_fn`` (which receives the training step; evaluation is never
mollified). Its settings are a ``mollify`` config group
(:func:`likelihood_jax.flows.presets.mollify`): ``enabled``, ``fraction`` of the run's
steps over which the noise anneals to zero, and the schedule's ``start``, ``end``, ``tau``.
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


def annealing_steps(fraction: float, total_steps: int) -> int:
    """The number of steps over which the noise anneals to zero: ``int(fraction * total)``.

    Raises:
      ValueError: ``fraction`` outside ``(0, 1]`` or no step to anneal over.
    """
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"mollify.fraction must be in (0, 1], got {fraction}")
    steps = int(fraction * total_steps)
    if steps <= 0:
        raise ValueError(f"mollify.fraction {fraction} of total_steps {total_steps} leaves no "
                         f"step to anneal over")
    return steps


def mollify_batch(batch: dict[str, Array], key: Array, step, total_steps: int,
                  config) -> tuple[dict[str, Array], Array]:
    """Mollifies ``batch["x"]`` at training ``step`` as the ``mollify`` config group says.

    ``x_t = sqrt(1 - n) x + sqrt(n) eps`` with ``n = sigmoid_noise_schedule(step, S)`` and
    ``S = annealing_steps(config.fraction, total_steps)``; the other entries of the batch
    pass through.

    Args:
      batch: the model-space batch (``"x"``: inputs ``[B, ...]``).
      key: PRNG key of the noise ``eps``.
      step: the training step (scalar, may be traced).
      total_steps: the run's number of steps.
      config: the ``mollify`` group: ``fraction``, ``start``, ``end``, ``tau``
        (``enabled`` is the caller's switch).

    Returns:
      ``(batch with mollified "x", noise level n)``.
    """
    if "x" not in batch:
        raise ValueError(f"mollify_batch needs batch['x']; the batch has {sorted(batch)}")
    level = sigmoid_noise_schedule(step, annealing_steps(config.fraction, total_steps),
                                   start=config.start, end=config.end, tau=config.tau)
    return dict(batch, x=mollify(batch["x"], key, level)), level
