"""Diffusion recovery likelihood [P172]: closed forms on Gaussian data, Langevin, learning."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from scipy import stats

from likelihood_jax.energy import recovery_likelihood as rl


def test_marginal_coefficients_match_products():
    alphas, sigmas = rl.vp_schedule(5, 0.1, 0.8)
    abar, sbar = rl.marginal_coefficients(alphas, sigmas)
    expected = np.concatenate([[1.0], np.cumprod(np.asarray(alphas))])
    np.testing.assert_allclose(abar, expected, rtol=1e-6)
    # Variance preserving: a unit-variance x_0 stays unit variance at every level.
    np.testing.assert_allclose(abar**2 + sbar**2, np.ones(6), rtol=1e-6)
    # DDPM posterior std: Var[x_t | x_{t+1}, x_0] of the joint Gaussian, by Schur complement.
    a, s = np.asarray(abar), np.asarray(sbar)
    cov_tt, cov_t1 = s[:-1] ** 2, np.asarray(alphas) * s[:-1] ** 2
    post = cov_tt - cov_t1**2 / s[1:] ** 2
    np.testing.assert_allclose(rl.posterior_std(alphas, sigmas) ** 2, post, atol=1e-6)
    assert a[-1] < a[0]


def test_gaussian_recovery_matches_quadrature():
    """The recovery conditional with f = log N(m_t, v_t), normalized on a grid."""
    with jax.enable_x64(True):
        m_t, v_t, alpha, sigma, x_next = 0.7, 1.8, 0.9, 0.45, -0.3
        grid = jnp.linspace(-12.0, 12.0, 20001)
        log_f = stats.norm.logpdf(np.asarray(grid), m_t, np.sqrt(v_t))
        log_p = jax.vmap(rl.recovery_log_prob, in_axes=(0, 0, None, None, None))(
            jnp.asarray(log_f), grid[:, None], jnp.array([x_next]), alpha, sigma)
        w = np.exp(np.asarray(log_p) - np.max(log_p))
        w /= w.sum()
        mean_q = np.sum(w * np.asarray(grid))
        var_q = np.sum(w * (np.asarray(grid) - mean_q) ** 2)
        mean, var = rl.gaussian_recovery(m_t, v_t, x_next, alpha, sigma)
        np.testing.assert_allclose([mean, var], [mean_q, var_q], rtol=1e-6)


def test_langevin_on_true_log_density_matches_recovery_conditional():
    """2D Gaussian data, f = the true log p_t: refined chains have the closed-form mean/var."""
    alphas, sigmas = rl.vp_schedule(4, 0.2, 0.6)
    abar, sbar = rl.marginal_coefficients(alphas, sigmas)
    t = 2
    m0, v0 = jnp.array([1.0, -0.5]), jnp.array([0.5, 2.0])
    m_t, v_t = rl.gaussian_marginal(m0, v0, abar[t], sbar[t])
    x_next = jnp.array([0.4, -1.0])

    def log_f(x):
        return jnp.sum(-0.5 * (x - m_t) ** 2 / v_t)

    mean, var = rl.gaussian_recovery(m_t, v_t, x_next, alphas[t], sigmas[t])
    h = 0.1 * float(jnp.min(var))
    keys = jax.random.split(jax.random.key(0), 3000)
    refine = jax.jit(jax.vmap(lambda k: rl.refine(
        log_f, x_next / alphas[t], x_next, alphas[t], sigmas[t], k, step_size=h,
        num_steps=100)))
    samples = np.asarray(refine(keys))
    np.testing.assert_allclose(samples.mean(0), mean, atol=4 * np.sqrt(float(var.max()) / 3000))
    # ULA's stationary variance of N(mu, v) is v / (1 - h / (4 v)) (energy.mcmc.ula).
    np.testing.assert_allclose(samples.var(0), var / (1 - h / (4 * var)), rtol=0.08)


@pytest.mark.nightly  # 5-25 s on 2 loaded cores: kept out of the default tier's budget
def test_learned_quadratic_energy_matches_analytic_log_density():
    """Maximum recovery likelihood by the contrastive loss recovers log p_t up to a constant.

    1D data N(m0, v0); ``f(x) = -a x^2 / 2 + b x``; the negatives are exact draws from the
    model's recovery conditional (Gaussian, since ``f`` is quadratic). The optimum is
    ``a = 1 / v_t``, ``b = m_t / v_t``.
    """
    with jax.enable_x64(True):
        alphas, sigmas = rl.vp_schedule(3, 0.3, 0.7)
        abar, sbar = rl.marginal_coefficients(alphas, sigmas)
        t, m0, v0 = 1, 1.5, 0.6
        m_t, v_t = rl.gaussian_marginal(m0, v0, abar[t], sbar[t])
        key_data, key_train = jax.random.split(jax.random.key(1))
        x0 = m0 + np.sqrt(v0) * jax.random.normal(key_data, (5000, 1), jnp.float64)
        x_t, x_next = jax.vmap(lambda x, k: rl.noisy_pair(x, t, alphas, sigmas, k))(
            x0, jax.random.split(key_train, len(x0)))

        def f(theta, x):
            a, b = jnp.exp(theta[0]), theta[1]
            return jnp.sum(-0.5 * a * x**2 + b * x, axis=-1)

        def loss(theta, key):
            a, b = jnp.exp(theta[0]), theta[1]
            mean, var = rl.gaussian_recovery(b / a, 1.0 / a, x_next, alphas[t], sigmas[t])
            neg = jax.lax.stop_gradient(mean + jnp.sqrt(var) * jax.random.normal(key, mean.shape))
            return jnp.mean(rl.recovery_contrastive_loss(f(theta, x_t), f(theta, neg)))

        opt = optax.adam(optax.exponential_decay(0.3, 100, 0.1))

        def step(carry, key):
            theta, state = carry
            updates, state = opt.update(jax.grad(loss)(theta, key), state)
            return (optax.apply_updates(theta, updates), state), None

        theta0 = jnp.zeros(2)
        (theta, _), _ = jax.jit(lambda k: jax.lax.scan(
            step, (theta0, opt.init(theta0)), jax.random.split(k, 200)))(jax.random.key(2))
        np.testing.assert_allclose([jnp.exp(theta[0]), theta[1]], [1 / v_t, m_t / v_t],
                                   rtol=0.05, atol=0.02)


def test_initializer_loss_gradient_is_refined_minus_initial():
    mean, refined, std = jnp.array([0.5, -1.0]), jnp.array([1.0, 0.0]), 0.5
    grad = jax.grad(rl.initializer_loss)(mean, refined, std)
    np.testing.assert_allclose(grad, -(refined - mean) / std**2, rtol=1e-6)
    # No gradient flows into the refined target.
    assert float(jnp.abs(jax.grad(rl.initializer_loss, argnums=1)(mean, refined, std)).sum()) == 0


@pytest.mark.parametrize("call, match", [
    (lambda: rl.vp_schedule(3, 0.1, 1.0), "sigma_max"),
    (lambda: rl.vp_schedule(0, 0.1, 0.5), "num_levels"),
    (lambda: rl.initializer_loss(jnp.zeros(2), jnp.zeros(2), 0.0), "std"),
    (lambda: rl.recovery_contrastive_loss(jnp.zeros(3), jnp.zeros(4)), "f_data"),
])
def test_bad_arguments_raise(call, match):
    with pytest.raises(ValueError, match=match):
        call()
