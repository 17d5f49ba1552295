"""GAN-EM [P054] on the 8x8 digits: 10 clusters from pixels, against GMM-EM.

Paper: Zhao et al. 2019, "GAN-EM: GAN based EM learning framework" (MNIST clustering in the
paper; here scikit-learn's 1797 8x8 digits, MLPs instead of the paper's DCGAN). Pixels are
scaled to [-1, 1] and flattened (64 dims); ``ganem.all_heads = True`` (the authors' code);
clustering accuracy and NMI of the E-net's clusters on the 297 test digits. Baseline:
``python -m experiments.gan_em.baseline --config experiments/gan_em/configs/digits.py``.
Measured (README, 3 seeds): see experiments/gan_em/README.md.
"""

from experiments.gan_em.configs import rings
from likelihood_jax.train.config import apply_mode


def get_config(arg=None):
    config = rings.get_config(arg)
    config.dataset = {"name": "digits"}
    config.model.latent_dim = 16
    config.model.generator_hidden = (256, 256)
    config.model.discriminator_hidden = (256, 256)
    config.model.enet_hidden = (128,)
    config.batch_size = 100
    # The authors' code form (every head judges every sample): the per-class form leaves the
    # ten class generators alike on digits (test accuracy 0.24 on seed 0, README).
    config.ganem.all_heads = True
    apply_mode(config, arg, {
        "runlocal": {"model.generator_hidden": (32,), "model.discriminator_hidden": (32,),
                     "model.enet_hidden": (16,)},
        "default": {"total_steps": 10000},
    })
    return config
