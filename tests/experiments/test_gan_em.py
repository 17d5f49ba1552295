"""GAN-EM [P054] experiment: the ring-cluster data, the M-step weights (uniform during the
warm-up, the E-net's posteriors after) and the GMM-EM baseline's building blocks."""

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.gan_em import baseline
from experiments.gan_em.experiment import GANEM
from likelihood_jax import data
from likelihood_jax.data.synthetic.ring_clusters import ring_centers_and_radii
from likelihood_jax.energy import gan_em
from likelihood_jax.main import load_config
from tests.clitools import REPO

CONFIG = os.path.join(REPO, "experiments", "gan_em", "configs", "rings.py")


@pytest.mark.parametrize("layout", ["concentric", "chain"])
def test_ring_clusters_lie_on_their_rings(layout):
    ds = data.load_dataset("ring_clusters", layout=layout, num_rings=3, num_train=600,
                           num_test=10, noise=0.05)
    centers, radii = ring_centers_and_radii(3, layout, 1.0, 1.5)
    x, label = ds.train["x"], ds.train["label"]
    distance = np.linalg.norm(x - centers[label], axis=1)
    np.testing.assert_allclose(distance, radii[label], atol=0.25)
    assert set(np.unique(label)) == {0, 1, 2} and ds.info.num_classes == 3
    with pytest.raises(ValueError, match="layout must be one of"):
        ring_centers_and_radii(3, "grid", 1.0, 1.5)


@pytest.mark.nightly  # 5-25 s on 2 loaded cores: kept out of the default tier's budget
def test_discriminator_weights_are_uniform_in_the_warmup_then_the_enet_posterior():
    config = load_config(f"{CONFIG}:runlocal")
    experiment = GANEM(config)
    batch = {"x": jnp.asarray(experiment.dataset.train["x"][:8]),
             "label": experiment.dataset.train["label"][:8]}
    params = experiment.init_params(jax.random.key(0), batch)
    key = jax.random.key(1)
    fake, classes = experiment.generate(params, key, 8)
    np.testing.assert_array_equal(classes, np.arange(8) % 2)
    real_logits = experiment.head(1, params, "discriminator", batch["x"])
    fake_logits = experiment.head(1, params, "discriminator", fake)
    for step, weights in ((0, jnp.full((8, 2), 0.5)),
                          (config.ganem.warmup_steps,
                           jax.nn.softmax(experiment.head(2, params, "enet", batch["x"])))):
        loss, _ = experiment.group_loss_fn("discriminator", params, batch, key, step)
        expected = jax.vmap(gan_em.weighted_discriminator_loss)(real_logits, weights,
                                                                fake_logits, classes)
        np.testing.assert_allclose(loss, expected, rtol=1e-5)


@pytest.mark.nightly
def test_gmm_baseline_clusters_separated_gaussians():
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1], 100)
    x = np.array([[-3.0, 0.0], [3.0, 0.0]])[labels] + rng.normal(size=(200, 2))
    params = baseline.fit_gmm(jnp.asarray(x, jnp.float32), 2, seed=0, iterations=20,
                              reg_covar=1e-3)
    clusters = baseline.most_responsible(jnp.asarray(x, jnp.float32), *params)
    assert gan_em.clustering_accuracy(clusters, labels) > 0.98
