"""RealNVP by maximum likelihood on mnist5k (5000 real MNIST digits, 28x28, 256 levels).

Paper: Dinh et al. 2017, "Density estimation using Real NVP". A fully-connected
RealNVP on the flattened image (D = 784), uniform dequantization, logit
preprocessing; the headline metric is test bits/dim. Modes: ``runlocal``,
default, ``full``. Expected numbers: see experiments/mle_flow/README.md.
"""

import ml_collections

from likelihood_jax.train.config import apply_mode, base_config


def get_config(arg=None):
    config = base_config("mle_flow", dataset="mnist5k")
    config.model = ml_collections.ConfigDict({
        "event_shape": (28, 28, 1), "num_layers": 8, "hidden_dims": (256, 256), "actnorm": True,
        "scale_fn": "tanh", "logit_alpha": 0.05,
    })
    # In logit space most pixels sit in a narrow band, so the first steps see huge
    # gradients: a short warm-up, a lower rate and clipping keep them in check.
    config.optim.lr = 3e-4
    config.optim.schedule = "warmup_cosine"
    config.optim.warmup_steps = 100
    config.optim.grad_clip_norm = 100.0
    config.batch_size = 128
    config.eval_batch_size = 500
    config.num_plot_samples = 64
    # 4000 training images and a fully-connected flow: test bits/dim is best after a few
    # hundred steps and rises afterwards (overfitting).
    config.total_steps = 500
    config.log_every = 50
    config.eval_every = 100
    config.checkpoint_every = 250
    apply_mode(config, arg, {
        "runlocal": {
            "total_steps": 100, "model.num_layers": 4, "model.hidden_dims": (128,),
            "optim.warmup_steps": 10, "eval_every": 0, "checkpoint_every": 50,
        },
        "full": {
            "total_steps": 100000, "model.num_layers": 16, "model.hidden_dims": (1024, 1024),
            "log_every": 500, "eval_every": 5000, "checkpoint_every": 5000,
        },
    })
    return config
