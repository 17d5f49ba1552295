"""Unbiased contrastive divergence [P139] on binarized 8x8 digits (64-16-8 DBM).

Taniguchi et al. (ICML 2023). The DBM is trained end to end on ``binarized_digits`` (the
digits thresholded at 8 of 16) by ``method`` = unbiased (the paper) or pcd (PCD-1); the test
NLL is exact (2^16 states of h1) and with log Z by annealed importance sampling. The meeting
times of the coupled chains are logged (``meeting_time``, ``meeting_time_max``). Modes:
``runlocal``, default (README), ``full`` (mnist5k, wider; H1 must stay <= 24 for the exact NLL).
Not run yet at this scale (README, "Not done").
"""

from experiments.unbiased_dbm.configs.tiny import base
from likelihood_jax.train.config import apply_mode, runlocal


def get_config(arg=None):
    config = base("binarized_digits")
    config.dataset.source = "digits"
    config.model.hidden1 = 16
    config.model.hidden2 = 8
    config.model.exact_nll_in_training = False
    config.ais.num_betas = 3000
    config.optim.lr = 0.05
    config.batch_size = 64
    config.total_steps = 1500
    config.log_every = 100
    config.eval_batch_size = 297
    apply_mode(config, arg, {
        "runlocal": runlocal(20, {"model.hidden1": 8, "model.hidden2": 4, "ais.num_betas": 20},
                             num_plot_samples=0),
        "full": {"dataset.source": "mnist5k", "model.hidden1": 20, "model.hidden2": 20,
                 "total_steps": 20000, "batch_size": 100},
    })
    return config
