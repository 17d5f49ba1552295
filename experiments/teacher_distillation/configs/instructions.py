"""Teacher distillation on synthetic instruction data, then domain alignment [P193].

Kothari et al. (2024), "A Teacher Is Worth A Million Instructions", at toy scale:
instruction sequences ``[TAG, prompt, SEP, response]`` over 10 content tokens
with prompts of length 6, general tasks copy / reverse / shift / sort and the
domain task cumsum (prefix sums mod 10); each response token is replaced by a
uniform one with probability ``instructions.noise``. A larger teacher (2 layers,
width 128) is trained on 4,000 general examples (``--config.role=teacher``); a
small student (2 layers, width 32) sees only ``instructions.num_train`` of them
and is trained by CE (``objective.name=ce``) or by distillation from the teacher
(``objective.name=kd --config.teacher.workdir=W``; ``alpha=1``, ``T=1`` as in the
paper's public config). Domain alignment: a domain expert (the teacher
architecture, ``--config.role=expert``) is trained on the domain task, and the
KD student is tuned with ``objective.name=dae`` from ``objective.init_from`` on
batches with a fraction ``objective.domain_fraction`` of domain examples,
distilled from the expert, the rest from the teacher. Reports the exact KL per
response token to the true response distribution (``resp_kl``, headline) and
exact match of greedy decoding (``exact_match``; per task ``em_<task>``). One command
runs the stages ``teacher``, ``student`` (KD), ``expert`` and ``dae`` (each reads the
earlier ones by stage name); ``--config.stages.order="()"`` runs the config alone, as
the flags above describe. Modes:
``runlocal`` (tests), default (the README table; each run about a minute on 2 CPU
cores), ``full``. Default mode, one seed: with 200 examples the student reaches
``resp_kl`` 3.630 / exact match 0.9 % by CE and 1.282 / 16.9 % by KD (1,000 examples:
0.351 / 60.1 % vs 0.090 / 93.1 %; teacher 0.080 / 95.1 %); DAE lowers the domain KL
3.169 -> 1.586 with general KL 1.282 -> 1.162. Numbers and commands:
experiments/teacher_distillation/README.md.
"""

import ml_collections

from likelihood_jax.sequence import presets
from likelihood_jax.train.config import apply_mode, base_config, runlocal
from likelihood_jax.train.stages import stages_config


def get_config(arg=None):
    config = base_config("teacher_distillation", dataset="instructions")
    config.instructions = ml_collections.ConfigDict({
        "vocab_size": 10, "prompt_len": 6, "noise": 0.1, "tasks": "copy,reverse,shift,sort",
        "domain_task": "cumsum", "teacher_num_train": 4000, "num_train": 200,
        "num_domain_train": 200, "num_test": 1000, "data_seed": 0,
    })
    # The student (2 layers, width 32) and the teacher (and expert: 2 layers, width 128).
    config.update(presets.teacher_student(
        presets.transformer(num_layers=2, width=32, num_heads=2),
        presets.transformer(num_layers=2, width=128),
        teacher_fields=("from_stage", "workdir", "expert_from_stage", "expert_workdir"),
        total_steps=1500, log_every=100, eval_every=500, eval_batch_size=1000))
    config.objective = ml_collections.ConfigDict({
        "name": "kd", "alpha": 1.0, "temperature": 1.0, "init_from_stage": "", "init_from": "",
        "domain_fraction": 0.5,
    })
    # One command: the teacher, the KD student, the domain expert, then DAE from the student.
    config.stages = stages_config(
        ("teacher", {"role": "teacher"}),
        ("student", {"teacher": {"from_stage": "teacher"}}),
        ("expert", {"role": "expert"}),
        ("dae", {"objective": {"name": "dae", "init_from_stage": "student"},
                 "teacher": {"from_stage": "teacher", "expert_from_stage": "expert"}}),
    )
    apply_mode(config, arg, {
        # Tests: tiny data and transformers without blocks (token bigram models): most of a
        # short run is compiling each of the four stages' functions.
        "runlocal": runlocal(30, {
            "instructions.vocab_size": 6, "instructions.prompt_len": 3,
            "instructions.teacher_num_train": 256, "instructions.num_train": 32,
            "instructions.num_domain_train": 32, "instructions.num_test": 64,
            "model.num_layers": 0, "model.width": 16, "teacher.model.num_layers": 0,
            "teacher.model.width": 32, "optim.lr": 3e-3,
        }, eval_batch_size=64),
        "full": {
            "instructions.vocab_size": 16, "instructions.prompt_len": 10,
            "instructions.teacher_num_train": 50000, "instructions.num_train": 1000,
            "instructions.num_domain_train": 1000, "model.width": 64, "model.num_heads": 4,
            "teacher.model.num_layers": 4, "teacher.model.width": 256,
            "teacher.model.num_heads": 8, "total_steps": 10000, "log_every": 500,
            "eval_every": 2500, "checkpoint_every": 5000,
        },
    })
    return config
