"""Marginalization models [P033] on binarized 8x8 digits (64 binary pixels, level >= 8).

Paper: Liu, Ramadge & Adams 2024, "Generative Marginalization Models". Reproduces, at small
scale, maximum-likelihood training of a MaM (any-order conditionals + self-consistent
marginals) and compares its one-pass test NLL with an autoregressive model of the same width
trained in raster order (``--config.order=raster``, exact NLL in 64 passes).
Modes: ``runlocal`` (seconds), default (the README numbers), ``full`` (wider, longer).
Measured: see experiments/marginalization_models/README.md.
"""

import ml_collections

from likelihood_jax.train.config import apply_mode, base_config, runlocal


def get_config(arg=None):
    config = base_config("marginalization_models", dataset="digits")
    config.target = ml_collections.ConfigDict({
        "shape": (8, 8), "beta": 0.3, "coupling": 1.0, "field": 0.0})  # unused on digits
    config.objective = "mle"
    config.order = "random"
    config.consistency_weight = 1.0
    config.model = ml_collections.ConfigDict({"hidden_dims": (256, 256)})
    config.optim.lr = 1e-3
    config.optim.grad_clip_norm = 1.0
    config.batch_size = 128
    config.eval_batch_size = 297
    config.total_steps = 4000
    config.log_every = 200
    config.checkpoint_every = 4000
    config.num_plot_samples = 64
    apply_mode(config, arg, {
        "runlocal": runlocal(60, {"model.hidden_dims": (32,)}, batch_size=32,
                             num_plot_samples=16),
        "full": {"total_steps": 30000, "model.hidden_dims": (1024, 1024, 1024)},
    })
    return config
