"""GEDI [P039]: self-supervised clustering + energy-based model on 2D moons / circles.

Paper: Sansone & Manhaeve (TMLR 2025), "Unifying Self-Supervised Clustering and Energy-Based
Models" (arXiv:2401.00873). Reproduces, at small scale, the synthetic experiment: one MLP
trained with the GEDI objective (contrastive-divergence energy term with persistent Langevin
negatives + augmentation invariance + uniform cluster prior) clusters ``moons``
(``--config.dataset.name=circles`` for circles) with NMI near 1 and its Langevin samples match
the data (MMD^2), against the ablations ``--config.variant=ebm_only`` and ``ssl_only``. Numbers
reached (3 seeds each): experiments/clustering_ebm/README.md. Modes: ``runlocal`` (tests),
default (README), ``full`` (longer).
"""

import ml_collections

from likelihood_jax.train.config import apply_mode, base_config, runlocal


def get_config(arg=None):
    config = base_config("clustering_ebm", dataset="moons")
    config.dataset.update({"num_train": 20000, "num_test": 5000})
    config.variant = "gedi"
    config.model = ml_collections.ConfigDict({"hidden_dims": (64, 64), "num_clusters": 2})
    config.gedi = ml_collections.ConfigDict({
        "augment_std": 0.1, "num_chains": 256, "sgld_steps": 10, "sgld_step": 0.01,
        "reinit": 0.05})
    config.eval = ml_collections.ConfigDict({
        "num_samples": 1000, "sgld_steps": 500, "mmd_bandwidth": 0.5})
    config.total_steps = 2000
    config.batch_size = 256
    config.eval_batch_size = 5000
    config.log_every = 200
    config.checkpoint_every = 2000
    config.optim.lr = 1e-3
    apply_mode(config, arg, {
        "runlocal": runlocal(40, {"model.hidden_dims": (32,), "gedi.num_chains": 64,
                                  "gedi.sgld_steps": 1, "eval.num_samples": 64,
                                  "eval.sgld_steps": 5, "dataset.num_train": 2000,
                                  "dataset.num_test": 256},
                             batch_size=64, eval_batch_size=256, num_plot_samples=64),
        "full": {"total_steps": 7000, "model.hidden_dims": (128, 128), "gedi.sgld_steps": 20,
                 "eval.sgld_steps": 2000, "checkpoint_every": 7000},
    })
    return config
