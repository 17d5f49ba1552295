"""Regularized auto-encoders as score estimators [P029] on a 1D (or 2D) Gaussian mixture.

Paper: Alain & Bengio (2014), "What regularized auto-encoders learn from the data-generating
distribution" (JMLR 15, arXiv:1211.4246). Reproduces, at small scale: the contractive
auto-encoder's ``(r(x) - x) / sigma^2`` estimates the score of the data (checked against the
analytic score of ``grid_gaussian_mixture``: 2 modes at +-1 with std 0.3 in 1D; 4 modes in
2D with ``--config.dataset.dim=2``), and approximate Metropolis-Hastings with the estimated
score recovers samples of the data (MMD^2 to test points). One run trains one variant at one
``rae.sigma``; ``configs/sweep.py`` runs the sigma table. Numbers reached (mean of 3 seeds):
experiments/regularized_autoencoders/README.md. Modes: ``runlocal`` (tests), default
(README), ``full`` (longer, wider).
"""

import ml_collections

from likelihood_jax.train.config import apply_mode, base_config, runlocal


def get_config(arg=None):
    config = base_config("regularized_autoencoders", dataset="grid_gaussian_mixture")
    config.dataset.update({"dim": 1, "modes_per_axis": 2, "loc": 1.0, "std": 0.3,
                           "num_train": 20000, "num_test": 4096})
    config.model.hidden_dims = (64, 64)
    config.rae = ml_collections.ConfigDict({"criterion": "contractive", "jacobian": "exact",
                                            "num_probes": 1, "sigma": 0.1})
    config.sample = ml_collections.ConfigDict({
        "num_chains": 1000, "num_steps": 500, "num_points": 3, "scale": 0.5, "init_std": 1.5,
        "mmd_bandwidth": 0.3})
    config.total_steps = 3000
    config.batch_size = 256
    config.eval_batch_size = 4096
    config.log_every = 500
    config.checkpoint_every = 3000
    config.optim.lr = 1e-3
    apply_mode(config, arg, {
        "runlocal": runlocal(40, {"model.hidden_dims": (16,), "optim.lr": 3e-3,
                                  "sample.num_chains": 64, "sample.num_steps": 20,
                                  "dataset.num_train": 2000, "dataset.num_test": 512},
                             batch_size=64, num_plot_samples=0),
        "full": {"total_steps": 20000, "model.hidden_dims": (256, 256),
                 "sample.num_steps": 2000, "checkpoint_every": 5000, "log_every": 1000},
    })
    return config
