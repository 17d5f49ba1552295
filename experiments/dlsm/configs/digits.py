"""DLSM [P156] class-conditional sampling on scikit-learn's 8x8 digits.

Paper: Chao et al. 2022, "Denoising likelihood score matching for conditional score-based
data generation" (ICLR); CIFAR-10/100 there, here 8x8 digits in [-1, 1]^64 with
time-conditioned MLPs (Fourier time features, SiLU) on a VP diffusion: an unconditional
score by DSM, a noisy classifier by CE, another by DLSM + CE, and a clean classifier that
judges the class of generated samples. Reported: sample accuracy (fraction of the
``sample.per_class`` reverse-SDE samples per class that the clean classifier assigns to the
conditioning class), CE- vs DLSM-guided, and the noisy test accuracy of both classifiers.
Modes: ``runlocal`` (the test suite), default (the README numbers), ``full`` (longer).
Numbers reached: see experiments/dlsm/README.md.
"""

import ml_collections

from likelihood_jax.continuous_time import presets
from likelihood_jax.train.config import apply_mode, base_config


def get_config(arg=None):
    config = base_config("dlsm", dataset="digits")
    config.diffusion = presets.vp_sde()
    config.model = ml_collections.ConfigDict({
        "score_hidden": (256, 256, 256), "clf_hidden": (256, 256), "activation": "silu",
        "time_embedding": "fourier",
    })
    config.dlsm = ml_collections.ConfigDict({"ce_weight": 1.0})
    config.eval = ml_collections.ConfigDict({"times": (0.05, 0.2, 0.5)})
    config.sample = ml_collections.ConfigDict({"per_class": 50, "num_steps": 500,
                                               "guidance_scale": 1.0})
    config.optim.lr = 1e-3
    config.batch_size = 128
    config.eval_batch_size = 297
    config.num_plot_samples = 80
    apply_mode(config, arg, {
        "runlocal": {**presets.run_length(100, 50), "model.score_hidden": (32, 32),
                     "model.clf_hidden": (32,), "sample.per_class": 4, "sample.num_steps": 30,
                     "num_plot_samples": 10},
        "default": {**presets.run_length(5000, 500, 2500), "optim.schedule": "cosine"},
        "full": {**presets.run_length(30000, 1000, 10000), "optim.schedule": "cosine",
                 "sample.per_class": 200},
    })
    return config
