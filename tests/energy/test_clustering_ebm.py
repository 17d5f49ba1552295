"""GEDI's terms [P039] against independent computations, and Langevin on a Gaussian energy."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import special

from likelihood_jax.energy import clustering_ebm as gedi

RNG = np.random.default_rng(0)
LOGITS_A = RNG.normal(size=(5, 3)).astype(np.float32)
LOGITS_B = RNG.normal(size=(5, 3)).astype(np.float32)
LOGITS_NEG = RNG.normal(size=(4, 3)).astype(np.float32)


def test_terms_match_numpy():
    p_a, p_b = special.softmax(LOGITS_A, 1), special.softmax(LOGITS_B, 1)
    inv = -0.5 * (np.sum(p_a * np.log(p_b), 1) + np.sum(p_b * np.log(p_a), 1))
    np.testing.assert_allclose(gedi.invariance_loss(LOGITS_A, LOGITS_B), inv, rtol=1e-5)
    p_bar = p_a.mean(0)
    np.testing.assert_allclose(gedi.uniform_prior_loss(LOGITS_A),
                               np.sum(p_bar * np.log(p_bar * 3)), rtol=1e-4, atol=1e-7)
    energy = -special.logsumexp(LOGITS_A, 1)
    np.testing.assert_allclose(gedi.energy_from_logits(LOGITS_A), energy, rtol=1e-5)
    gen = energy + special.logsumexp(LOGITS_NEG, 1).mean()
    terms = gedi.gedi_loss(LOGITS_A, LOGITS_A, LOGITS_B, LOGITS_NEG, generative_weight=0.5,
                           invariance_weight=2.0, prior_weight=3.0)
    prior = gedi.uniform_prior_loss(np.concatenate([LOGITS_A, LOGITS_B]))
    np.testing.assert_allclose(terms.generative, gen, rtol=1e-5)
    np.testing.assert_allclose(terms.total, 0.5 * gen + 2.0 * inv + 3.0 * prior, rtol=1e-5)
    with pytest.raises(ValueError, match="prior_weight must be >= 0"):
        gedi.gedi_loss(LOGITS_A, LOGITS_A, LOGITS_B, LOGITS_NEG, prior_weight=-1.0)


def test_failure_modes_are_penalized():
    """Cluster collapse costs ``log K`` in the prior term; disagreeing views cost more than
    agreeing confident ones; a uniform split costs nothing."""
    collapsed = np.tile([[10.0, -10.0, -10.0]], (6, 1))
    np.testing.assert_allclose(gedi.uniform_prior_loss(collapsed), np.log(3), rtol=1e-4)
    balanced = 10.0 * np.eye(3)[np.arange(6) % 3]
    np.testing.assert_allclose(gedi.uniform_prior_loss(balanced), 0.0, atol=1e-4)
    assert np.all(gedi.invariance_loss(balanced, balanced) < 1e-3)
    assert np.all(gedi.invariance_loss(balanced, np.roll(balanced, 1, 0)) > 5.0)


@pytest.mark.nightly  # 5-25 s on 2 loaded cores: kept out of the default tier's budget
def test_generative_gradient_is_the_contrastive_divergence_estimate():
    """For ``f_theta(x) = [theta . x, 0]``, the gradient of the mean generative loss is
    ``mean grad E(data) - mean grad E(negatives)`` with ``grad_theta E = -sigmoid(theta.x) x``."""
    x, neg, theta = RNG.normal(size=(6, 2)), RNG.normal(size=(4, 2)), np.array([0.3, -0.7])

    def loss(t):
        f = lambda z: jnp.stack([z @ t, jnp.zeros(z.shape[0])], 1)  # noqa: E731
        return jnp.mean(gedi.generative_loss(gedi.energy_from_logits(f(x)),
                                             gedi.energy_from_logits(f(neg))))

    grad_e = lambda z: -(special.expit(z @ theta)[:, None] * z).mean(0)  # noqa: E731
    np.testing.assert_allclose(jax.grad(loss)(jnp.asarray(theta)), grad_e(x) - grad_e(neg),
                               rtol=1e-4, atol=1e-6)


def test_langevin_negatives_recover_a_gaussian_energy():
    """ULA chains on ``E(x) = (x - m)^T P (x - m) / 2`` reach mean ``m`` and, at small step
    ``h``, covariance ``P^-1`` (the O(h) bias is below the tolerance)."""
    mean = jnp.array([1.0, -0.5])
    cov = jnp.array([[0.5, 0.2], [0.2, 0.3]])
    precision = jnp.linalg.inv(cov)
    energy = lambda x: 0.5 * (x - mean) @ precision @ (x - mean)  # noqa: E731
    x = jax.jit(lambda k: gedi.langevin_negatives(energy, jnp.zeros((2000, 2)), k,
                                                  step_size=0.02, num_steps=300))(
        jax.random.key(0))
    np.testing.assert_allclose(x.mean(0), mean, atol=0.04)
    np.testing.assert_allclose(np.cov(np.asarray(x).T), cov, atol=0.04)
