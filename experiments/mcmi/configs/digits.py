"""MCMI teachers [P034] on the 8x8 digits: KD from an MLE teacher vs an MCMI teacher.

Ye, Hamidi, Tan & Yang (2024), "Bayes conditional distribution estimation for
knowledge distillation based on conditional mutual information" (ICLR 2024). A
teacher MLP (2 x 256) is trained by MLE (``teacher.cmi_weight=0``) or by MCMI
(``CE - lambda * CMI``, ``teacher.cmi_weight=lambda``); a small student MLP (one hidden
layer of 16) is then trained with labels alone (``objective.name=ce``) or Hinton KD from
the teacher (``objective.name=kd``). One command runs both as the stages ``teacher`` and
``student`` (``WORKDIR/teacher``, ``WORKDIR/student``); ``--config.stages.order="()"``
runs the config alone (``--config.role=teacher``, or a student of a finished teacher with
``--config.teacher.workdir=W``). The student learns on all training digits, on 5% of every class
(``data.train_fraction=0.05``, few-shot), or without one class
(``data.omit_class=k``, zero-shot for class k). ``configs/sweep.py`` runs
the whole table (teachers and students, several seeds) in one process. Reached
(default, mean of 3 seeds): omitting class 3 from the student's data, its test accuracy
on 3s is 0.0% with the MLE teacher and 30.1% / 47.3% with MCMI teachers (lambda = 1 / 3);
student accuracy is not improved (full data: 0.930 MLE teacher, 0.908 lambda = 1; 5% of the
data: 0.907 vs 0.901). Modes: ``runlocal`` (tests), default (README), ``full``.
Numbers and commands: experiments/mcmi/README.md.
"""

import ml_collections

from likelihood_jax.train.config import apply_mode, base_config, runlocal
from likelihood_jax.train.stages import stages_config


def get_config(arg=None):
    config = base_config("mcmi", dataset="digits")
    config.role = "student"
    config.model = ml_collections.ConfigDict({"hidden_dims": (16,)})
    config.teacher = ml_collections.ConfigDict({
        "model": {"hidden_dims": (256, 256)}, "cmi_weight": 0.0, "total_steps": 2000,
        "from_stage": "", "workdir": "", "init_from": "", "init_steps": 2000,
    })
    config.objective = ml_collections.ConfigDict({"name": "kd", "alpha": 1.0,
                                                  "temperature": 4.0})
    config.data = ml_collections.ConfigDict({"train_fraction": 1.0, "omit_class": -1,
                                             "subset_seed": 0})
    config.optim.lr = 1e-3
    config.optim.schedule = "cosine"
    config.optim.weight_decay = 0.0
    config.batch_size = 64
    config.eval_batch_size = 1000  # the whole test split in one batch: exact test-set CMI
    config.num_plot_samples = 0
    config.total_steps = 2000
    config.log_every = 250
    config.checkpoint_every = 2000
    # One command: the teacher (teacher.total_steps steps), then the student distilled from it.
    config.stages = stages_config(
        ("teacher", {"role": "teacher"}),
        ("student", {"teacher": {"from_stage": "teacher"}}),
    )
    apply_mode(config, arg, {
        # The method end to end: an MCMI teacher (weight 0.2), a student without class 3.
        "runlocal": runlocal(60, {
            "model.hidden_dims": (8,), "teacher.model.hidden_dims": (32,),
            "teacher.total_steps": 60, "teacher.init_steps": 60, "teacher.cmi_weight": 0.2,
            "data.omit_class": 3}, num_plot_samples=0),
        "full": {
            "dataset.name": "mnist5k", "model.hidden_dims": (64,),
            "teacher.model.hidden_dims": (512, 512), "teacher.total_steps": 10000,
            "teacher.init_steps": 10000, "total_steps": 10000, "log_every": 500,
            "checkpoint_every": 5000,
        },
    })
    return config
