"""EMO [P032] against MLE on a synthetic sparse Markov source with exact metrics.

Ren, Wu & Zhu (2024), "EMO: Earth Mover Distance Optimization for Auto-Regressive
Language Modeling": the same causal transformer trained by MLE
(``--config.objective.weight=0``) and by EMO + MLE as the authors combine them
(``weight=1``), on a random bigram source (20 tokens, half the transitions
zeroed, as in experiments/mixce). Reports exact TV on length-3 sequences,
forward/reverse CE per token and the model's mass on zeroed transitions. Modes:
``runlocal`` (tests), default (the README table, about a minute per run on 2 CPU
cores), ``full``. Numbers: experiments/emo/README.md.
"""

import ml_collections

from likelihood_jax.train.config import base_config, check_mode


def get_config(arg=None):
    mode = check_mode(arg)
    config = base_config("emo", dataset="markov")
    config.source = ml_collections.ConfigDict({
        "kind": "markov", "seed": 0, "vocab_size": 20, "order": 1, "concentration": 0.5,
        "zero_fraction": 0.5, "floor": 1e-3, "length": 16, "num_train": 10000,
        "num_test": 1000, "data_seed": 1,
    })
    config.model = ml_collections.ConfigDict({
        "kind": "transformer", "num_layers": 1, "width": 48, "num_heads": 4,
        "position": "rotary", "max_len": 64,
    })
    config.objective = ml_collections.ConfigDict({"weight": 1.0})
    config.eval = ml_collections.ConfigDict({"enum_length": 3, "rare_threshold": 1e-3})
    config.optim.lr = 1e-3
    config.optim.schedule = "cosine"
    config.batch_size = 64
    config.eval_batch_size = 1000
    if mode == "runlocal":
        config.source.update({"vocab_size": 8, "length": 8, "num_train": 1000, "num_test": 128})
        config.model.update({"width": 32, "num_heads": 2})
        config.total_steps = 100
        config.log_every = 20
        config.checkpoint_every = 100
        config.eval_batch_size = 128
    elif mode == "default":
        config.total_steps = 1500
        config.log_every = 100
        config.checkpoint_every = 1500
    else:
        config.source.update({"vocab_size": 50, "length": 32, "num_train": 50000})
        config.model.update({"num_layers": 4, "width": 128})
        config.total_steps = 20000
        config.log_every = 500
        config.eval_every = 5000
        config.checkpoint_every = 5000
    return config
