"""OT-CFM on scikit-learn's 8x8 digits with a time-conditioned MLP or a small U-Net.

Paper: Tong et al. 2023, "Improving and generalizing flow-based generative models with
minibatch optimal transport" [P011]; their image experiments (CIFAR-10) use a U-Net. This
is the small-scale version: N(0, I) -> uniformly dequantized digits in [-1, 1)^64 (17
levels), batch 256, Adam 1e-3, sigma 0 (``--config.cfm.variant=icfm`` for the baseline).
The field is ``model.arch``: ``mlp`` (default; a 3x256 SiLU MLP on the flat image with
Fourier time features) or ``unet`` (``likelihood_jax.models.unet.UNet``: 8 base channels,
levels 8x8 and 4x4, one residual block per level, 24k parameters). Reported: test bits/dim
from the CNF likelihood (headline; ``eval.divergence`` exact or hutchinson), W2 between
297 samples and the 297 test digits, the path energy and the NFE of dopri5 at
rtol = atol = 1e-4.
Modes: ``runlocal`` (the test suite), default (the README numbers), ``full`` (longer).
Numbers reached (seed 0; experiments/ot_cfm/README.md): MLP, default mode (10k steps):
test bits/dim 2.538 (otcfm) vs 2.551 (icfm), path energy 66.1 vs 71.1, NFE 57.5 vs 56.3;
U-Net, 3k steps (``--config.model.arch=unet --config.eval.divergence=hutchinson
--config.total_steps=3000``): 2.314 vs 2.324 bits/dim, path energy 63.2 vs 67.8, NFE 73.4
vs 69.5.
"""

import ml_collections

from likelihood_jax.continuous_time import presets
from likelihood_jax.train.config import apply_mode, base_config


def get_config(arg=None):
    config = base_config("ot_cfm", dataset="digits")
    config.source = "normal"
    config.cfm = ml_collections.ConfigDict({
        "variant": "otcfm", "sigma": 0.0, "sinkhorn_epsilon": 0.05,
        "sinkhorn_threshold": 1e-2, "sinkhorn_max_iterations": 1000,
    })
    config.model = presets.image_model(
        "digits", arch="mlp",
        # arch = "mlp": TimeMLP on the flat image.
        hidden_dims=(256, 256, 256), activation="silu", time_embedding="fourier",
        # arch = "unet": likelihood_jax.models.unet.UNet on the 8x8x1 image.
        **presets.unet(8, (1, 2), 1))
    config.eval = presets.ode_eval(297, nll=True, divergence="exact")
    config.optim.lr = 1e-3
    config.ema_decay = 0.999
    config.batch_size = 256
    config.num_plot_samples = 64
    apply_mode(config, arg, {
        # a 0.999 EMA of a few hundred steps still holds the init
        "runlocal": {**presets.run_length(200, 50), "ema_decay": 0.0,
                     "model.hidden_dims": (64, 64), "eval.num_examples": 64},
        "default": presets.run_length(10000, 500, 5000, eval_every=5000),
        "full": {**presets.run_length(50000, 1000, 10000), "optim.schedule": "cosine",
                 "eval_every": 10000},
    })
    config.eval_batch_size = config.eval.num_examples  # W2 is computed on one batch
    return config
