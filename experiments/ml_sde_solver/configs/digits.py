"""Diff-VC's maximum-likelihood SDE solver [P017]: sample quality vs steps on 8x8 digits.

Popov et al. (ICLR 2022), "Diffusion-Based Voice Conversion with Fast Maximum Likelihood
Sampling Scheme". Trains a small VP-SDE diffusion model (noise-prediction MLP) on dequantized
digits, then compares the classifier-feature Fréchet distance of samples from Euler–Maruyama,
the paper's ML solver and the probability-flow ODE (Euler) at equal numbers of score
evaluations. Modes: ``runlocal`` (the tests), default (the README numbers), ``full``
(longer, wider). Numbers reached (default mode, seeds 0 / 1; floor 0.48 / 0.69): at 4 score
evaluations Fréchet 2.17 / 2.19 (ML solver), 46.7 / 30.9 (Euler–Maruyama), 4.91 / 4.00 (ODE);
at 100 evaluations 2.06 / 2.16, 1.91 / 1.97, 2.99 / 2.20. Full table:
experiments/ml_sde_solver/README.md.
"""

import ml_collections

from likelihood_jax.train.config import base_config, check_mode


def get_config(arg=None):
    mode = check_mode(arg)
    config = base_config("ml_sde_solver", dataset="digits")
    config.model = ml_collections.ConfigDict({
        "event_shape": (8, 8, 1), "hidden_dims": (256, 256, 256), "activation": "silu",
        "num_frequencies": 8, "max_frequency": 16.0,
    })
    config.sde = ml_collections.ConfigDict({"beta_min": 0.1, "beta_max": 20.0, "t_min": 1e-3})
    config.sample = ml_collections.ConfigDict({"solvers": ("em", "ml", "ode"),
                                               "steps": (2, 4, 8, 16, 32, 100)})
    config.eval = ml_collections.ConfigDict({"num_samples": 1000})
    config.optim.lr = 1e-3
    config.optim.schedule = "cosine"
    config.batch_size = 128
    config.ema_decay = 0.999
    config.num_plot_samples = 64
    if mode == "runlocal":
        config.total_steps = 300
        config.model.hidden_dims = (64, 64)
        config.log_every = 100
        config.checkpoint_every = 300
        config.eval.num_samples = 200
        config.sample.steps = (2, 8)
        config.ema_decay = 0.0
    elif mode == "default":
        config.total_steps = 6000
        config.log_every = 500
        config.eval_every = 0
        config.checkpoint_every = 6000
    else:
        config.total_steps = 50000
        config.model.hidden_dims = (512, 512, 512, 512)
        config.log_every = 1000
        config.eval_every = 10000
        config.checkpoint_every = 10000
    return config
