"""RealNVP by maximum likelihood on scikit-learn's 8x8 digits (17 levels).

Paper: Dinh et al. 2017, "Density estimation using Real NVP". Uniform
dequantization and RealNVP's logit preprocessing; the headline metric is test
bits/dim of the discrete data (see likelihood_jax.metrics). Modes: ``runlocal``,
default, ``full``. Expected numbers: see experiments/mle_flow/README.md.
"""

import ml_collections

from likelihood_jax.train.config import base_config, check_mode


def get_config(arg=None):
    mode = check_mode(arg)
    config = base_config("mle_flow", dataset="digits")
    config.model = ml_collections.ConfigDict({
        "event_shape": (8, 8, 1), "num_layers": 8, "hidden_dims": (64, 64), "actnorm": True,
        "scale_fn": "tanh", "logit_alpha": 0.05,
    })
    config.optim.lr = 1e-3
    config.optim.schedule = "cosine"
    config.batch_size = 128
    config.num_plot_samples = 64
    if mode == "runlocal":
        config.total_steps = 200
        config.model.num_layers = 4
        config.checkpoint_every = 100
    elif mode == "default":
        # 1500 training images: longer training or wider couplings overfit (test
        # bits/dim rises after ~1000 steps at width 64 and sooner at width 256).
        config.total_steps = 1000
        config.log_every = 100
        config.eval_every = 250
        config.checkpoint_every = 250
    else:
        config.total_steps = 50000
        config.model.num_layers = 16
        config.model.hidden_dims = (512, 512)
        config.log_every = 500
        config.eval_every = 5000
        config.checkpoint_every = 5000
    return config
