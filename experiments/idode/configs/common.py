"""The parts of the i-DODE configs (digits.py, mnist5k.py) that both share."""

import ml_collections

from likelihood_jax.continuous_time import presets
from likelihood_jax.train.config import apply_mode, base_config

METHODS = ("idode", "noise", "finetune")


def apply_method(config, method):
    """Sets the objective/data/evaluation fields of a method preset."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {METHODS}")
    c = config.idode
    if method == "noise":
        c.objective, c.t_sampling, c.train_data = "noise", "uniform", "uniform"
        config.eval.dequantization = "uniform"
    else:
        c.objective, c.t_sampling, c.train_data = "velocity", "importance", "centers"
        config.eval.dequantization = "truncated_normal"
    if method == "finetune":
        c.second_order_weight = 0.1
        config.optim.lr = config.optim.lr / 4


def idode_config(arg, dataset: str, *, gamma_min: float, hidden_dims, unet, num_examples: int,
                 modes):
    """An i-DODE config for ``arg = "<mode>[,<method>]"`` on an image dataset.

    Args:
      arg: the command-line argument: a mode, optionally followed by a method of
        :data:`METHODS` (default ``idode``).
      dataset: the image dataset.
      gamma_min: the log-SNR schedule's lower end (``gamma_max = 5``).
      hidden_dims: widths of the MLP (``model.arch = "mlp"``).
      unet: the U-Net fields (``presets.unet``) for ``model.arch = "unet"``.
      num_examples: test images scored by the ODE likelihood.
      modes: the mode overrides (``apply_mode``).
    """
    parts = (arg or "default").split(",")
    method = parts[1] if len(parts) > 1 else "idode"
    config = base_config("idode", dataset=dataset)
    config.idode = ml_collections.ConfigDict({
        "objective": "velocity", "t_sampling": "importance", "train_data": "centers",
        "second_order_weight": 0.0, "init_from": "",
    })
    config.sde = ml_collections.ConfigDict({"gamma_min": gamma_min, "gamma_max": 5.0})
    config.model = presets.image_model(dataset, arch="mlp", hidden_dims=tuple(hidden_dims),
                                       activation="tanh", **unet)
    config.eval = presets.ode_eval(num_examples, divergence="hutchinson",
                                   dequantization="truncated_normal",
                                   num_steps=None)  # None: adaptive; else fixed steps
    config.optim.lr = 1e-3
    config.optim.grad_clip_norm = 1.0
    config.ema_decay = 0.999
    config.batch_size = 256
    config.num_plot_samples = 64
    apply_mode(config, parts[0], modes)
    apply_method(config, method)
    if method == "finetune":
        config.total_steps = max(config.total_steps // 3, 100)
        config.checkpoint_every = config.total_steps
    config.eval_batch_size = config.eval.num_examples
    return config
