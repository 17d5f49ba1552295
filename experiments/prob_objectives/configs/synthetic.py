"""Probability-based objectives [P053] on a synthetic Markov source with noisy fine-tuning data.

Li et al. (2025), "Beyond Log Likelihood": MLE pretraining on clean samples of a
random bigram source for ``objective.pretrain_steps`` steps (100 = model-weak,
1000 = model-strong), then fine-tuning on samples with 20% of the tokens
replaced at random, with ``f_alpha`` (``objective.alpha``: 0 = NLL, 1 = -p,
10 = -p^10) on tokens with ``p >= objective.threshold``. Sweep
``--config.objective.pretrain_steps=100|1000`` (with ``--config.total_steps``
set to it + 500) x ``--config.objective.alpha=0|1|10``
(and ``--config.objective.threshold=0.1 --config.objective.alpha=0``). Reports
exact TV to the clean source on length-3 sequences and forward/reverse CE.
Modes: ``runlocal`` (tests), default (the README table, about a minute per run
on 2 CPU cores), ``full``. Numbers: experiments/prob_objectives/README.md.
"""

import ml_collections

from likelihood_jax.sequence import presets
from likelihood_jax.train.config import apply_mode, base_config, runlocal


def get_config(arg=None):
    config = base_config("prob_objectives", dataset="markov")
    config.update(presets.synthetic_lm())
    config.optim.schedule = "constant"
    # The fine-tuning data: a second draw with 20 % of its tokens replaced (train x_noisy).
    config.dataset.noisy_copy = 0.2
    config.objective = ml_collections.ConfigDict({
        "alpha": 0.0, "threshold": 0.0, "pretrain_steps": 1000,
    })
    apply_mode(config, arg, presets.synthetic_lm_modes(), {
        "runlocal": runlocal(80, {"objective.pretrain_steps": 50, "objective.alpha": 1.0}),
        # default: pass --config.total_steps=pretrain_steps + 500
        "default": {"checkpoint_every": 2000},
        "full": {"objective.pretrain_steps": 10000, "total_steps": 15000},
    })
    return config
