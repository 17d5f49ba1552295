"""Diff-VC's maximum-likelihood SDE solver [P017]: sample quality vs steps on 8x8 digits.

Popov et al. (ICLR 2022), "Diffusion-Based Voice Conversion with Fast Maximum Likelihood
Sampling Scheme". Trains a small VP-SDE diffusion model (noise-prediction MLP) on dequantized
digits, then compares the classifier-feature Fréchet distance of samples from Euler–Maruyama,
the paper's ML solver and the probability-flow ODE (Euler) at equal numbers of score
evaluations. Modes: ``runlocal`` (the tests), default (the README numbers), ``full``
(longer, wider). Numbers reached (default mode, seeds 0 / 1; floor 0.48 / 0.69; EMA with
warm-up): at 4 score evaluations Fréchet 2.17 / 2.33 (ML solver), 47.1 / 31.4
(Euler–Maruyama), 4.47 / 3.67 (ODE); at 100 evaluations 2.14 / 2.23, 1.96 / 2.04,
2.70 / 2.03. Full table:
experiments/ml_sde_solver/README.md.
"""

import ml_collections

from likelihood_jax.continuous_time import presets
from likelihood_jax.train.config import apply_mode, base_config, runlocal


def get_config(arg=None):
    config = base_config("ml_sde_solver", dataset="digits")
    config.model = presets.fourier_time_mlp(
        (256, 256, 256), max_frequency=16.0, event_shape=presets.IMAGE_EVENT_SHAPES["digits"])
    config.sde = presets.vp_sde()
    config.sample = ml_collections.ConfigDict({"solvers": ("em", "ml", "ode"),
                                               "steps": (2, 4, 8, 16, 32, 100)})
    # feature_units: width of the feature classifier of the Frechet distance
    config.eval = ml_collections.ConfigDict({"num_samples": 1000, "feature_units": 64})
    config.optim.lr = 1e-3
    config.optim.schedule = "cosine"
    config.batch_size = 128
    config.ema_decay = 0.999
    config.num_plot_samples = 64
    apply_mode(config, arg, {
        # one number of steps (each (solver, steps) pair compiles a sampler); as many
        # plotted as evaluated samples: the plot shares the ML solver's compiled sampler; a
        # narrower feature classifier (fitting the 64-unit one took ~11 of the run's 19 CPU s)
        "runlocal": runlocal(300, {"model.hidden_dims": (64, 64), "eval.num_samples": 200,
                                   "sample.steps": (2,), "eval.feature_units": 16},
                             ema_decay=0.0, num_plot_samples=200),
        "default": {**presets.run_length(6000, 500), "eval_every": 0},
        "full": {**presets.run_length(50000, 1000, 10000),
                 "model.hidden_dims": (512, 512, 512, 512), "eval_every": 10000},
    })
    return config
