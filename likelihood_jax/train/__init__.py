"""The shared trainer: Experiment base class, TrainState, loop, checkpoints.

See :mod:`likelihood_jax.train.experiment` for what an experiment supplies,
:mod:`likelihood_jax.train.loop` for what the loop does with it,
:mod:`likelihood_jax.train.procedure` for studies that train nothing and
:mod:`likelihood_jax.train.stages` for chains of runs in one command.

Names are loaded on first use (PEP 562), so ``likelihood_jax.train.config`` (imported by
every config file) does not import jax, optax or the loop.
"""

from __future__ import annotations

from likelihood_jax._lazy import lazy_attributes

_EXPORTS = {
    "Experiment": "experiment",
    "load_config_dataset": "experiment",
    "Interrupted": "loop",
    "NonFiniteLossError": "loop",
    "evaluate_checkpoint": "loop",
    "train_and_evaluate": "loop",
    "TrainState": "state",
    "Procedure": "procedure",
    "run_procedure": "procedure",
    "stage_params": "stages",
    "workdir_of": "stages",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_attributes(__name__, globals(), _EXPORTS)
