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

from likelihood_jax.sequence import presets
from likelihood_jax.train.config import apply_mode, base_config, runlocal


def get_config(arg=None):
    config = base_config("packing", dataset="shakespeare_char")
    config.packing = ml_collections.ConfigDict({
        "method": "best_fit", "window": 128, "attention": "segment", "head": 16,
        "num_train_docs": 0, "num_test_docs": 512,
    })
    config.model = presets.transformer(num_layers=2, width=96, max_len=256)
    config.optim.update({"lr": 2e-3, "schedule": "warmup_cosine", "warmup_steps": 50,
                         "grad_clip_norm": 1.0})
    config.batch_size = 16
    config.eval_batch_size = 256
    apply_mode(config, arg, {
        "runlocal": runlocal(30, {"packing.window": 32, "packing.num_train_docs": 2000,
                                  "packing.num_test_docs": 32, "model.num_layers": 1,
                                  "model.width": 32, "model.num_heads": 2,
                                  "optim.warmup_steps": 3}),
        "default": {"total_steps": 800, "log_every": 100, "checkpoint_every": 800},
        "full": {"packing.window": 512, "packing.num_test_docs": 2048, "model.num_layers": 6,
                 "model.width": 384, "model.num_heads": 6, "model.max_len": 1024,
                 "batch_size": 64, "total_steps": 20000, "log_every": 500, "eval_every": 5000,
                 "checkpoint_every": 5000},
    })
    return config
