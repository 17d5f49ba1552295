"""The config shared by the distillation configs [P125], [P007]: teacher, then student."""

import ml_collections

from likelihood_jax.sequence import presets
from likelihood_jax.train.config import base_config, runlocal
from likelihood_jax.train.stages import stages_config

# Mode fields of both configs (each adds its own model sizes).
MODES = {
    "runlocal": runlocal(60, {"dataset.vocab_size": 8, "dataset.length": 8,
                              "dataset.num_train": 200, "dataset.num_test": 128},
                         eval_batch_size=128),
    "full": {
        "dataset.vocab_size": 50, "dataset.length": 32, "total_steps": 10000,
        "log_every": 500, "eval_every": 5000, "checkpoint_every": 5000,
    },
}


def distillation_config(dataset: ml_collections.ConfigDict, model: ml_collections.ConfigDict,
                        teacher_model: ml_collections.ConfigDict,
                        objective: dict) -> ml_collections.ConfigDict:
    """A ``distillation`` config: 1000 steps, the ``teacher`` then ``student`` stages."""
    config = base_config("distillation", dataset=dataset.name)
    config.dataset = dataset
    config.update(presets.teacher_student(
        model, teacher_model, teacher_fields=("from_stage", "workdirs"), total_steps=1000,
        log_every=100, eval_every=1000, eval_batch_size=2000))
    config.objective = ml_collections.ConfigDict(objective)
    config.eval = presets.exact_eval()
    config.stages = stages_config(*presets.teacher_then_student())
    return config
