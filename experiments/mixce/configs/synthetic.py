"""MixCE [P023] on a synthetic sparse Markov source with a known distribution.

Zhang et al. (2023), "MixCE: Training autoregressive language models by mixing
forward and reverse cross-entropies", synthetic setting: a random bigram source
(Dirichlet(0.5) rows, half of each row's transitions set to zero; here the zeros
keep a floor of 1e-3 / V so that the reverse cross-entropy stays finite) and a
model trained with MixCE at mixing ratio ``objective.eta`` (1 = MLE). Sweep
``--config.objective.eta=1.0|0.5|0.1``. Reports forward/reverse CE per token,
exact TV on all length-``eval.enum_length`` sequences and the model's mass on
sequences that use a (near-)zero transition. Modes: ``runlocal`` (tests),
default (the README table, a few minutes on 2 CPU cores), ``full`` (larger
vocabulary and model). Numbers: experiments/mixce/README.md.
"""

import ml_collections

from likelihood_jax.train.config import base_config, check_mode


def get_config(arg=None):
    mode = check_mode(arg)
    config = base_config("mixce", dataset="markov")
    config.source = ml_collections.ConfigDict({
        "kind": "markov", "seed": 0, "vocab_size": 20, "order": 1, "concentration": 0.5,
        "zero_fraction": 0.5, "floor": 1e-3, "length": 16, "num_train": 10000,
        "num_test": 2000, "data_seed": 1,
    })
    config.model = ml_collections.ConfigDict({
        "kind": "transformer", "num_layers": 2, "width": 64, "num_heads": 4,
        "position": "rotary", "max_len": 64,
    })
    config.objective = ml_collections.ConfigDict({"eta": 1.0})
    config.eval = ml_collections.ConfigDict({"enum_length": 3, "rare_threshold": 1e-3})
    config.optim.lr = 1e-3
    config.optim.schedule = "cosine"
    config.batch_size = 64
    config.eval_batch_size = 2000
    if mode == "runlocal":
        config.source.update({"vocab_size": 8, "length": 8, "num_train": 2000, "num_test": 256})
        config.model.update({"num_layers": 1, "width": 32, "num_heads": 2})
        config.total_steps = 150
        config.log_every = 25
        config.checkpoint_every = 150
        config.eval_batch_size = 256
    elif mode == "default":
        config.total_steps = 3000
        config.log_every = 100
        config.eval_every = 1000
        config.checkpoint_every = 1000
    else:
        config.source.update({"vocab_size": 50, "length": 32, "num_train": 50000})
        config.model.update({"num_layers": 4, "width": 128})
        config.total_steps = 20000
        config.log_every = 500
        config.eval_every = 5000
        config.checkpoint_every = 5000
    return config
