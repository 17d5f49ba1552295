"""The training state: one pytree that the loop steps, shards and checkpoints."""

from __future__ import annotations

from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import optax


class TrainState(flax.struct.PyTreeNode):
    """Everything a run needs to continue exactly where it stopped.

    Attributes:
      step: number of optimizer steps taken (int32 scalar).
      params: model parameters.
      opt_state: optax state.
      ema_params: exponential moving average of ``params`` (equal to ``params``
        when the config's ``ema_decay`` is 0).
      rng: raw key data (``jax.random.key_data``) of the run's base key; the key
        of step ``s`` is ``fold_in(base_key, s)``, so randomness depends only on
        (seed, step) and a resumed run draws the same numbers.
    """

    step: jax.Array
    params: Any
    opt_state: Any
    ema_params: Any
    rng: jax.Array

    @classmethod
    def create(cls, params: Any, optimizer: optax.GradientTransformation,
               base_key: jax.Array) -> TrainState:
        """Builds the state at step 0."""
        return cls(
            step=jnp.zeros((), jnp.int32),
            params=params,
            opt_state=optimizer.init(params),
            ema_params=jax.tree.map(jnp.copy, params),
            rng=jnp.array(jax.random.key_data(base_key), copy=True),  # never alias the key
        )

    def step_key(self) -> jax.Array:
        """The PRNG key of the current step: ``fold_in(base_key, step)``."""
        return jax.random.fold_in(jax.random.wrap_key_data(self.rng), self.step)
