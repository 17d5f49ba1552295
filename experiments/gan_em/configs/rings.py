"""GAN-EM [P054] on ring-shaped 2D clusters (default: two concentric rings).

Paper: Zhao et al. 2019, "GAN-EM: GAN based EM learning framework". Reproduces, at small
scale, clustering non-Gaussian clusters with a class-conditional GAN as the M-step and an
E-net trained on generated samples as the E-step, against GMM-EM (``baseline.py``).
Dataset ``ring_clusters`` (``dataset.layout`` concentric | chain, ``dataset.num_rings``).
Fields: ``ganem.warmup_steps`` (uniform soft labels before), ``ganem.num_clusters`` (0: the
number of classes), ``ganem.all_heads`` (every head judges every sample, as the
authors' code does). Measured (README, 3 seeds): see experiments/gan_em/README.md.
"""

import ml_collections

from likelihood_jax.train.config import apply_mode, base_config, runlocal


def get_config(arg=None):
    config = base_config("gan_em", dataset="ring_clusters")
    config.dataset.num_rings = 2
    config.dataset.layout = "concentric"
    config.dataset.num_train = 4000
    config.dataset.num_test = 2000
    config.model = ml_collections.ConfigDict({
        "latent_dim": 2, "generator_hidden": (128, 128), "discriminator_hidden": (128, 128),
        "enet_hidden": (64, 64)})
    config.ganem = ml_collections.ConfigDict({"warmup_steps": 1000, "num_clusters": 0,
                                            "all_heads": False})
    config.batch_size = 256
    config.optim.lr = 2e-4
    config.optim.b1 = 0.5
    config.optim.groups = ml_collections.ConfigDict({
        "discriminator": {}, "generator": {}, "enet": {"lr": 1e-3, "b1": 0.9}})
    config.optim.group_update = "alternating"
    config.optim.group_order = ("discriminator", "generator", "enet")
    config.num_plot_samples = 2000
    apply_mode(config, arg, {
        "runlocal": runlocal(100, {"optim.lr": 1e-3, "model.generator_hidden": (32,),
                                   "model.discriminator_hidden": (32,),
                                   "model.enet_hidden": (16,), "ganem.warmup_steps": 50,
                                   "dataset.num_train": 1000, "dataset.num_test": 500},
                             eval_batch_size=500),
        "default": {"total_steps": 10000, "log_every": 500, "checkpoint_every": 5000},
        "full": {"total_steps": 100000, "log_every": 1000, "checkpoint_every": 20000},
    })
    return config
