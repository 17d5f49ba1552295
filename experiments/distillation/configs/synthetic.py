"""Knowledge distillation [P125] on a synthetic Markov source with exact metrics.

Hinton, Vinyals & Dean (2015), "Distilling the knowledge in a neural network": a
larger teacher is trained first, then a small student on hard labels alone
(``objective.name=ce``) or with KD at temperature ``objective.temperature`` and soft
weight ``objective.alpha``. One command runs both, as the stages ``teacher``
(``role=teacher``) and ``student`` (KD from the ``teacher`` stage, read through
``train.stages.stage_params``), in ``WORKDIR/teacher`` and ``WORKDIR/student``.
A single run (``--config.stages.order="()"``) trains the parent config alone: a
teacher with ``--config.role=teacher --config.seed=S`` (an ensemble member), a
student from finished teachers with ``--config.teacher.workdirs=W1[,W2,...]``. The
source is a random sparse order-2 Markov chain over 16 tokens; the student (1 layer,
width 16) is too small to fit it from hard labels in the step budget, the teacher (2
layers, width 64) fits it much better. Reports exact TV on all length-3 sequences,
forward/reverse CE per token. Modes: ``runlocal`` (tests), default (the README
table; each run well under a minute on 2 CPU cores), ``full``. Numbers and
commands: experiments/distillation/README.md.
"""

import ml_collections

from likelihood_jax.train.config import apply_mode, base_config
from likelihood_jax.train.stages import stages_config


def get_config(arg=None):
    config = base_config("distillation", dataset="markov")
    config.role = "student"
    config.dataset = ml_collections.ConfigDict({
        "name": "markov", "seed": 0, "vocab_size": 16, "order": 2, "concentration": 0.5,
        "zero_fraction": 0.5, "floor": 1e-3, "length": 16, "num_train": 2000,
        "num_test": 2000, "data_seed": 1, "train_noise": 0.0,
    })
    config.model = ml_collections.ConfigDict({
        "kind": "transformer", "num_layers": 1, "width": 16, "num_heads": 2,
        "position": "rotary", "max_len": 64,
    })
    config.teacher = ml_collections.ConfigDict({
        "from_stage": "", "workdirs": "",
        "model": {"kind": "transformer", "num_layers": 2, "width": 64, "num_heads": 4,
                  "position": "rotary", "max_len": 64},
    })
    config.objective = ml_collections.ConfigDict({
        "name": "kd", "alpha": 0.9, "temperature": 2.0, "teacher_dropout": 0.0,
        "replace_rate": 0.0, "drop_rate": 0.0,
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
            "dataset.vocab_size": 8, "dataset.order": 1, "dataset.length": 8,
            "dataset.num_train": 200, "dataset.num_test": 128,
            "teacher.model.num_layers": 1, "teacher.model.width": 32,
            "teacher.model.num_heads": 2,
            "total_steps": 60, "log_every": 20, "eval_every": 0, "checkpoint_every": 60,
            "eval_batch_size": 128,
        },
        "full": {
            "dataset.vocab_size": 50, "dataset.length": 32, "dataset.num_train": 20000,
            "model.width": 32, "teacher.model.num_layers": 4, "teacher.model.width": 128,
            "total_steps": 10000, "log_every": 500, "eval_every": 5000,
            "checkpoint_every": 5000,
        },
    })
    return config
