"""GAN [P072] on the ring of 8 Gaussians: mode coverage against a maximum-likelihood flow.

Paper: Goodfellow et al. 2014, "Generative adversarial nets". Reproduces, at small scale, a
GAN trained by the alternating minimax game (non-saturating generator loss, Adam with
b1 = 0.5) on ``8gaussians``, reporting modes hit (of 8), the high-quality fraction (samples
within 3 std of a centre), the mode-share total variation and the squared MMD to held-out
data; the baseline is ``experiments/mle_flow/configs/eight_gaussians.py`` (RealNVP by
maximum likelihood, the same metrics). Fields: ``gan.generator_loss``
(``non_saturating`` | ``minimax``), ``optim.groups.discriminator.updates_per_step``
(n_critic), ``model.latent_dim``. Measured (README, 3 seeds): see experiments/gan/README.md.
"""

import ml_collections

from likelihood_jax.train.config import apply_mode, base_config, runlocal


def get_config(arg=None):
    config = base_config("gan", dataset="8gaussians")
    config.model = ml_collections.ConfigDict({
        "latent_dim": 2, "generator_hidden": (128, 128), "discriminator_hidden": (128, 128)})
    config.gan = ml_collections.ConfigDict({
        "generator_loss": "non_saturating", "num_eval_samples": 2000, "mmd_bandwidth": 0.5})
    config.batch_size = 256
    config.optim.lr = 2e-4
    config.optim.b1 = 0.5
    config.optim.groups = ml_collections.ConfigDict({
        "discriminator": {"updates_per_step": 1}, "generator": {"updates_per_step": 1}})
    config.optim.group_update = "alternating"
    config.optim.group_order = ("discriminator", "generator")
    config.num_plot_samples = 2000
    apply_mode(config, arg, {
        "runlocal": runlocal(150, {"optim.lr": 1e-3, "model.generator_hidden": (32,),
                                   "model.discriminator_hidden": (32,),
                                   "gan.num_eval_samples": 500}, eval_batch_size=500),
        "default": {"total_steps": 20000, "log_every": 1000, "checkpoint_every": 10000},
        "full": {"total_steps": 100000, "model.generator_hidden": (512, 512, 512),
                 "model.discriminator_hidden": (512, 512, 512), "log_every": 1000,
                 "checkpoint_every": 20000},
    })
    return config
