"""SALT [P153]: a small, weaker LM's soft labels in the early phase of a larger LM's training.

Rawat et al. (2024), "A Little Help Goes a Long Way: Efficient LLM Training by
Leveraging Small LMs", at toy scale on a synthetic source with exact metrics: a
random sparse order-2 Markov chain over 16 tokens. The SLM (``config.teacher.model``,
1 layer of width 16) is trained first (stage ``teacher``, ``role=teacher``); the larger
student (2 layers, width 64; stage ``student``, reading the SLM from the ``teacher``
stage) is then trained with ``objective.name`` = ``ce`` (baseline), ``kd`` (KD from the
SLM throughout), ``salt`` (KD for the first ``objective.kd_steps`` steps, then CE) or
``salt_ds`` (SALT whose KD stage trains on the SLM-selected "challenging yet learnable"
sequences). One command runs both stages; ``--config.stages.order="()"`` runs the config
alone (e.g. a student of a finished SLM with ``--config.teacher.workdir=W``). Reports
held-out NLL per token (``fwd_ce``, the headline), exact TV on length-3 sequences,
reverse CE; evaluated every
``eval_every`` steps so that steps-to-target can be read off ``metrics.jsonl``.
Modes: ``runlocal`` (tests), default (the README table, each run about a minute on
2 CPU cores), ``full``. Default mode, 3 seeds: final held-out NLL 2.051 (CE), 1.940
(KD throughout, but TV 0.296 vs 0.198), 1.895 (SALT), 2.040 (SALT_DS); SALT reaches
NLL 1.95 by step 400 in 3/3 seeds, CE in 1/3. Numbers and commands:
experiments/slm_kd/README.md.
"""

import ml_collections

from likelihood_jax.sequence import presets
from likelihood_jax.train.config import apply_mode, base_config, runlocal
from likelihood_jax.train.stages import stages_config


def get_config(arg=None):
    config = base_config("slm_kd", dataset="markov")
    config.dataset = presets.markov_source(vocab_size=16, order=2, num_train=1000)
    # The student (2 layers, width 64) and the SLM (1 layer, width 16); 1000 steps, evaluated
    # every 50 (steps to a target NLL).
    config.update(presets.teacher_student(
        presets.transformer(num_layers=2, width=64), presets.transformer(width=16, num_heads=2),
        teacher_fields=("from_stage", "workdir"), total_steps=1000, log_every=50,
        eval_every=50, eval_batch_size=1000))
    config.objective = ml_collections.ConfigDict({
        "name": "salt", "weight": 0.5, "temperature": 1.0, "kd_steps": 300,
        "transition": "step", "select_fraction": 0.5, "select_top_k": 3,
    })
    config.eval = presets.exact_eval()
    # One command: the SLM (teacher), then the student trained with its soft labels.
    config.stages = stages_config(*presets.teacher_then_student())
    apply_mode(config, arg, {
        # Tests: an order-1 source, so that transformers without blocks (bigram models) are
        # of the right class; compiling each stage's functions dominates a short run.
        "runlocal": runlocal(40, {
            "dataset.vocab_size": 8, "dataset.order": 1, "dataset.length": 8,
            "dataset.num_train": 200, "dataset.num_test": 128, "model.num_layers": 0,
            "model.width": 32, "teacher.model.num_layers": 0, "teacher.model.width": 8,
            "objective.kd_steps": 20, "optim.lr": 3e-3,
        }, eval_batch_size=128),
        "full": {
            "dataset.vocab_size": 50, "dataset.length": 32, "dataset.num_train": 20000,
            "model.num_layers": 4, "model.width": 128, "teacher.model.num_layers": 2,
            "teacher.model.width": 32, "objective.kd_steps": 3000, "total_steps": 10000,
            "log_every": 250, "eval_every": 250, "checkpoint_every": 5000,
        },
    })
    return config
