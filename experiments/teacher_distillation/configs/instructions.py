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
exact match of greedy decoding (``exact_match``; per task ``em_<task>``). Modes:
``runlocal`` (tests), default (the README table; each run about a minute on 2 CPU
cores), ``full``. Default mode, one seed: with 200 examples the student reaches
``resp_kl`` 3.630 / exact match 0.9 % by CE and 1.282 / 16.9 % by KD (1,000 examples:
0.351 / 60.1 % vs 0.090 / 93.1 %; teacher 0.080 / 95.1 %); DAE lowers the domain KL
3.169 -> 1.586 with general KL 1.282 -> 1.162. Numbers and commands:
experiments/teacher_distillation/README.md.
"""

import ml_collections

from likelihood_jax.train.config import base_config, check_mode


def get_config(arg=None):
    mode = check_mode(arg)
    config = base_config("teacher_distillation", dataset="instructions")
    config.role = "student"
    config.instructions = ml_collections.ConfigDict({
        "vocab_size": 10, "prompt_len": 6, "noise": 0.1, "tasks": "copy,reverse,shift,sort",
        "domain_task": "cumsum", "teacher_num_train": 4000, "num_train": 200,
        "num_domain_train": 200, "num_test": 1000, "data_seed": 0,
    })
    config.model = ml_collections.ConfigDict({
        "kind": "transformer", "num_layers": 2, "width": 32, "num_heads": 2,
        "position": "rotary", "max_len": 64,
    })
    config.teacher = ml_collections.ConfigDict({
        "workdir": "", "expert_workdir": "",
        "model": {"kind": "transformer", "num_layers": 2, "width": 128, "num_heads": 4,
                  "position": "rotary", "max_len": 64},
    })
    config.objective = ml_collections.ConfigDict({
        "name": "kd", "alpha": 1.0, "temperature": 1.0, "init_from": "",
        "domain_fraction": 0.5,
    })
    config.optim.lr = 1e-3
    config.optim.schedule = "cosine"
    config.batch_size = 32
    config.eval_batch_size = 1000
    if mode == "runlocal":
        config.instructions.update({"vocab_size": 6, "prompt_len": 3, "teacher_num_train": 256,
                                    "num_train": 32, "num_domain_train": 32, "num_test": 64})
        config.model.update({"num_layers": 1, "width": 16})
        config.teacher.model.update({"num_layers": 1, "width": 32})
        config.total_steps = 30
        config.log_every = 10
        config.checkpoint_every = 30
        config.eval_batch_size = 64
    elif mode == "default":
        config.total_steps = 1500
        config.log_every = 100
        config.eval_every = 500
        config.checkpoint_every = 1500
    else:
        config.instructions.update({"vocab_size": 16, "prompt_len": 10,
                                    "teacher_num_train": 50000, "num_train": 1000,
                                    "num_domain_train": 1000})
        config.model.update({"width": 64, "num_heads": 4})
        config.teacher.model.update({"num_layers": 4, "width": 256, "num_heads": 8})
        config.total_steps = 10000
        config.log_every = 500
        config.eval_every = 2500
        config.checkpoint_every = 5000
    return config
