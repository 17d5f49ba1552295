"""PixelCNN++ [P070] on scikit-learn's 8x8 digits (17 levels): exact test bits/dim.

Paper: Salimans, Karpathy, Chen & Kingma 2017, "PixelCNN++: Improving the PixelCNN with
Discretized Logistic Mixture Likelihood and Other Modifications". Reproduces, at small
scale, an exact discrete likelihood of 17-level images with the discretized logistic
mixture (``distributions.discretized_logistic_mixture_log_prob(num_levels=17)``), two
resolutions (8x8 and 4x4) with shortcut connections and dropout; sampling pixel by pixel.
Modes: ``runlocal`` (the end-to-end test), default (the README numbers), ``full``.
Measured numbers: experiments/pixelcnn_pp/README.md.
"""

import ml_collections

from likelihood_jax.train.config import apply_mode, base_config, runlocal, set_fields


def get_config(arg=None):
    config = base_config("pixelcnn_pp", dataset="digits")
    config.model = ml_collections.ConfigDict({
        "event_shape": (8, 8, 1), "num_filters": 32, "num_resnet": 1, "num_scales": 2,
        "num_mixtures": 5, "dropout": 0.2})
    set_fields(config, {"optim.lr": 1e-3, "optim.schedule": "cosine", "batch_size": 64,
                        "num_plot_samples": 64, "total_steps": 600, "log_every": 100,
                        "eval_every": 200, "checkpoint_every": 600, "ema_decay": 0.999})
    apply_mode(config, arg, {
        "runlocal": runlocal(20, {"optim.lr": 3e-3, "model.num_filters": 8,
                                  "model.num_mixtures": 2, "model.dropout": 0.0,
                                  "model.num_scales": 1, "model.num_resnet": 0},
                             batch_size=32, num_plot_samples=4, ema_decay=0.0),
        "full": {"total_steps": 20000, "model.num_filters": 160, "model.num_resnet": 5,
                 "model.num_scales": 3, "model.num_mixtures": 10, "model.dropout": 0.5,
                 "batch_size": 64, "log_every": 500, "eval_every": 2000,
                 "checkpoint_every": 5000},
    })
    return config
