"""STable [P046]: any-order table generation from text with the LM stack's Seq2Seq.

Paper: Pietruszka et al. 2022/2024, "STable: Table Generation Framework for Encoder-Decoder
Models". Reproduces, at small scale: training on random factorisation orders of the cells
(``order=random``) with order search at inference against the fixed left-to-right order
(``--config.order=fixed``), on ``text_tables`` (3 rows x (a, b, c = a + b mod 8), one cell
per row implied by the other two). Metrics: cell accuracy and table exact match of greedy
decoding in the fixed order and with the search.
Modes: ``runlocal`` (seconds: the tests), default (the README numbers), ``full``.
Measured (default mode, seeds 0-2): cell accuracy 0.408 +- 0.403 for random-order training
with search against 0.810 +- 0.387 for the fixed-order baseline (fixed decoding): the
claim does not show after 600 steps. Table: experiments/any_order_tables/README.md.
"""

import ml_collections

from likelihood_jax.train.config import apply_mode, base_config, runlocal


def get_config(arg=None):
    config = base_config("any_order_tables", dataset="text_tables")
    config.dataset.num_rows = 3
    config.dataset.num_values = 8
    config.dataset.num_train = 4000
    config.dataset.num_test = 300
    config.order = "random"
    config.model = ml_collections.ConfigDict({"num_layers": 1, "width": 32, "num_heads": 2})
    config.optim.lr = 3e-3
    config.optim.schedule = "cosine"
    config.optim.warmup_steps = 50
    config.optim.grad_clip_norm = 1.0
    config.batch_size = 64
    config.eval_batch_size = 300
    config.total_steps = 600
    config.log_every = 100
    config.checkpoint_every = 600
    apply_mode(config, arg, {
        "runlocal": runlocal(40, {"dataset.num_rows": 2, "dataset.num_train": 256,
                                  "dataset.num_test": 32, "model.num_layers": 1,
                                  "model.width": 16, "model.num_heads": 2, "optim.lr": 3e-3,
                                  "optim.warmup_steps": 0},
                             batch_size=32, eval_batch_size=32),
        "full": {"total_steps": 20000, "model.num_layers": 2, "model.width": 128,
                 "dataset.num_train": 50000},
    })
    return config
