"""The shared trainer: Experiment base class, TrainState, loop, checkpoints.

See :mod:`likelihood_jax.train.experiment` for what an experiment supplies and
:mod:`likelihood_jax.train.loop` for what the loop does with it.
"""

from likelihood_jax.train.experiment import Experiment, load_config_dataset
from likelihood_jax.train.loop import (
    Interrupted,
    NonFiniteLossError,
    evaluate_checkpoint,
    train_and_evaluate,
)
from likelihood_jax.train.state import TrainState

__all__ = [
    "Experiment",
    "Interrupted",
    "NonFiniteLossError",
    "TrainState",
    "evaluate_checkpoint",
    "load_config_dataset",
    "train_and_evaluate",
]
