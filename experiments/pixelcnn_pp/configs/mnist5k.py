"""PixelCNN++ [P070] on mnist5k (5000 real MNIST digits, 28x28, 256 levels).

Paper: Salimans et al. 2017, "PixelCNN++". Exact test bits/dim with the discretized
logistic mixture over 256 levels, two resolutions (28x28, 14x14), dropout 0.5 as in the
paper. Modes: ``runlocal``, default, ``full`` (three resolutions: 28, 14, 7).
Not measured in this session (see experiments/pixelcnn_pp/README.md for the command).
"""

import ml_collections

from likelihood_jax.train.config import apply_mode, base_config, runlocal, set_fields


def get_config(arg=None):
    config = base_config("pixelcnn_pp", dataset="mnist5k")
    config.model = ml_collections.ConfigDict({
        "event_shape": (28, 28, 1), "num_filters": 32, "num_resnet": 2, "num_scales": 2,
        "num_mixtures": 5, "dropout": 0.5})
    set_fields(config, {"optim.lr": 1e-3, "optim.schedule": "cosine", "batch_size": 32,
                        "eval_batch_size": 250, "num_plot_samples": 16, "total_steps": 2000,
                        "log_every": 100, "eval_every": 500, "checkpoint_every": 1000,
                        "ema_decay": 0.999})
    apply_mode(config, arg, {
        "runlocal": runlocal(10, {"model.num_filters": 8, "model.num_resnet": 0,
                                  "model.num_scales": 1, "model.dropout": 0.0},
                             batch_size=8, num_plot_samples=2, ema_decay=0.0),
        "full": {"total_steps": 100000, "model.num_filters": 160, "model.num_resnet": 5,
                 "model.num_scales": 3, "model.num_mixtures": 10, "batch_size": 64,
                 "log_every": 500, "eval_every": 5000, "checkpoint_every": 5000},
    })
    return config
