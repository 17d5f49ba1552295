"""The fields every experiment config has, with their defaults.

Experiment configs start from :func:`base_config` and set what is theirs::

    config = base_config("mle_flow", dataset="checkerboard")
    config.model = ml_collections.ConfigDict({...})

Top-level fields the tools rely on: ``experiment``, ``seed``, ``total_steps``,
``batch_size``, ``log_every``, ``eval_every``, ``checkpoint_every`` and the
groups ``dataset``, ``model``, ``optim``. Optional: ``eval_batch_size``,
``ema_decay`` (0 disables EMA; evaluation then uses the raw parameters),
``checkpoints_to_keep``, ``num_plot_samples``, and the ``mollify`` group (data
mollification, :mod:`likelihood_jax.flows.mollification`: ``enabled``, ``fraction`` of
``total_steps`` over which the noise anneals to zero, and the sigmoid schedule's
``start``, ``end``, ``tau``).
"""

from __future__ import annotations

import ml_collections


def base_config(experiment: str, dataset: str) -> ml_collections.ConfigDict:
    """A config with every shared field set to its default."""
    config = ml_collections.ConfigDict()
    config.experiment = experiment
    config.seed = 0
    config.total_steps = 1000
    config.batch_size = 256
    config.eval_batch_size = 1000
    config.log_every = 50
    config.eval_every = 0  # 0: evaluate only at the end
    config.checkpoint_every = 500
    config.checkpoints_to_keep = 3
    config.ema_decay = 0.0
    config.num_plot_samples = 1000
    config.mollify = ml_collections.ConfigDict({
        "enabled": False, "fraction": 0.5, "start": 0.0, "end": 3.0, "tau": 0.7,
    })
    config.dataset = ml_collections.ConfigDict({"name": dataset})
    config.model = ml_collections.ConfigDict()
    config.optim = ml_collections.ConfigDict({
        "name": "adam", "lr": 1e-3, "schedule": "constant", "warmup_steps": 0,
        "weight_decay": 0.0, "grad_clip_norm": 0.0, "b1": 0.9, "b2": 0.999,
    })
    return config


def check_mode(arg: str | None, modes: tuple[str, ...] = ("runlocal", "default", "full")) -> str:
    """The config mode named by ``arg`` (None means "default"); unknown modes raise."""
    mode = arg or "default"
    if mode not in modes:
        raise ValueError(f"unknown config mode {mode!r}; choose one of {modes}")
    return mode
