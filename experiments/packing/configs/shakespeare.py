"""Best-fit packing [P152] vs concatenate-and-chunk on ``shakespeare_char`` speeches.

Ding et al. (2024), "Fewer Truncations Improve Language Modeling": pack training
documents (speeches, BOS-prefixed) into rows of ``packing.window`` tokens by
``--config.packing.method=best_fit|concat`` and train the same causal transformer
by MLE on the same number of rows; reports truncated documents and held-out
bits/char on the first ``window`` tokens of held-out speeches, overall and on
their first ``packing.head`` characters. Modes: ``runlocal`` (tests), default
(the README table, about 3 minutes on 2 CPU cores), ``full``. Numbers:
experiments/packing/README.md.
"""

import ml_collections

from likelihood_jax.train.config import base_config, check_mode


def get_config(arg=None):
    mode = check_mode(arg)
    config = base_config("packing", dataset="shakespeare_char")
    config.packing = ml_collections.ConfigDict({
        "method": "best_fit", "window": 128, "attention": "segment", "head": 16,
        "num_train_docs": 0, "num_test_docs": 512,
    })
    config.model = ml_collections.ConfigDict({
        "kind": "transformer", "num_layers": 2, "width": 96, "num_heads": 4,
        "position": "rotary", "max_len": 256,
    })
    config.optim.lr = 2e-3
    config.optim.schedule = "warmup_cosine"
    config.optim.warmup_steps = 50
    config.optim.grad_clip_norm = 1.0
    config.batch_size = 16
    config.eval_batch_size = 256
    if mode == "runlocal":
        config.packing.update({"window": 32, "num_train_docs": 2000, "num_test_docs": 32})
        config.model.update({"num_layers": 1, "width": 32, "num_heads": 2})
        config.optim.warmup_steps = 5
        config.total_steps = 40
        config.log_every = 10
        config.checkpoint_every = 40
    elif mode == "default":
        config.total_steps = 800
        config.log_every = 100
        config.checkpoint_every = 800
    else:
        config.packing.update({"window": 512, "num_test_docs": 2048})
        config.model.update({"num_layers": 6, "width": 384, "num_heads": 6, "max_len": 1024})
        config.batch_size = 64
        config.total_steps = 20000
        config.log_every = 500
        config.eval_every = 5000
        config.checkpoint_every = 5000
    return config
