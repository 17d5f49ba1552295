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

from likelihood_jax.train.config import base_config, check_mode


def get_config(arg=None):
    mode = check_mode(arg)
    config = base_config("prob_objectives", dataset="markov")
    config.source = ml_collections.ConfigDict({
        "kind": "markov", "seed": 0, "vocab_size": 20, "order": 1, "concentration": 0.5,
        "zero_fraction": 0.5, "floor": 1e-3, "length": 16, "num_train": 10000,
        "num_test": 1000, "data_seed": 1,
    })
    config.model = ml_collections.ConfigDict({
        "kind": "transformer", "num_layers": 1, "width": 48, "num_heads": 4,
        "position": "rotary", "max_len": 64,
    })
    config.objective = ml_collections.ConfigDict({
        "alpha": 0.0, "threshold": 0.0, "pretrain_steps": 1000, "noise": 0.2,
    })
    config.eval = ml_collections.ConfigDict({"enum_length": 3, "rare_threshold": 1e-3})
    config.optim.lr = 1e-3
    config.batch_size = 64
    config.eval_batch_size = 1000
    if mode == "runlocal":
        config.source.update({"vocab_size": 8, "length": 8, "num_train": 1000, "num_test": 128})
        config.model.update({"width": 32, "num_heads": 2})
        config.objective.pretrain_steps = 60
        config.objective.alpha = 1.0
        config.total_steps = 100
        config.log_every = 20
        config.checkpoint_every = 100
        config.eval_batch_size = 128
    elif mode == "default":
        config.total_steps = 1500  # pass --config.total_steps=pretrain_steps + 500
        config.log_every = 100
        config.checkpoint_every = 2000
    else:
        config.source.update({"vocab_size": 50, "length": 32, "num_train": 50000})
        config.model.update({"num_layers": 4, "width": 128})
        config.objective.pretrain_steps = 10000
        config.total_steps = 15000
        config.log_every = 500
        config.eval_every = 5000
        config.checkpoint_every = 5000
    return config
