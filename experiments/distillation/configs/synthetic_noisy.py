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

import ml_collections

from likelihood_jax.train.config import apply_mode, base_config
from likelihood_jax.train.stages import stages_config


def get_config(arg=None):
    config = base_config("distillation", dataset="markov")
    config.role = "student"
    config.dataset = ml_collections.ConfigDict({
        "name": "markov", "seed": 0, "vocab_size": 20, "order": 1, "concentration": 0.5,
        "zero_fraction": 0.5, "floor": 1e-3, "length": 16, "num_train": 1000,
        "num_test": 2000, "data_seed": 1, "train_noise": 0.2,
    })
    model = {"kind": "transformer", "num_layers": 1, "width": 32, "num_heads": 2,
             "position": "rotary", "max_len": 64}
    config.model = ml_collections.ConfigDict(model)
    config.teacher = ml_collections.ConfigDict({"from_stage": "", "workdirs": "",
                                                "model": dict(model)})
    config.objective = ml_collections.ConfigDict({
        "name": "noisy_kd", "alpha": 0.5, "temperature": 1.0, "teacher_dropout": 0.1,
        "replace_rate": 0.1, "drop_rate": 0.0,
    })
    config.eval = ml_collections.ConfigDict({"enum_length": 3, "rare_threshold": 1e-3})
    config.optim.lr = 1e-3
    config.optim.schedule = "cosine"
    config.batch_size = 32
    config.eval_batch_size = 2000
    config.total_steps = 1000
    config.log_every = 100
    config.eval_every = 1000
    config.checkpoint_every = 1000
    config.stages = stages_config(
        ("teacher", {"role": "teacher"}),
        ("student", {"teacher": {"from_stage": "teacher"}}),
    )
    apply_mode(config, arg, {
        "runlocal": {
            "dataset.vocab_size": 8, "dataset.length": 8, "dataset.num_train": 200,
            "dataset.num_test": 128, "model.width": 16, "teacher.model.width": 16,
            "total_steps": 60, "log_every": 20, "eval_every": 0, "checkpoint_every": 60,
            "eval_batch_size": 128,
        },
        "full": {
            "dataset.vocab_size": 50, "dataset.length": 32, "dataset.num_train": 5000,
            **{f"{group}.{k}": v for group in ("model", "teacher.model")
               for k, v in {"num_layers": 2, "width": 64, "num_heads": 4}.items()},
            "total_steps": 10000, "log_every": 500, "eval_every": 5000,
            "checkpoint_every": 5000,
        },
    })
    return config
