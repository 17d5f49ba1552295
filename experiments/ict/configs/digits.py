"""iCT [P233] on 8x8 digits (flattened, MLP), and its EDM diffusion baseline.

Song & Dhariwal (2023), "Improved Techniques for Training Consistency Models". The
dataset stands in for CIFAR-10 at CPU scale: uniformly dequantized digits in [-1, 1)^64,
sigma_data 0.5, the paper's noise and curriculum settings. Sample quality: W2 to the test
digits and the Fréchet distance in the features of a small digit classifier (FID-like).
Numbers reached: see experiments/ict/README.md.
"""

from experiments.ict.configs import toy2d
from likelihood_jax.continuous_time import presets
from likelihood_jax.train.config import apply_mode


def get_config(arg=None):
    config = toy2d.get_config(arg)  # the toy config of the same mode, then the digits fields
    config.dataset.name = "digits"
    config.model.event_shape = presets.IMAGE_EVENT_SHAPES["digits"]
    config.model.hidden_dims = (256, 256, 256)
    config.batch_size = 128
    config.eval.num_samples = 297  # the whole test split
    config.num_plot_samples = 64
    apply_mode(config, arg, {
        "default": {"total_steps": 10000, "eval_every": 5000, "checkpoint_every": 5000},
    })
    return config
