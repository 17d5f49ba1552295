r"""Masked language model scoring [P239] on a synthetic Markov source with known P.

Salazar, Liang, Nguyen & Kirchhoff (2020), "Masked Language Model Scoring" (ACL 2020):
pseudo-log-likelihood ``PLL(W) = sum_t log P_MLM(w_t | W_\t)`` of a small masked LM
(BERT masking, 15 % / 80-10-10), against a causal LM of the same size trained on the same
batches and against the source's true log-probability: ranking source sequences above
corrupted ones, picking the original from a list of noisy candidates, and the correlation
of PLL with log P. Modes: ``runlocal`` (tests), default (the README table, about 3
minutes on the shared 2-core CPU), ``full`` (larger source and models). Default mode
reached: PLL ranks the original above a one-token replacement for 90.9 % of test sequences
(true log P: 91.8 %, causal LM: 91.6 %) and picks the original from 5 candidates 89.5 % of
the time; Pearson r(PLL, log P) = 0.881. Details: experiments/mlm_scoring/README.md.
"""

import ml_collections

from likelihood_jax.train.config import base_config, check_mode


def get_config(arg=None):
    mode = check_mode(arg)
    config = base_config("mlm_scoring", dataset="markov_mixture")
    config.source = ml_collections.ConfigDict({
        "kind": "markov", "seed": 0, "vocab_size": 10, "order": 1, "concentration": 0.3,
        "num_components": 1, "length": 12, "num_train": 20000, "num_test": 1000,
        "data_seed": 1,
    })
    config.model = ml_collections.ConfigDict({
        "num_layers": 2, "width": 64, "num_heads": 4, "position": "rotary", "max_len": 64,
    })
    config.masking = ml_collections.ConfigDict({"rate": 0.15, "mask_prob": 0.8,
                                                "random_prob": 0.1})
    config.eval = ml_collections.ConfigDict({"num_candidates": 5, "num_edits": 2,
                                             "num_corr": 500})
    config.optim.lr = 1e-3
    config.optim.schedule = "warmup_cosine"
    config.optim.warmup_steps = 100
    config.optim.grad_clip_norm = 1.0
    config.batch_size = 64
    config.eval_batch_size = 500
    if mode == "runlocal":
        config.source.update({"vocab_size": 6, "length": 8, "num_train": 1000, "num_test": 64})
        config.model.update({"num_layers": 1, "width": 32, "num_heads": 2})
        config.eval.update({"num_candidates": 3, "num_corr": 64})
        config.optim.warmup_steps = 5
        config.total_steps = 60
        config.log_every = 20
        config.checkpoint_every = 60
        config.eval_batch_size = 64
    elif mode == "default":
        config.total_steps = 2000
        config.log_every = 100
        config.checkpoint_every = 1000
    else:
        config.source.update({"vocab_size": 30, "order": 2, "length": 24, "num_train": 100000,
                              "num_test": 2000})
        config.model.update({"num_layers": 4, "width": 128})
        config.total_steps = 20000
        config.log_every = 500
        config.eval_every = 5000
        config.checkpoint_every = 5000
    return config
