"""DLSM [P156] on a class-conditional 2D Gaussian mixture with an analytic conditional score.

Paper: Chao et al. 2022, "Denoising likelihood score matching for conditional score-based
data generation" (ICLR); this is their motivational experiment in small: the score
mismatch ``|s + grad log p_phi(y | x_t) - grad log p_t(x_t | y)|^2`` of a classifier trained
by cross-entropy alone against one trained by DLSM + CE, over noise levels, on a VP
diffusion of 8 Gaussians on a circle (2 interleaved classes). Also the accuracy of
class-conditional samples (reverse SDE, guidance scale 1) under the Bayes classifier.
Modes: ``runlocal`` (the test suite), default (the README numbers), ``full`` (longer).
Numbers reached: see experiments/dlsm/README.md.
"""

import ml_collections

from likelihood_jax.train.config import base_config, check_mode


def get_config(arg=None):
    mode = check_mode(arg)
    config = base_config("dlsm", dataset="gmm2d")
    config.gmm = ml_collections.ConfigDict({
        "num_components": 8, "num_classes": 2, "radius": 2.0, "std": 0.3,
        "num_train": 50000, "num_test": 2000,
    })
    config.diffusion = ml_collections.ConfigDict({"beta_min": 0.1, "beta_max": 20.0,
                                                  "t_min": 1e-3})
    config.model = ml_collections.ConfigDict({
        "score_hidden": (128, 128, 128), "clf_hidden": (128, 128, 128), "activation": "silu",
        "time_embedding": "fourier",
    })
    config.dlsm = ml_collections.ConfigDict({"ce_weight": 1.0})
    config.eval = ml_collections.ConfigDict({"times": (0.01, 0.05, 0.1, 0.2, 0.4, 0.7)})
    config.sample = ml_collections.ConfigDict({"per_class": 1000, "num_steps": 500,
                                               "guidance_scale": 1.0})
    config.optim.lr = 1e-3
    config.batch_size = 256
    config.eval_batch_size = 2000
    config.num_plot_samples = 1000
    if mode == "runlocal":
        config.total_steps = 150
        config.model.score_hidden = (32, 32)
        config.model.clf_hidden = (32, 32)
        config.gmm.num_train = 2000
        config.gmm.num_test = 256
        config.eval_batch_size = 256
        config.sample.per_class = 64
        config.sample.num_steps = 20
        config.eval.times = (0.05, 0.4)
        config.num_plot_samples = 64
        config.log_every = 50
        config.checkpoint_every = 150
    elif mode == "default":
        config.total_steps = 6000
        config.optim.schedule = "cosine"
        config.log_every = 500
        config.checkpoint_every = 3000
    else:
        config.total_steps = 40000
        config.optim.schedule = "cosine"
        config.model.score_hidden = (256, 256, 256)
        config.model.clf_hidden = (256, 256, 256)
        config.log_every = 1000
        config.checkpoint_every = 10000
    return config
