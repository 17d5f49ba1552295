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

from likelihood_jax.continuous_time import presets
from likelihood_jax.train.config import apply_mode, base_config, runlocal


def get_config(arg=None):
    config = base_config("dlsm", dataset="gmm_circle")
    # likelihood_jax.data.synthetic.class_mixture; the rows are drawn with config.seed.
    config.dataset = ml_collections.ConfigDict({
        "name": "gmm_circle", "num_components": 8, "num_classes": 2, "radius": 2.0,
        "std": 0.3, "num_train": 50000, "num_test": 2000,
    })
    config.dataset.seed = config.get_ref("seed")
    config.diffusion = presets.vp_sde()
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
    apply_mode(config, arg, {
        # One hidden layer per network and one evaluation time (eval_fn unrolls the times;
        # compilation dominates a short run).
        "runlocal": runlocal(150, {
            "model.score_hidden": (32,), "model.clf_hidden": (32,),
            "dataset.num_train": 2000, "dataset.num_test": 256, "sample.per_class": 64,
            "sample.num_steps": 20, "eval.times": (0.2,)},
            eval_batch_size=256, num_plot_samples=128),
        "default": {**presets.run_length(6000, 500, 3000), "optim.schedule": "cosine"},
        "full": {**presets.run_length(40000, 1000, 10000), "optim.schedule": "cosine",
                 "model.score_hidden": (256, 256, 256), "model.clf_hidden": (256, 256, 256)},
    })
    return config
