"""Label learning flows on digits with five region-classifier weak signals.

Paper: Lu, Song, Arachie & Huang, "Weakly Supervised Label Learning Flows" (Neural Networks
2025, arXiv:2302.09649). Reproduces the claim that LLF, trained only on weak signals and
their error bounds, beats the majority vote of the signals. Modes: ``runlocal`` (the
tests), default (the README numbers), ``full`` (longer, wider). Numbers reached: see
experiments/label_flows/README.md.
"""

import ml_collections

from likelihood_jax.train.config import base_config, check_mode


def get_config(arg=None):
    mode = check_mode(arg)
    config = base_config("label_flows", dataset="digits")
    config.weak = ml_collections.ConfigDict({
        "num_labeled": 100, "regions": ("top", "bottom", "left", "right", "center"),
        "bound_slack": 0.0,
    })
    config.model = ml_collections.ConfigDict({
        "num_layers": 4, "hidden_dims": (64, 64), "log_scale_bound": 2.0,
        "penalty_weight": 1000.0, "num_eval_samples": 32,
    })
    config.optim.lr = 1e-2
    config.optim.schedule = "cosine"
    config.batch_size = 128
    config.eval_batch_size = 297
    config.num_plot_samples = 0
    if mode == "runlocal":
        config.total_steps = 400
        config.model.hidden_dims = (32,)
        config.log_every = 50
        config.checkpoint_every = 400
    elif mode == "default":
        config.total_steps = 3000
        config.log_every = 100
        config.eval_every = 1000
        config.checkpoint_every = 1000
    else:
        config.total_steps = 20000
        config.model.num_layers = 8
        config.model.hidden_dims = (256, 256)
        config.log_every = 500
        config.eval_every = 2000
        config.checkpoint_every = 5000
    return config
