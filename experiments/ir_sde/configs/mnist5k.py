"""IR-SDE [P028] on mnist5k: one model restores noised, blurred and masked digits.

Luo et al. (ICML 2023), "Image Restoration with Mean-Reverting Stochastic Differential
Equations". The paper's settings where they carry over: cosine theta schedule with
e^{-theta_bar_1} = 0.005, the maximum-likelihood loss with the L1 norm, Adam, the reverse
SDE from mu + lambda z. Scaled down: 28x28 digits in [0, 1], a small U-Net (16 base
channels, levels 28x28 / 14x14), N = 50 steps (the paper: 100), lambda = 0.2 (equal to the
noise degradation's std, as the paper sets lambda for denoising). Degradations: Gaussian
noise std 0.2, Gaussian blur std 1.5 px, 50% of the pixels masked to 0.
``--config.objective=regression`` trains the same U-Net by direct regression to x_0 (the
plain denoiser baseline). Modes: ``runlocal`` (the tests), default (the README numbers),
``full`` (longer). Numbers reached (default mode, 600 steps, 100 held-out digits, mean over
the three degradations, PSNR dB / SSIM): degraded input 15.12 / 0.592; plain regression
denoiser 24.39 / 0.927; IR-SDE with the paper's noise prediction 9.44 / 0.249 (its sampler
diverges at this training length); IR-SDE with ``--config.irsde.predict=x0`` 19.24 / 0.836.
Details: experiments/ir_sde/README.md.
"""

import ml_collections

from likelihood_jax.train.config import base_config, check_mode


def get_config(arg=None):
    mode = check_mode(arg)
    config = base_config("ir_sde", dataset="mnist5k")
    config.objective = "irsde"
    config.sde = ml_collections.ConfigDict({
        "lam": 0.2, "schedule": "cosine", "terminal_eps": 0.005, "num_steps": 50,
    })
    config.irsde = ml_collections.ConfigDict({"loss": "ml", "norm": "l1", "predict": "noise"})
    config.regression = ml_collections.ConfigDict({"loss": "l2"})
    config.degrade = ml_collections.ConfigDict({
        "kinds": ("noise", "blur", "mask"), "noise_std": 0.2, "blur_std": 1.5,
        "mask_fraction": 0.5,
    })
    config.model = ml_collections.ConfigDict({
        "event_shape": (28, 28, 1), "base_channels": 16, "channel_mults": (1, 2),
        "num_res_blocks": 1,
    })
    config.eval = ml_collections.ConfigDict({"num_images": 200, "seed": 1234})
    config.optim.lr = 1e-3
    config.optim.grad_clip_norm = 1.0
    config.batch_size = 32
    config.eval_batch_size = 250
    config.ema_decay = 0.999
    config.num_plot_samples = 0
    if mode == "runlocal":
        config.ema_decay = 0.0
        config.total_steps = 40
        config.log_every = 10
        config.checkpoint_every = 40
        config.batch_size = 8
        config.eval_batch_size = 1000
        config.sde.num_steps = 5
        config.model.base_channels = 8
        config.eval.num_images = 16
    elif mode == "default":  # sized for 2 heavily shared CPU cores (~10 min per run)
        config.total_steps = 600
        config.ema_decay = 0.98
        config.log_every = 50
        config.eval_every = 0
        config.checkpoint_every = 300
        config.eval.num_images = 100
    else:
        config.total_steps = 30000
        config.sde.num_steps = 100
        config.optim.schedule = "cosine"
        config.log_every = 1000
        config.eval_every = 10000
        config.checkpoint_every = 10000
        config.eval.num_images = 1000
    return config
