"""GAN-EM [P054]: clustering by EM with a class-conditional GAN as the M-step.

Zhao et al. 2019. Three optimizer groups updated in turn every step (``group_order``
discriminator, generator, enet):

* discriminator: :func:`likelihood_jax.energy.gan_em.weighted_discriminator_loss`, the data
  weighted by the E-net's soft assignments ``w(x) = softmax(E(x))`` (held fixed), uniform
  ``1/K`` during the first ``ganem.warmup_steps`` (the paper's first round, before any
  E-step), and generated samples of class ``c = i mod K`` judged by head ``c``;
* generator ``G([one_hot(c), z])``: the non-saturating loss against head ``c``;
* enet: the E-step, cross-entropy on fresh generated samples of known class.

``ganem.all_heads``: every head judges every sample (the authors' code; see
:mod:`likelihood_jax.energy.gan_em`). The paper alternates whole M-step epochs with 1000
E-net iterations; here each training step takes one step of each (an incremental EM).
Images (``digits``) are scaled to ``[-1, 1]`` and flattened; the generator then ends in
``tanh``. ``model_metrics``: the E-net's clusters ``argmax_k q(k | x)`` on the test split
against the labels, clustering accuracy (Hungarian matching) and NMI (scikit-learn). The
GMM-EM baseline is ``baseline.py``.
"""

from __future__ import annotations

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from sklearn.metrics import normalized_mutual_info_score

from likelihood_jax.energy import gan_em
from likelihood_jax.models.mlp import MLP
from likelihood_jax.train import Experiment


def to_model_space(x, num_levels):
    """Flattened float inputs; images with ``num_levels`` levels scaled to ``[-1, 1]``."""
    x = jnp.asarray(x, jnp.float32).reshape(len(x), -1)
    return x if not num_levels else 2.0 * x / (num_levels - 1) - 1.0


class GANEM(Experiment):
    """Conditional generator, K-headed discriminator and E-net, all MLPs."""

    headline_metric = "cluster_accuracy"

    def make_model(self, config, info):
        """``(generator, discriminator, enet)`` MLPs; the last two with K outputs."""
        m, dim = config.model, int(np.prod(info.event_shape))
        k = self.num_clusters
        generator = MLP(tuple(m.generator_hidden), out_dim=dim, activation=nn.leaky_relu)
        return (generator, MLP(tuple(m.discriminator_hidden), out_dim=k,
                               activation=nn.leaky_relu),
                MLP(tuple(m.enet_hidden), out_dim=k, activation=nn.leaky_relu))

    @property
    def num_clusters(self) -> int:
        """``K``: ``ganem.num_clusters``, else the dataset's number of classes."""
        return int(self.config.ganem.num_clusters or self.dataset.info.num_classes)

    def preprocess(self, batch, key):
        """Flattened inputs, images scaled to ``[-1, 1]``."""
        return {**batch, "x": to_model_space(batch["x"], self.dataset.info.num_levels)}

    def generate(self, params, key, num: int):
        """``num`` samples and their classes ``c = i mod K`` (equal shares, as in the paper)."""
        classes = jnp.arange(num) % self.num_clusters
        z = jax.random.normal(key, (num, self.config.model.latent_dim))
        inputs = jnp.concatenate([jax.nn.one_hot(classes, self.num_clusters), z], axis=1)
        out = self.model[0].apply({"params": params["generator"]}, inputs)
        return (jnp.tanh(out) if self.dataset.info.num_levels else out), classes

    def head(self, index, params, name, x):
        """Applies network ``index`` (1: discriminator, 2: E-net) to ``x``."""
        return self.model[index].apply({"params": params[name]}, x)

    def init_params(self, key, batch):
        """One parameter group per player."""
        keys = jax.random.split(key, 3)
        x = to_model_space(batch["x"][:1], self.dataset.info.num_levels)
        inputs = jnp.zeros((1, self.num_clusters + self.config.model.latent_dim))
        return {"generator": self.model[0].init(keys[0], inputs)["params"],
                "discriminator": self.model[1].init(keys[1], x)["params"],
                "enet": self.model[2].init(keys[2], x)["params"]}

    def group_loss_fn(self, group, params, batch, key, step):
        """The player's per-example loss (module docstring)."""
        fake, classes = self.generate(params, key, len(batch["x"]))
        if group == "generator":
            logits = self.head(1, params, "discriminator", fake)
            loss = jax.vmap(functools.partial(gan_em.conditional_generator_loss,
                                              all_heads=self.config.ganem.all_heads))
            return loss(logits, classes), {}
        fake = jax.lax.stop_gradient(fake)
        if group == "enet":
            logits = self.head(2, params, "enet", fake)
            return jax.vmap(gan_em.enet_loss)(logits, classes), {}
        weights = gan_em.soft_assignments(self.head(2, params, "enet", batch["x"]))
        uniform = jnp.full_like(weights, 1.0 / self.num_clusters)
        weights = jax.lax.stop_gradient(
            jnp.where(step < self.config.ganem.warmup_steps, uniform, weights))
        loss = jax.vmap(functools.partial(gan_em.weighted_discriminator_loss,
                                          all_heads=self.config.ganem.all_heads))(
            self.head(1, params, "discriminator", batch["x"]), weights,
            self.head(1, params, "discriminator", fake), classes)
        return loss, {}

    def sample_fn(self, params, key, num_samples):
        """Generator samples, classes in equal shares."""
        return self.generate(params, key, num_samples)[0]

    def model_metrics(self, params, key):
        """Clustering accuracy and NMI of the E-net's clusters on the test split."""
        del key
        test = self.dataset.test
        x = to_model_space(test["x"], self.dataset.info.num_levels)
        clusters = np.asarray(jnp.argmax(self.head(2, params, "enet", x), axis=1))
        labels = np.asarray(test["label"])
        return {"cluster_accuracy": gan_em.clustering_accuracy(clusters, labels),
                "nmi": float(normalized_mutual_info_score(labels, clusters))}


EXPERIMENT = GANEM
