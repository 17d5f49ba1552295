"""The shared trainer: Experiment base class, TrainState, loop, checkpoints.

See :mod:`likelihood_jax.train.experiment` for what an experiment supplies,
:mod:`likelihood_jax.train.loop` for what the loop does with it,
:mod:`likelihood_jax.train.procedure` for studies that train nothing and
:mod:`likelihood_jax.train.stages` for chains of runs in one command.

Names are loaded on first use (PEP 562), so ``likelihood_jax.train.config`` (imported by
every config file) does not import jax, optax or the loop.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "Experiment": "likelihood_jax.train.experiment",
    "load_config_dataset": "likelihood_jax.train.experiment",
    "Interrupted": "likelihood_jax.train.loop",
    "NonFiniteLossError": "likelihood_jax.train.loop",
    "evaluate_checkpoint": "likelihood_jax.train.loop",
    "train_and_evaluate": "likelihood_jax.train.loop",
    "TrainState": "likelihood_jax.train.state",
    "Procedure": "likelihood_jax.train.procedure",
    "run_procedure": "likelihood_jax.train.procedure",
    "stage_params": "likelihood_jax.train.stages",
    "workdir_of": "likelihood_jax.train.stages",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'likelihood_jax.train' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS))
