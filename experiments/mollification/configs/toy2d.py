"""Data mollification [P162]: RealNVP by maximum likelihood on a multimodal 2D toy.

Paper: Tran et al. 2023, "One-Line-of-Code Data Mollification Improves Optimization
of Likelihood-based Generative Models". Compare ``--config.mollify.enabled=True``
(the default here) with ``False`` on the same flow; metrics: test NLL (nats) and
the 2-Wasserstein distance between 2000 samples and 2000 test points.
Default dataset 8gaussians (well-separated modes); ``--config.dataset.name=...``.
Measured numbers: experiments/mollification/README.md.
"""

import ml_collections

from likelihood_jax.train.config import base_config, check_mode


def get_config(arg=None):
    mode = check_mode(arg)
    config = base_config("mollification", dataset="8gaussians")
    config.model = ml_collections.ConfigDict({
        "event_shape": (2,), "num_layers": 8, "hidden_dims": (64, 64), "actnorm": True,
        "scale_fn": "tanh",
    })
    config.mollify.enabled = True
    config.mollify.fraction = 0.5
    config.optim.lr = 1e-3
    config.optim.schedule = "cosine"
    config.num_eval_samples = 2000
    if mode == "runlocal":
        config.total_steps = 300
        config.model.num_layers = 4
        config.model.hidden_dims = (32, 32)
        config.checkpoint_every = 150
        config.num_eval_samples = 500
    elif mode == "default":
        config.total_steps = 4000
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
