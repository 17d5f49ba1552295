"""Unbiased contrastive divergence [P139] on a tiny DBM whose likelihood is exact.

Taniguchi, Suzuki, Iwasawa & Matsuo (ICML 2023), "End-to-end training of deep Boltzmann
machines by unbiased contrastive divergence with local mode initialization". A 6-8-4 DBM on
2x3 bars and stripes (10 patterns, uniform: the best test NLL is log 10 = 2.303 nats) trained
by ``method`` = unbiased (coupled MH chains from a local mode, the paper), cd (CD-1), pcd
(PCD-1) or exact (enumerated gradient), Adam with global-norm clipping 1, 20% of the train rows
held out for validation; the test NLL is exact (enumeration over h1), log Z also by AIS.
Measured (3 seeds, 3000 steps, lr chosen on validation): test NLL exact 2.368 +- 0.132,
PCD-1 3.105 +- 0.400, CD-1 3.204 +- 0.908, unbiased 3.934 +- 0.126 (init 4.16).
Modes: ``runlocal`` (tests), default (README), ``full`` (longer).
Numbers and commands: experiments/unbiased_dbm/README.md.
"""

import ml_collections

from likelihood_jax.train.config import apply_mode, base_config, runlocal


def base(dataset: str) -> ml_collections.ConfigDict:
    """The fields every config of this experiment has (defaults of the tiny DBM)."""
    config = base_config("unbiased_dbm", dataset=dataset)
    config.dataset.validation_fraction = 0.2
    config.method = "unbiased"
    config.model = ml_collections.ConfigDict({
        "hidden1": 8, "hidden2": 4, "init_scale": 0.1, "exact_nll_in_training": True})
    config.sampler = ml_collections.ConfigDict({
        "coupling": "mh", "max_iterations": 1000, "gibbs_steps": 1})
    config.ais = ml_collections.ConfigDict({"num_chains": 100, "num_betas": 1000})
    config.optim.name = "adam"
    config.optim.lr = 0.01
    config.optim.grad_clip_norm = 1.0
    config.batch_size = 32
    config.num_plot_samples = 0
    config.log_every = 100
    config.checkpoint_every = 1000
    return config


def get_config(arg=None):
    config = base("bars_and_stripes")
    config.dataset.rows = 2
    config.dataset.cols = 3
    config.total_steps = 3000
    apply_mode(config, arg, {
        "runlocal": runlocal(40, {"optim.lr": 0.05, "ais.num_betas": 20},
                             num_plot_samples=0),
        "full": {"total_steps": 20000},
    })
    return config
