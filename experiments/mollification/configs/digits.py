"""Data mollification [P162]: RealNVP by maximum likelihood on the 8x8 digits (17 levels).

Paper: Tran et al. 2023 (see toy2d.py). Mollification acts in the flow's logit
space (after dequantization). Metrics: test bits/dim and a Fréchet distance in the
hidden features of a small MLP digit classifier trained on the training split
("FID-like"). Compare ``--config.mollify.enabled=True`` (default) with ``False``.
Measured numbers: experiments/mollification/README.md.
"""

import ml_collections

from likelihood_jax.train.config import base_config, check_mode


def get_config(arg=None):
    mode = check_mode(arg)
    config = base_config("mollification", dataset="digits")
    config.model = ml_collections.ConfigDict({
        "event_shape": (8, 8, 1), "num_layers": 8, "hidden_dims": (64, 64), "actnorm": True,
        "scale_fn": "tanh", "logit_alpha": 0.05,
    })
    config.mollify.enabled = True
    config.mollify.fraction = 0.5
    config.optim.lr = 1e-3
    config.optim.schedule = "cosine"
    config.batch_size = 128
    config.num_plot_samples = 64
    config.num_eval_samples = 297
    if mode == "runlocal":
        config.total_steps = 200
        config.model.num_layers = 4
        config.checkpoint_every = 100
    elif mode == "default":
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
