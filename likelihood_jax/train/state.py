"""The training state: one pytree that the loop steps, shards and checkpoints."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import optax


class TrainState(flax.struct.PyTreeNode):
    """Everything a run needs to continue exactly where it stopped.

    Attributes:
      step: number of optimizer steps taken (int32 scalar).
      params: model parameters (with optimizer groups: a dict keyed by group).
      opt_state: optax state (with optimizer groups: a dict of one state per group).
      ema_params: exponential moving average of ``params`` with warm-up (bias
        correction, :func:`ema_update`): after ``t`` steps it is the normalized
        average ``sum_s d^(t-s) params_s / sum_s d^(t-s)`` over steps ``s = 1..t``,
        so it never holds the initialization; equal to ``params`` when the
        config's ``ema_decay`` is 0.
      rng: raw key data (``jax.random.key_data``) of the run's base key; the key
        of step ``s`` is ``fold_in(base_key, s)``, so randomness depends only on
        (seed, step) and a resumed run draws the same numbers.
      extra: state that is not parameters (counters, running statistics, a
        replay buffer...): ``Experiment.init_extra`` makes it and
        ``Experiment.update_extra`` steps it inside the jitted step; it is
        checkpointed and restored with the rest (default ``{}``, no leaves).
    """

    step: jax.Array
    params: Any
    opt_state: Any
    ema_params: Any
    rng: jax.Array
    extra: Any = flax.struct.field(default_factory=dict)

    @classmethod
    def create(cls, params: Any,
               optimizer: optax.GradientTransformation | Mapping[str, optax.GradientTransformation],
               base_key: jax.Array, extra: Any = None) -> TrainState:
        """Builds the state at step 0.

        Args:
          params: the initial parameters.
          optimizer: one optax transformation, or one per optimizer group (then
            ``params`` is a dict with the same keys and each group's optimizer
            state is built from its own parameters).
          base_key: the base key of the per-step stream.
          extra: the initial non-parameter state (None: ``{}``).
        """
        return cls(
            step=jnp.zeros((), jnp.int32),
            params=params,
            opt_state=init_opt_state(optimizer, params),
            ema_params=jax.tree.map(jnp.copy, params),
            rng=jnp.array(jax.random.key_data(base_key), copy=True),  # never alias the key
            extra={} if extra is None else extra,
        )

    def step_key(self) -> jax.Array:
        """The PRNG key of the current step: ``fold_in(base_key, step)``."""
        return jax.random.fold_in(jax.random.wrap_key_data(self.rng), self.step)


def init_opt_state(optimizer, params: Any) -> Any:
    """``optimizer.init(params)``, or ``{group: optimizer[group].init(params[group])}``."""
    if not isinstance(optimizer, Mapping):
        return optimizer.init(params)
    if not isinstance(params, Mapping) or set(params) != set(optimizer):
        keys = sorted(params) if isinstance(params, Mapping) else type(params).__name__
        raise ValueError(f"with optimizer groups {sorted(optimizer)} the parameters must be a "
                         f"dict with exactly those keys; init_params gave {keys}")
    return {group: opt.init(params[group]) for group, opt in optimizer.items()}


def ema_decay_at(step: jax.Array | int, decay: float) -> jax.Array:
    """The warm-up decay ``d_t = d (1 - d^(t-1)) / (1 - d^t)`` of step ``t`` (float32).

    With it, ``ema_t = d_t ema_{t-1} + (1 - d_t) params_t`` equals an EMA started at zero and
    divided by ``1 - d^t`` (Adam's bias correction): ``d_1 = 0`` and ``d_t -> d`` as ``t``
    grows. ``1 - d^k`` is computed as ``-expm1(k log d)`` so that ``d`` close to 1 and large
    ``t`` lose no precision in float32.

    Args:
      step: ``t >= 1``, the number of updates including this one (int or int array).
      decay: ``d`` in ``[0, 1)``.
    """
    if not 0.0 <= decay < 1.0:
        raise ValueError(f"ema_decay must be in [0, 1), got {decay}")
    if decay == 0.0:
        return jnp.zeros((), jnp.float32)
    log_d = jnp.float32(math.log(decay))
    t = jnp.maximum(jnp.asarray(step, jnp.float32), 1.0)
    return jnp.float32(decay) * jnp.expm1((t - 1.0) * log_d) / jnp.expm1(t * log_d)


def ema_update(ema: Any, params: Any, step: jax.Array | int, decay: float) -> Any:
    """One step of the EMA with warm-up: ``d_t ema + (1 - d_t) params`` (:func:`ema_decay_at`).

    After steps ``1..t`` this is the normalized weighted average
    ``sum_s d^(t-s) params_s / sum_s d^(t-s)`` whatever ``ema`` held before step 1 (the weight
    of step 1's ``ema`` is ``d_1 = 0``). ``step`` is the step count after the update (the
    state's ``step + 1``), so a resumed run continues the same average.
    """
    d = ema_decay_at(step, decay)
    return jax.tree.map(lambda e, p: (d * e + (1.0 - d) * p).astype(p.dtype), ema, params)
