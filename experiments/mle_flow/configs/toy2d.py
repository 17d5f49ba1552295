"""RealNVP by maximum likelihood on a 2D toy (default: checkerboard).

Paper: Dinh et al. 2017, "Density estimation using Real NVP" (the MLE baseline of
EBFlow [P001] and data mollification [P162]).
Modes: ``runlocal`` (a few hundred steps, the test suite), default (the README
numbers), ``full`` (longer, wider). The dataset is a field:
``--config.dataset.name=moons``. Expected numbers: see experiments/mle_flow/README.md.
"""

import ml_collections

from likelihood_jax.train.config import base_config, check_mode


def get_config(arg=None):
    mode = check_mode(arg)
    config = base_config("mle_flow", dataset="checkerboard")
    config.model = ml_collections.ConfigDict({
        "event_shape": (2,), "num_layers": 8, "hidden_dims": (64, 64), "actnorm": True,
        "scale_fn": "tanh",
    })
    config.optim.lr = 1e-3
    config.optim.schedule = "cosine"
    config.batch_size = 256
    if mode == "runlocal":
        config.total_steps = 300
        config.model.num_layers = 4
        config.model.hidden_dims = (32, 32)
        config.log_every = 50
        config.checkpoint_every = 100
        config.eval_batch_size = 2500
    elif mode == "default":
        config.total_steps = 5000
        config.log_every = 100
        config.eval_every = 1000
        config.checkpoint_every = 1000
    else:
        config.total_steps = 50000
        config.model.num_layers = 16
        config.model.hidden_dims = (256, 256)
        config.batch_size = 1024
        config.log_every = 500
        config.eval_every = 5000
        config.checkpoint_every = 5000
    return config
