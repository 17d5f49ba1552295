r"""Membership inference with Min-K% Prob [P105] and Min-K%++ [P251] on ``shakespeare_char``.

Shi et al. (2024), "Detecting Pretraining Data from Large Language Models"; Zhang et al.
(2025), "Min-K%++: Improved Baseline for Detecting Pre-Training Data from Large Language
Models". A two-layer causal transformer is trained by MLE on ``dataset.num_members`` random
65-character windows of the shakespeare_char train split (the members) for many epochs; as many
other windows of the same split are held out (the non-members). Reproduces: the AUROC of
Min-K%++, Min-K% and the mean log-probability (and zlib) at telling members from non-members
(the papers' claim: Min-K%++ > Min-K% > the loss baseline). Modes: ``runlocal`` (tests),
default (the README table, 1 to 2 minutes per seed on the shared CPU), ``full`` (more members,
a larger model). Default mode reached, 3 seeds, k = 20%: AUROC Min-K%++ 0.888 +- 0.026, Min-K%
0.876 +- 0.025, mean log-probability 0.900 +- 0.026 (Min-K%++ > Min-K% on every seed, the
baseline above both). Details: experiments/membership_inference/README.md.
"""

import ml_collections

from likelihood_jax.sequence import presets
from likelihood_jax.train.config import apply_mode, base_config, runlocal


def get_config(arg=None):
    config = base_config("membership_inference", dataset="shakespeare_char")
    config.dataset.num_members = 1024
    config.model = presets.transformer(context=64, num_layers=2, width=128, max_len=128)
    config.eval = ml_collections.ConfigDict({"k": 0.2, "k_grid": (0.1, 0.2, 0.5)})
    config.optim.update({"lr": 2e-3, "schedule": "warmup_cosine", "warmup_steps": 50,
                         "grad_clip_norm": 1.0})
    config.batch_size = 32
    config.eval_batch_size = 256
    config.num_plot_samples = 0
    config.total_steps = 500
    config.log_every = 100
    config.checkpoint_every = 500
    apply_mode(config, arg, {
        # Tests: a one-layer GRU of width 32 on 32-character windows, 16 + 16 windows.
        "runlocal": runlocal(30, {"dataset.num_members": 16, "model.kind": "gru",
                                  "model.context": 32, "model.num_layers": 1,
                                  "model.width": 32, "optim.lr": 1e-2,
                                  "optim.warmup_steps": 3, "eval.k_grid": (0.2,)},
                             batch_size=16, eval_batch_size=32, num_plot_samples=0),
        "full": {"dataset.num_members": 4096, "model.context": 128, "model.num_layers": 4,
                 "model.width": 256, "model.max_len": 256, "total_steps": 20000,
                 "batch_size": 64, "checkpoint_every": 5000},
    })
    return config
