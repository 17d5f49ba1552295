"""Optimally-weighted MMD vs the V-/U-statistic [P048] on the Gaussian-location simulator.

Paper: Bharti, Naslidnyk, Key, Kaski & Briol (ICML 2023), "Optimally-weighted estimators of
the maximum mean discrepancy for likelihood-free inference" (arXiv:2301.11674). Reproduces,
at small scale: with ``m`` simulations of a smooth simulator with low-dimensional inputs, the
optimally-weighted estimator of ``MMD^2(P_theta, data)`` is far more accurate than the
V-statistic at the same ``m``, and so is the minimum-distance estimate of ``theta``. The
simulator is ``x = theta + u``, ``u ~ N(0, I)`` (exact ``MMD^2`` in closed form); the data are
200 rows of the 1D two-mode ``grid_gaussian_mixture`` (modes +-1, std 0.5; the location model
is misspecified, ``theta*`` is the MMD-optimal location); 2D with
``--config.dataset.dim=2``. 5 seeds (data subsets and input draws), 20 input draws per seed
and ``m``. Numbers reached: experiments/weighted_mmd/README.md.
"""

import ml_collections

from likelihood_jax.train.config import apply_mode, base_config


def get_config(arg=None):
    config = base_config("weighted_mmd", dataset="grid_gaussian_mixture")
    config.dataset.update({"dim": 1, "modes_per_axis": 2, "loc": 1.0, "std": 0.5,
                           "num_train": 4096, "num_test": 512})
    config.total_steps = 0
    config.study = ml_collections.ConfigDict({
        "sizes": (10, 20, 50, 100, 200), "seeds": (0, 1, 2, 3, 4), "replications": 20,
        "thetas": (0.0, 1.0, 2.0), "scale": 1.0, "num_data": 200, "jitter": 1e-8,
        "x64": True, "mde_steps": 300, "mde_lr": 0.05, "mde_init": 2.0,
    })
    apply_mode(config, arg, {
        "runlocal": {"study.sizes": (10,), "study.seeds": (0, 1), "study.replications": 2,
                     "study.mde_steps": 5, "study.num_data": 50},
        "full": {"study.sizes": (10, 20, 50, 100, 200, 500, 1000), "study.seeds": tuple(range(10)),
                 "study.replications": 100, "study.mde_steps": 1000},
    })
    return config
