"""Direct discriminative optimization [P084]: 1D optima by quadrature, self-play, arguments."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import optimize, stats

from likelihood_jax.energy import ddo, gan

GRID = np.linspace(-10.0, 10.0, 4001)
DX = GRID[1] - GRID[0]


def _gaussian_log_prob(theta):
    """``log N(x; mu, exp(log_s)^2)`` on the grid, ``theta = (mu, log_s)``."""
    mu, log_s = theta[0], theta[1]
    return -0.5 * ((GRID - mu) / jnp.exp(log_s)) ** 2 - log_s - 0.5 * jnp.log(2 * jnp.pi)


def _expected_loss(theta, log_p_data, log_p_ref):
    """``E_data softplus(-d) + E_ref softplus(d)`` by quadrature on the grid."""
    log_p = _gaussian_log_prob(theta)
    real = ddo.ddo_loss(log_p, log_p_ref, log_p, log_p_ref)  # both terms, pointwise
    data_term = jax.nn.softplus(-ddo.implicit_logit(log_p, log_p_ref))
    ref_term = real - data_term
    return DX * jnp.sum(jnp.exp(log_p_data) * data_term + jnp.exp(log_p_ref) * ref_term)


def _fit(log_p_data, log_p_ref, theta0):
    with jax.enable_x64(True):
        fun = jax.jit(jax.value_and_grad(
            lambda th: _expected_loss(th, jnp.asarray(log_p_data), jnp.asarray(log_p_ref))))
        result = optimize.minimize(lambda th: tuple(np.asarray(v) for v in fun(jnp.asarray(th))),
                                   np.asarray(theta0, np.float64), jac=True, method="BFGS",
                                   options={"gtol": 1e-10})
    return result.x


def test_well_specified_optimum_is_the_data_and_the_bayes_discriminator():
    """p_ref = N(0, 1.5^2) != p_data = N(1, 0.8^2): the optimum is p_theta = p_data."""
    log_p_data = stats.norm.logpdf(GRID, 1.0, 0.8)
    log_p_ref = stats.norm.logpdf(GRID, 0.0, 1.5)
    theta = _fit(log_p_data, log_p_ref, [0.0, np.log(1.5)])
    np.testing.assert_allclose([theta[0], np.exp(theta[1])], [1.0, 0.8], atol=1e-4)
    # sigma(d*) = p_data / (p_data + p_ref), the GAN's optimal discriminator.
    with jax.enable_x64(True):
        d_star = jax.nn.sigmoid(ddo.implicit_logit(_gaussian_log_prob(jnp.asarray(theta)),
                                                   log_p_ref))
        bayes = gan.optimal_discriminator(log_p_data, log_p_ref)
    inside = np.abs(GRID) < 4
    np.testing.assert_allclose(np.asarray(d_star)[inside], np.asarray(bayes)[inside], atol=1e-4)


def test_self_play_of_a_capacity_limited_gaussian_returns_to_the_mle_fit():
    """Bimodal data, one Gaussian, alpha = beta = 1: the MLE fit is self-play's fixed point.

    At ``p_ref = p_MLE`` the DDO gradient ``-(1/2) E_data grad log p + (1/2) E_ref grad log p``
    vanishes (both expected scores are 0), and the quadrature optimum is the moment-matching
    fit itself; from a wider reference the rounds move the fit towards it. (The catalog's
    "towards mode-seeking" does not happen here; see experiments/ddo/README.md.)
    """
    weights, means, std = np.array([0.7, 0.3]), np.array([-2.0, 2.0]), 0.5
    log_p_data = np.logaddexp(*(np.log(w) + stats.norm.logpdf(GRID, m, std)
                                for w, m in zip(weights, means)))
    mean = float(weights @ means)
    mle = np.array([mean, 0.5 * np.log(std**2 + weights @ means**2 - mean**2)])
    with jax.enable_x64(True):
        ref = np.asarray(_gaussian_log_prob(jnp.asarray(mle)))
        np.testing.assert_allclose(_fit(log_p_data, ref, mle + 0.05), mle, atol=1e-4)
        theta = np.array([0.0, np.log(3.0)])  # a wide, mode-covering reference
        distances = [np.linalg.norm(theta - mle)]
        for _ in range(4):  # self-play rounds: the fitted model becomes the reference
            ref = np.asarray(_gaussian_log_prob(jnp.asarray(theta)))
            theta = _fit(log_p_data, ref, theta)
            distances.append(np.linalg.norm(theta - mle))
    assert distances[-1] < 0.2 * distances[0], distances


def test_no_gradient_reaches_the_reference():
    grads = jax.grad(lambda a, b: jnp.sum(ddo.ddo_loss(a, b, a, b)), argnums=(0, 1))(
        jnp.array([0.3, -1.0]), jnp.array([0.1, 0.2]))
    assert float(jnp.abs(grads[1]).sum()) == 0.0
    # At p_theta = p_ref the logits are 0: each term is log 2 and the data gradient is -1/2.
    np.testing.assert_allclose(ddo.ddo_loss(jnp.ones(2), jnp.ones(2), jnp.ones(2), jnp.ones(2)),
                               2 * np.log(2.0) * np.ones(2), rtol=1e-6)


@pytest.mark.parametrize("call, match", [
    (lambda: ddo.implicit_logit(jnp.zeros(2), jnp.zeros(2), beta=0.0), "beta"),
    (lambda: ddo.ddo_loss(jnp.zeros(2), jnp.zeros(2), jnp.zeros(2), jnp.zeros(2), alpha=-1.0),
     "alpha"),
    (lambda: ddo.ddo_loss(jnp.zeros(2), jnp.zeros(3), jnp.zeros(2), jnp.zeros(2)), "ref_log_prob"),
    (lambda: ddo.implicit_logit(jnp.zeros(2, jnp.int32), jnp.zeros(2)), "log_prob"),
])
def test_bad_arguments_raise(call, match):
    with pytest.raises(ValueError, match=match):
        call()
