"""GAN [P072] on a 2D toy: a generator and a discriminator as two optimizer groups.

Goodfellow et al. 2014. ``params = {"generator": ..., "discriminator": ...}``; the shared loop
alternates their updates (``config.optim.group_update = "alternating"``, discriminator first,
``optim.groups.discriminator.updates_per_step`` discriminator steps per generator step).

* discriminator: :func:`likelihood_jax.energy.gan.discriminator_loss` of ``d(x)`` and
  ``d(G(z))`` (``G`` held fixed: its samples sit behind ``stop_gradient``);
* generator: :func:`~likelihood_jax.energy.gan.non_saturating_generator_loss` (the paper's
  practical choice, default) or :func:`~likelihood_jax.energy.gan.minimax_generator_loss`
  (``--config.gan.generator_loss=minimax``).

``model_metrics``: ``num_eval_samples`` generator samples against as many held-out points,
the squared MMD (``metrics.mmd_squared``, Gaussian kernel of ``gan.mmd_bandwidth``) and, on
a toy with known modes (``8gaussians``: ``data.toys.mixture_modes``), ``metrics.mode_coverage``:
modes hit, the high-quality fraction (within 3 std of a centre) and the total variation
between the samples' mode shares and the uniform weights.
"""

from __future__ import annotations

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp

from likelihood_jax import metrics
from likelihood_jax.data.toys import mixture_modes
from likelihood_jax.energy import gan
from likelihood_jax.models.mlp import MLP
from likelihood_jax.train import Experiment

GENERATOR_LOSSES = {"non_saturating": gan.non_saturating_generator_loss,
                    "minimax": gan.minimax_generator_loss}


def sample_metrics(samples, reference, dataset: str, bandwidth: float) -> dict[str, float]:
    """Squared MMD to ``reference`` and, on a toy with known modes, the mode coverage."""
    out = {"mmd2": float(metrics.mmd_squared(samples, reference, bandwidth=bandwidth))}
    modes = mixture_modes(dataset)
    if modes is not None:
        out.update(metrics.mode_coverage_summary(samples, modes[0], std=modes[1]))
    return out


class GANExperiment(Experiment):
    """Generator ``G: z ~ N(0, I) -> x`` and discriminator ``d: x -> logit``, both MLPs."""

    headline_metric = "mmd2"

    def make_model(self, config, info):
        """``(generator, discriminator)`` MLPs with leaky ReLUs."""
        m = config.model
        generator = MLP(tuple(m.generator_hidden), out_dim=info.event_shape[-1],
                        activation=nn.leaky_relu)
        discriminator = MLP(tuple(m.discriminator_hidden), out_dim=1, activation=nn.leaky_relu)
        return generator, discriminator

    @functools.cached_property
    def generator_loss(self):
        """The generator loss named by ``config.gan.generator_loss`` (checked)."""
        name = self.config.gan.generator_loss
        if name not in GENERATOR_LOSSES:
            raise ValueError(f"config.gan.generator_loss must be one of "
                             f"{tuple(GENERATOR_LOSSES)}, got {name!r}")
        return GENERATOR_LOSSES[name]

    def generate(self, params, key, num: int):
        """``num`` samples ``G(z)``, ``z ~ N(0, I)``."""
        z = jax.random.normal(key, (num, self.config.model.latent_dim))
        return self.model[0].apply({"params": params["generator"]}, z)

    def logits(self, params, x):
        """Discriminator logits ``d(x)`` ``[B]``."""
        return self.model[1].apply({"params": params["discriminator"]}, x)[..., 0]

    def init_params(self, key, batch):
        """``{"generator": ..., "discriminator": ...}``."""
        self.generator_loss  # noqa: B018 (a bad loss name fails before any compilation)
        kg, kd = jax.random.split(key)
        z = jnp.zeros((1, self.config.model.latent_dim))
        return {"generator": self.model[0].init(kg, z)["params"],
                "discriminator": self.model[1].init(kd, batch["x"][:1])["params"]}

    def group_loss_fn(self, group, params, batch, key, step):
        """The discriminator's cross-entropy or the generator's loss, per example."""
        fake = self.generate(params, key, len(batch["x"]))
        if group == "discriminator":
            real_logit = self.logits(params, batch["x"])
            fake_logit = self.logits(params, jax.lax.stop_gradient(fake))
            loss = gan.discriminator_loss(real_logit, fake_logit)
            return loss, {"d_real": jax.nn.sigmoid(real_logit),
                          "d_fake": jax.nn.sigmoid(fake_logit)}
        return self.generator_loss(self.logits(params, fake)), {}

    def sample_fn(self, params, key, num_samples):
        """Generator samples for the plot."""
        return self.generate(params, key, num_samples)

    def model_metrics(self, params, key):
        """MMD and mode coverage of generator samples against held-out data."""
        num = int(self.config.gan.num_eval_samples)
        reference = self.dataset.test["x"][:num]
        samples = self.generate(params, key, len(reference))
        return sample_metrics(samples, reference, self.config.dataset.name,
                              self.config.gan.mmd_bandwidth)


EXPERIMENT = GANExperiment
