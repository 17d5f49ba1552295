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

from experiments.distillation.configs.common import MODES, distillation_config
from likelihood_jax.sequence import presets
from likelihood_jax.train.config import apply_mode


def get_config(arg=None):
    config = distillation_config(
        presets.markov_source(vocab_size=16, order=2, num_train=2000, num_test=2000,
                              train_noise=0.0),
        model=presets.transformer(width=16, num_heads=2),
        teacher_model=presets.transformer(num_layers=2, width=64, num_heads=4),
        objective={"name": "kd", "alpha": 0.9, "temperature": 2.0, "teacher_dropout": 0.0,
                   "replace_rate": 0.0, "drop_rate": 0.0})
    apply_mode(config, arg, MODES, {
        # GRUs: half the compilation of the transformers, most of a short run's time.
        "runlocal": {"dataset.order": 1, "model.kind": "gru", "teacher.model.kind": "gru",
                     "teacher.model.num_layers": 1, "teacher.model.width": 32,
                     "teacher.model.num_heads": 2, "optim.lr": 1e-2},
        "full": {"dataset.num_train": 20000, "model.width": 32, "teacher.model.num_layers": 4,
                 "teacher.model.width": 128},
    })
    return config
