"""Unlikelihood training [P055] on character-level Shakespeare (``shakespeare_char``).

Welleck et al. (2019), "Neural text generation with unlikelihood training", and
Lagutin et al. (2021), "Implicit unlikelihood training" (P055): a small causal
transformer trained with MLE (``objective.alpha=0``) or token-level unlikelihood
(``alpha=1``), then fine-tuned from such a run (``objective.init_from=<workdir>``)
with sequence-level unlikelihood on greedy continuations (``seq_rate=0.5``) and
optionally policy-gradient updates with reward ``1 - seq_rep_4`` (``pg_rate``).
The variants of the README table differ only in ``--config.objective.*`` and
``--config.total_steps``. Reports bits/char and repetition (next-character
``rep16``/``wrep16``; ``seq_rep_4`` of greedy and sampled continuations).
Modes: ``runlocal`` (tests), default (the README table, minutes on 2 CPU cores),
``full``. Numbers: experiments/unlikelihood/README.md.
"""

import ml_collections

from likelihood_jax.train.config import base_config, check_mode


def get_config(arg=None):
    mode = check_mode(arg)
    config = base_config("unlikelihood", dataset="shakespeare_char")
    config.dataset.num_test_windows = 256
    config.model = ml_collections.ConfigDict({
        "kind": "transformer", "context": 64, "num_layers": 2, "width": 128, "num_heads": 4,
        "position": "rotary", "max_len": 256,
    })
    config.objective = ml_collections.ConfigDict({
        "alpha": 0.0, "window": None, "seq_rate": 0.0, "pg_rate": 0.0, "prefix_len": 16,
        "continuation_len": 48, "ngram": 4, "init_from": "",
    })
    config.eval = ml_collections.ConfigDict({
        "prefix_len": 16, "continuation_len": 48, "ngram": 4, "rep_windows": (16,),
    })
    config.optim.lr = 2e-3
    config.optim.schedule = "warmup_cosine"
    config.optim.warmup_steps = 100
    config.optim.grad_clip_norm = 1.0
    config.batch_size = 32
    config.eval_batch_size = 256
    if mode == "runlocal":
        config.dataset.num_test_windows = 16
        config.model.update({"context": 32, "num_layers": 1, "width": 32, "num_heads": 2})
        config.objective.update({"prefix_len": 8, "continuation_len": 16, "alpha": 1.0,
                                 "seq_rate": 0.25, "pg_rate": 0.25})
        config.eval.update({"prefix_len": 8, "continuation_len": 16})
        config.optim.warmup_steps = 5
        config.total_steps = 40
        config.log_every = 10
        config.checkpoint_every = 40
    elif mode == "default":
        config.total_steps = 1000
        config.log_every = 100
        config.eval_every = 500
        config.checkpoint_every = 500
    else:
        config.dataset.num_test_windows = 1024
        config.model.update({"context": 256, "num_layers": 6, "width": 384, "num_heads": 6,
                             "max_len": 512})
        config.objective.update({"prefix_len": 64, "continuation_len": 160})
        config.eval.update({"prefix_len": 64, "continuation_len": 160})
        config.batch_size = 64
        config.total_steps = 20000
        config.log_every = 500
        config.eval_every = 5000
        config.checkpoint_every = 5000
    return config
