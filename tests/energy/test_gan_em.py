"""GAN-EM's E-step and M-step losses against independent values [P054].

* with one-hot soft labels the M-step losses are K standard GAN losses, one per class
  (computed class by class with ``energy.gan``);
* the E-net loss is stationary exactly at the Bayes posterior of the generator's classes
  (quadrature on a grid);
* clustering accuracy equals the best accuracy over all label permutations (enumeration).
"""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from likelihood_jax.energy import gan, gan_em

K, B = 3, 12


def test_one_hot_labels_give_k_standard_gan_losses():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(K), B // K)  # real points of each class
    classes = np.tile(np.arange(K), B // K)  # generated samples, equal shares
    real, fake = rng.normal(size=(2, B, K)).astype(np.float32)
    weights = np.eye(K, dtype=np.float32)[labels]
    d_loss = jax.vmap(gan_em.weighted_discriminator_loss)(real, weights, fake, classes)
    g_loss = jax.vmap(gan_em.conditional_generator_loss)(fake, classes)
    per_class_d, per_class_g = 0.0, 0.0
    for k in range(K):  # the standard GAN of class k: head k, its data, its samples
        share = np.mean(labels == k)
        per_class_d += share * float(jnp.mean(gan.discriminator_loss(real[labels == k, k],
                                                                     fake[classes == k, k])))
        per_class_g += share * float(jnp.mean(
            gan.non_saturating_generator_loss(fake[classes == k, k])))
    assert float(jnp.mean(d_loss)) == pytest.approx(per_class_d, rel=1e-6)
    assert float(jnp.mean(g_loss)) == pytest.approx(per_class_g, rel=1e-6)
    # Uniform labels and K identical heads collapse to one standard GAN.
    same = np.repeat(real[:, :1], K, axis=1)
    uniform = np.full((B, K), 1.0 / K, np.float32)
    np.testing.assert_allclose(
        jax.vmap(gan_em.weighted_discriminator_loss)(same, uniform, same, classes),
        gan.discriminator_loss(same[:, 0], same[:, 0]), rtol=1e-6)


def test_all_heads_form_is_a_binary_cross_entropy_against_one_hot_targets():
    fake = np.array([0.3, -1.2, 2.0], np.float32)
    real, weights = np.array([1.0, -0.4, 0.1], np.float32), np.array([0.2, 0.5, 0.3], np.float32)
    prob = 1.0 / (1.0 + np.exp(-fake.astype(np.float64)))
    target = np.eye(K)[1]
    bce = -np.sum(target * np.log(prob) + (1 - target) * np.log1p(-prob))
    assert float(gan_em.conditional_generator_loss(fake, 1, all_heads=True)) == pytest.approx(
        bce, rel=1e-5)
    real_term = -np.sum(weights * np.log(1.0 / (1.0 + np.exp(-real.astype(np.float64)))))
    assert float(gan_em.weighted_discriminator_loss(real, weights, fake, 1, all_heads=True)
                 ) == pytest.approx(real_term - np.sum(np.log1p(-prob)), rel=1e-5)


def test_enet_loss_is_stationary_at_the_posterior_of_the_generated_classes():
    grid = np.linspace(-6.0, 6.0, 2001)
    prior = np.array([0.3, 0.7])
    log_joint = np.log(prior) + np.stack([stats.norm.logpdf(grid, -1.0, 0.8),
                                          stats.norm.logpdf(grid, 1.0, 1.2)], axis=1)
    posterior_logits = jnp.asarray(log_joint - log_joint.max(axis=1, keepdims=True), jnp.float32)
    mass = jnp.asarray(np.exp(log_joint) * (grid[1] - grid[0]), jnp.float32)  # pi_c p_c(x) dx

    @jax.jit
    def expected_loss(logits):  # E_{c ~ pi, x ~ p_c} [-log q(c | x)], by quadrature
        per_class = jax.vmap(jax.vmap(gan_em.enet_loss, (None, 0)), (0, None))(
            logits, jnp.arange(2))
        return jnp.sum(mass * per_class)

    at_posterior = jax.grad(expected_loss)(posterior_logits)
    assert float(jnp.max(jnp.abs(at_posterior))) < 1e-6
    shifted = posterior_logits.at[:, 0].add(0.5)
    assert float(jnp.max(jnp.abs(jax.grad(expected_loss)(shifted)))) > 1e-4
    assert float(expected_loss(shifted)) > float(expected_loss(posterior_logits))
    np.testing.assert_allclose(gan_em.soft_assignments(posterior_logits).sum(axis=1), 1.0,
                               rtol=1e-6)


def test_clustering_accuracy_is_the_best_label_permutation():
    rng = np.random.default_rng(1)
    for _ in range(5):
        labels = rng.integers(0, 4, size=40)
        clusters = np.where(rng.random(40) < 0.6, (labels + 1) % 4, rng.integers(0, 4, 40))
        best = max(np.mean(np.asarray(perm)[clusters] == labels)
                   for perm in itertools.permutations(range(4)))
        assert gan_em.clustering_accuracy(clusters, labels) == pytest.approx(best)
    assert gan_em.clustering_accuracy(np.array([2, 2, 0]), np.array([0, 0, 1])) == 1.0


def test_bad_arguments_are_refused_with_one_line():
    z = np.zeros(K, np.float32)
    with pytest.raises(ValueError, match=r"real_logits must be of shape \(K,\)"):
        gan_em.weighted_discriminator_loss(np.zeros((2, K)), z, z, 0)
    with pytest.raises(ValueError, match="weights must be of shape"):
        gan_em.weighted_discriminator_loss(z, np.zeros(K + 1), z, 0)
    with pytest.raises(ValueError, match="fake_class must be an integer"):
        gan_em.conditional_generator_loss(z, 1.0)
    with pytest.raises(ValueError, match="clusters must be a"):
        gan_em.clustering_accuracy(np.array([0.5, 1.0]), np.array([0, 1]))
    with pytest.raises(ValueError, match="of the same shape"):
        gan_em.clustering_accuracy(np.array([0, 1]), np.array([0, 1, 1]))
