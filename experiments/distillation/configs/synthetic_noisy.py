"""Noisy self-knowledge distillation [P007] on a synthetic Markov source with noisy training data.

Liu, Shen & Lapata (2021), "Noisy self-knowledge distillation for text
summarization", transposed to a language model with exact metrics: the training
sequences of a random sparse bigram source have a fraction
``dataset.train_noise`` of their tokens replaced by uniform ones (noisy
references); test sequences are clean. A teacher of the student's own size is
trained on the noisy data (stage ``teacher``, ``role=teacher``); the student is
trained on the same data with hard labels alone (``objective.name=ce``) or with
``(1 - alpha) NLL + alpha KL(teacher || student)`` (``objective.name=noisy_kd``,
stage ``student``, teacher read from the ``teacher`` stage) with teacher dropout
``objective.teacher_dropout`` and student input token replacement
``objective.replace_rate``. One command runs both stages; ``--config.stages.order="()"``
runs the parent config alone. Reports exact TV to the *clean* source on length-3
sequences, forward CE on clean test data, reverse CE. Modes: ``runlocal`` (tests),
default (the README table), ``full``. Numbers and commands:
experiments/distillation/README.md.
"""

from experiments.distillation.configs.common import MODES, distillation_config
from likelihood_jax.sequence import presets
from likelihood_jax.train.config import apply_mode


def get_config(arg=None):
    model = presets.transformer(width=32, num_heads=2)  # the teacher has the student's size
    config = distillation_config(
        presets.markov_source(num_train=1000, num_test=2000, train_noise=0.2),
        model=model, teacher_model=presets.transformer(**model),
        objective={"name": "noisy_kd", "alpha": 0.5, "temperature": 1.0,
                   "teacher_dropout": 0.1, "replace_rate": 0.1, "drop_rate": 0.0})
    apply_mode(config, arg, MODES, {
        "runlocal": {"model.width": 16, "teacher.model.width": 16},
        "full": {"dataset.num_train": 5000,
                 **{f"{group}.{k}": v for group in ("model", "teacher.model")
                    for k, v in {"num_layers": 2, "width": 64, "num_heads": 4}.items()}},
    })
    return config
