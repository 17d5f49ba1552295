"""CDRL [P172] on the ring of 8 Gaussians, against DRL (no initializer).

Paper: Zhu et al. 2024, "Learning energy-based models by cooperative diffusion recovery
likelihood"; baseline Gao et al. 2021 (DRL). Reproduces, at small scale, EBMs of
``cdrl.num_levels`` noise levels trained by recovery likelihood with a few Langevin steps per
level, started from a learned initializer (CDRL, ``cdrl.initializer=True``) or from the noisy
point (DRL, ``--config.cdrl.initializer=False``), and compares sample quality (squared MMD,
exact W2 and mode coverage of 1000 samples) at ``cdrl.langevin_steps`` steps per level.
Measured (3 seeds): see experiments/cdrl/README.md.
"""

import ml_collections

from likelihood_jax.train.config import apply_mode, base_config, runlocal


def get_config(arg=None):
    config = base_config("cdrl", dataset="8gaussians")
    config.model = ml_collections.ConfigDict({"hidden_dims": (64, 64)})
    config.cdrl = ml_collections.ConfigDict({
        "initializer": True, "num_levels": 6, "sigma_min": 0.1, "sigma_max": 0.95,
        "langevin_steps": 5, "step_scale": 0.5, "data_scale": 0.5, "num_eval_samples": 1000})
    config.batch_size = 256
    config.optim.lr = 1e-3
    config.optim.groups = ml_collections.ConfigDict({"ebm": {}, "initializer": {}})
    config.optim.group_update = "simultaneous"
    config.num_plot_samples = 1000
    apply_mode(config, arg, {
        "runlocal": runlocal(60, {"model.hidden_dims": (32,), "cdrl.num_eval_samples": 200,
                                  "cdrl.langevin_steps": 2, "cdrl.num_levels": 3},
                             eval_batch_size=200, num_plot_samples=200),
        "default": {"total_steps": 1500, "log_every": 250, "checkpoint_every": 1500},
        "full": {"total_steps": 50000, "model.hidden_dims": (512, 512, 512),
                 "log_every": 1000, "checkpoint_every": 10000},
    })
    return config
