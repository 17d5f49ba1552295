"""Regularized auto-encoders as score estimators [P029]: criteria, score, approximate MH."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from likelihood_jax import score_matching
from likelihood_jax.data.synthetic.targets import GaussianMixture
from likelihood_jax.energy import mcmc
from likelihood_jax.energy import regularized_autoencoder as rae

A = np.array([[0.8, -0.3, 0.5], [0.2, 1.1, -0.4], [-0.6, 0.1, 0.9]], np.float32)


def _tanh_map(x):
    return jnp.tanh(jnp.asarray(A) @ x)


def _tanh_frobenius(x):
    """``|diag(1 - tanh^2(A x)) A|_F^2`` in closed form (numpy)."""
    d = 1.0 - np.tanh(A @ np.asarray(x)) ** 2
    return float(np.sum((d[:, None] * A) ** 2))


def test_exact_frobenius_matches_closed_form():
    x = jnp.array([0.3, -0.7, 1.2])
    got = rae.jacobian_frobenius_squared(_tanh_map, x)
    np.testing.assert_allclose(got, _tanh_frobenius(x), rtol=1e-5)


@pytest.mark.parametrize("probe", ["rademacher", "gaussian"])
def test_hutchinson_frobenius_is_unbiased(probe):
    """The mean of one-probe estimates over many keys is within 5 standard errors of exact."""
    x = jnp.array([0.3, -0.7, 1.2])
    keys = jax.random.split(jax.random.key(0), 4000)
    draws = np.asarray(jax.jit(jax.vmap(
        lambda k: rae.jacobian_frobenius_squared(_tanh_map, x, k, probe=probe)))(keys))
    exact = _tanh_frobenius(x)
    assert np.std(draws) > 1e-3  # a real estimate, not the exact value in disguise
    assert abs(draws.mean() - exact) < 5 * draws.std() / np.sqrt(draws.size)


def test_contractive_minimizer_of_a_linear_autoencoder():
    """For ``r(x) = a x + b`` the empirical criterion is minimized at ``a = v / (v + sigma^2)``,
    ``b = (1 - a) mean`` (sample mean and variance): the gradient vanishes there, and the
    score estimate is ``-(x - mean) / (v + sigma^2)``."""
    x = jax.random.normal(jax.random.key(1), (500, 1)) * 1.5 + 0.7
    sigma = 0.3
    x64 = np.asarray(x, np.float64)
    mean, var = float(x64.mean()), float(x64.var())

    def loss(params):
        a, b = params
        crit = jax.vmap(lambda xi: rae.contractive_criterion(lambda z: a * z + b, xi, sigma))
        return jnp.mean(crit(x))

    a_star = var / (var + sigma ** 2)
    optimum = jnp.array([a_star, (1 - a_star) * mean])
    value, grads = jax.jit(jax.value_and_grad(loss))(optimum)
    np.testing.assert_allclose(grads, 0.0, atol=1e-5)  # about 0.2 at a = a* + 0.05
    np.testing.assert_allclose(value, var * (1 - a_star) ** 2 + sigma ** 2 * a_star ** 2,
                               rtol=1e-5)
    score = rae.reconstruction_score(lambda z: optimum[0] * z + optimum[1], sigma)
    np.testing.assert_allclose(score(jnp.array([2.0])), -(2.0 - mean) / (var + sigma ** 2),
                               rtol=1e-5)


def test_contractive_hutchinson_matches_exact_in_mean():
    x = jnp.array([0.3, -0.7, 1.2])
    exact = rae.contractive_criterion(_tanh_map, x, 0.5)
    estimate = rae.contractive_criterion(_tanh_map, x, 0.5, jax.random.key(3), num_probes=20000)
    np.testing.assert_allclose(estimate, exact, rtol=2e-2)
    np.testing.assert_allclose(exact, np.sum((np.tanh(A @ np.asarray(x)) - x) ** 2)
                               + 0.25 * _tanh_frobenius(x), rtol=1e-5)


def test_denoising_criterion_is_scaled_denoising_score_matching():
    """``|r(x + s eps) - x|^2 = 2 s^4 DSM(s_r)`` with ``s_r(z) = (r(z) - z) / s^2``."""
    x, sigma, key = jnp.array([0.3, -0.7, 1.2]), 0.2, jax.random.key(4)
    dae = rae.denoising_criterion(_tanh_map, x, key, sigma)
    dsm = score_matching.denoising_score_matching(rae.reconstruction_score(_tanh_map, sigma),
                                                  x, key, sigma)
    np.testing.assert_allclose(dae, 2 * sigma ** 4 * dsm, rtol=1e-4)


def test_energy_difference_is_exact_for_a_gaussian_and_converges_for_a_mixture():
    cov_inv = jnp.array([[2.0, 0.5], [0.5, 1.0]])
    x, x_new = jnp.array([0.4, -1.0]), jnp.array([-0.3, 0.8])
    energy = lambda z: 0.5 * z @ cov_inv @ z  # noqa: E731
    got = rae.energy_difference(lambda z: -cov_inv @ z, x, x_new)
    np.testing.assert_allclose(got, energy(x_new) - energy(x), rtol=1e-5)
    mixture = GaussianMixture([[-1.0, 0.0], [1.0, 0.5]], 0.5)
    score = jax.grad(mixture.log_prob)

    @jax.jit
    def errors(x, x_new):
        exact = mixture.log_prob(x) - mixture.log_prob(x_new)
        return (rae.energy_difference(score, x, x_new, num_points=2) - exact,
                rae.energy_difference(score, x, x_new, num_points=65) - exact)

    coarse, fine = errors(x, x_new)
    assert abs(fine) < 1e-3 < abs(coarse)


def test_approximate_mh_with_exact_gaussian_score_is_random_walk_metropolis():
    """Linear score, trapezoid exact: the same chain as RWM on the log-density, draw for draw."""
    cov_inv = jnp.array([[2.0, 0.5], [0.5, 1.0]])
    key, x0 = jax.random.key(5), jnp.array([2.0, -2.0])
    ours, rwm = jax.jit(lambda key, x0: (
        rae.approximate_metropolis_hastings(lambda z: -cov_inv @ z, x0, key, scale=0.8,
                                            num_steps=200, return_trace=True),
        mcmc.random_walk_metropolis(lambda z: -0.5 * z @ cov_inv @ z, x0, key, scale=0.8,
                                    num_steps=200, return_trace=True)))(key, x0)
    np.testing.assert_allclose(ours.trace, rwm.trace, atol=1e-4)
    np.testing.assert_allclose(ours.acceptance_rate, rwm.acceptance_rate, atol=1e-4)
    assert 0.2 < float(ours.acceptance_rate) < 0.9


@pytest.mark.nightly
def test_approximate_mh_samples_a_mixture_with_its_exact_score():
    """Mixture score (not linear): 3-node chains still match the mixture's mean and variance."""
    mixture = GaussianMixture([[-1.0], [1.0]], 0.4, weights=[0.3, 0.7])
    score = jax.grad(mixture.log_prob)
    keys = jax.random.split(jax.random.key(6), 256)
    chains = jax.jit(jax.vmap(lambda k: rae.approximate_metropolis_hastings(
        score, jnp.zeros(1), k, scale=1.0, num_steps=300, num_points=3).state))(keys)
    mean, var = 0.4, 1.0  # mean 0.7 - 0.3; E x^2 = 0.4^2 + 1, so the variance is 1
    assert abs(float(chains.mean()) - mean) < 0.15
    assert abs(float(chains.var()) - var) < 0.2


@pytest.mark.parametrize("call, match", [
    (lambda: rae.contractive_criterion(_tanh_map, jnp.ones(3), -0.1), "sigma"),
    (lambda: rae.contractive_criterion(_tanh_map, jnp.ones((2, 3)), 0.1), "one example"),
    (lambda: rae.contractive_criterion(lambda z: z[:2], jnp.ones(3), 0.1), "reconstruct"),
    (lambda: rae.denoising_criterion(_tanh_map, jnp.ones(3), None, 0.1), "key"),
    (lambda: rae.energy_difference(lambda z: z, jnp.ones(2), jnp.ones(2), num_points=1),
     "num_points"),
    (lambda: rae.approximate_metropolis_hastings(lambda z: z, jnp.ones(2), jax.random.key(0),
                                                 scale=0.0, num_steps=3), "scale"),
    (lambda: rae.jacobian_frobenius_squared(_tanh_map, jnp.ones(3), jax.random.key(0),
                                            num_probes=0), "num_probes"),
])
def test_bad_arguments_are_refused(call, match):
    with pytest.raises(ValueError, match=match):
        call()
