"""i-DODE objectives (velocity parameterization) against analytic and independent values.

Gaussian data N(MEAN, COV) with a full covariance: every diffused marginal is Gaussian,
so the optimal velocity F* = alpha E[eps | x_t] - sigma E[x | x_t] is known in closed
form, and so are the ODE's log-likelihood and the second-order identity the fine-tuning
objective matches. Expectations of the time-sampled losses are checked against scipy
quadrature.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.integrate

from likelihood_jax import ode
from likelihood_jax import sde as sde_lib
from likelihood_jax.continuous_time import diffusion

MEAN = np.array([0.5, -1.0])
COV = np.array([[1.0, 0.6], [0.6, 0.5]])
GAMMA_MIN, GAMMA_MAX = -8.0, 5.0


def make_sde():
    return sde_lib.LogSNRSDE(
        gamma=lambda t: sde_lib.linear_log_snr(t, GAMMA_MIN, GAMMA_MAX))


def optimal_velocity(sde):
    """F*(t, x) = alpha E[eps | x_t] - sigma E[x_0 | x_t] for x_0 ~ N(MEAN, COV)."""
    def velocity(t, x):
        alpha, sigma = sde.marginal(t)
        mean, cov = jnp.asarray(MEAN, x.dtype), jnp.asarray(COV, x.dtype)
        prec = jnp.linalg.inv(alpha**2 * cov + sigma**2 * jnp.eye(2, dtype=x.dtype))
        r = prec @ (x - alpha * mean)
        e_eps = sigma * r
        e_x0 = mean + alpha * cov @ r
        return alpha * e_eps - sigma * e_x0
    return velocity


def gaussian_log_prob(x, mean, cov):
    diff = x - mean
    _, logdet = jnp.linalg.slogdet(cov)
    return -0.5 * (diff @ jnp.linalg.solve(cov, diff) + logdet + 2 * math.log(2 * math.pi))


def test_velocity_parameterization_identities():
    key1, key2 = jax.random.split(jax.random.key(0))
    x, eps = jax.random.normal(key1, (2, 5))
    alpha, sigma = 0.8, 0.6
    x_t = alpha * x + sigma * eps
    target = diffusion.velocity_target(x, eps, alpha, sigma)
    np.testing.assert_allclose(diffusion.noise_from_velocity(target, x_t, alpha, sigma), eps,
                               rtol=1e-5, atol=1e-6)
    # The probability-flow velocity of the induced score is gamma' alpha sigma F / 2.
    sde = make_sde()
    field = lambda t, z: jnp.tanh(z) * (1.0 + t)  # noqa: E731
    pf = ode.probability_flow_vector_field(sde, diffusion.velocity_score_fn(sde, field))
    z = jax.random.normal(key2, (5,))
    for t in (0.05, 0.5, 0.95):
        a, s = sde.marginal(t)
        expected = 0.5 * (GAMMA_MAX - GAMMA_MIN) * a * s * field(t, z)
        np.testing.assert_allclose(pf(t, z), expected, rtol=2e-4, atol=1e-6)


def test_ode_log_likelihood_of_the_analytic_velocity_is_the_data_density():
    """Exact divergence: log p_0(x) = log N(x; alpha_0 MEAN, alpha_0^2 COV + sigma_0^2 I)."""
    with jax.enable_x64(True):
        sde = make_sde()
        a1, s1 = sde.marginal(1.0)
        prior = lambda z: gaussian_log_prob(z, a1 * MEAN, a1**2 * COV + s1**2 * jnp.eye(2))  # noqa: E731,E501
        score = diffusion.velocity_score_fn(sde, optimal_velocity(sde))
        xs = jnp.asarray(np.random.default_rng(0).normal(size=(6, 2)) * 1.5 + MEAN)
        log_prob = jax.jit(jax.vmap(lambda x: ode.probability_flow_log_prob(
            sde, score, x, t_min=0.0, prior_log_prob=prior, rtol=1e-9, atol=1e-9)[0]))(xs)
        a0, s0 = sde.marginal(0.0)
        expected = jax.vmap(lambda x: gaussian_log_prob(
            x, a0 * MEAN, a0**2 * COV + s0**2 * jnp.eye(2)))(xs)
        np.testing.assert_allclose(log_prob, expected, atol=1e-6)

        # Hutchinson (Rademacher; the Jacobian is not diagonal, so each solve is noisy):
        # the average over probes matches.
        keys = jax.random.split(jax.random.key(1), 128)
        x = xs[0]
        hutch = jax.jit(jax.vmap(lambda k: ode.probability_flow_log_prob(
            sde, score, x, t_min=0.0, prior_log_prob=prior, key=k, rtol=1e-6,
            atol=1e-6)[0]))(keys)
        assert float(jnp.std(hutch)) > 1e-2
        se = float(jnp.std(hutch)) / math.sqrt(len(keys))
        assert abs(float(jnp.mean(hutch)) - float(expected[0])) < 4 * se


def _expected_velocity_loss(sde, x, c):
    """integral_0^1 gamma'/2 alpha^2 E|alpha eps - sigma x - c x_t|^2 dt by quadrature."""
    d, x2 = x.size, float(np.sum(x * x))
    dgamma = GAMMA_MAX - GAMMA_MIN

    def integrand(t):
        a, s = (float(v) for v in sde.marginal(t))
        mse = (a - c * s) ** 2 * d + (s + c * a) ** 2 * x2
        return 0.5 * dgamma * a**2 * mse

    return scipy.integrate.quad(integrand, 0.0, 1.0, limit=200)[0]


def test_importance_sampled_loss_has_the_uniform_expectation_and_lower_variance():
    sde = make_sde()
    x = jnp.array([0.7, -0.4, 0.2])
    c = 0.3
    model = lambda t, z: c * z  # noqa: E731
    keys = jax.random.split(jax.random.key(2), 100_000)
    exact = _expected_velocity_loss(sde, np.asarray(x), c)
    out = {}
    for sampling in ("uniform", "importance"):
        losses = jax.jit(jax.vmap(lambda k: diffusion.velocity_matching_loss(
            model, x, k, sde=sde, t_sampling=sampling)[0]))(keys)
        out[sampling] = np.asarray(losses, np.float64)
        se = out[sampling].std() / math.sqrt(len(keys))
        assert abs(out[sampling].mean() - exact) < 4 * se, sampling
    assert out["importance"].var() < 0.5 * out["uniform"].var()
    # The importance weight is the constant Z / 2, Z = log(sigma^2(1) / sigma^2(0)).
    _, weight = diffusion.velocity_sample_time(jax.random.key(3), sde)
    s0, s1 = (float(sde.marginal(t)[1]) for t in (0.0, 1.0))
    assert float(weight) == pytest.approx(0.5 * np.log(s1**2 / s0**2), rel=1e-5)
    # ... and the velocity loss is the VDM diffusion term of eps_hat = alpha F + sigma x_t.
    noise_fn = lambda t, z: diffusion.noise_from_velocity(model(t, z), z, *sde.marginal(t))  # noqa: E731,E501
    vdm = jax.jit(jax.vmap(lambda k: diffusion.vdm_nll_bound(
        noise_fn, x, k, gamma=sde.gamma)[1]["diffusion"]))(keys)
    vdm = np.asarray(vdm, np.float64)
    assert abs(vdm.mean() - exact) < 4 * vdm.std() / math.sqrt(len(keys))


def test_importance_time_density_is_proportional_to_gamma_prime_alpha_squared():
    """The sampled log sigma^2(t) is uniform: check the CDF of t against the formula."""
    sde = make_sde()
    keys = jax.random.split(jax.random.key(4), 20_000)
    t = np.asarray(jax.jit(jax.vmap(lambda k: diffusion.velocity_sample_time(k, sde)[0]))(keys))
    log_var = lambda s: np.log(float(sde.marginal(s)[1]) ** 2)  # noqa: E731
    for q in (0.1, 0.3, 0.5, 0.9):
        cdf = (log_var(q) - log_var(0.0)) / (log_var(1.0) - log_var(0.0))
        assert np.mean(t <= q) == pytest.approx(cdf, abs=0.015)


def test_probe_trace_matches_finite_differences():
    with jax.enable_x64(True):
        w = jnp.asarray(np.random.default_rng(5).normal(size=(4, 4)))
        f = lambda z: jnp.tanh(w @ z) * jnp.sin(z)  # noqa: E731
        x = jnp.array([0.3, -0.2, 0.9, 0.1])
        v = jnp.array([1.0, -1.0, -1.0, 1.0])
        value, trace = diffusion.value_and_probe_trace(f, x, v)
        h = 1e-5
        fd = v @ (f(x + h * v) - f(x - h * v)) / (2 * h)
        np.testing.assert_allclose(value, f(x))
        np.testing.assert_allclose(trace, fd, rtol=1e-7)
        # The expectation over all 16 Rademacher probes is the exact trace.
        probes = jnp.asarray(np.array(np.meshgrid(*[[-1.0, 1.0]] * 4)).reshape(4, -1).T)
        mean = jnp.mean(jax.vmap(lambda p: diffusion.value_and_probe_trace(f, x, p)[1])(probes))
        np.testing.assert_allclose(mean, jnp.trace(jax.jacfwd(f)(x)), rtol=1e-10)


def test_second_order_target_vanishes_at_the_optimum_only():
    """E[sigma tr(dF*/dx) - alpha (D - |F_target - F*|^2)] = 0 over data, t and noise."""
    sde = make_sde()
    n = 20_000
    x0 = jnp.asarray(np.random.default_rng(6).multivariate_normal(MEAN, COV, size=n),
                     jnp.float32)
    keys = jax.random.split(jax.random.key(7), n)
    best = optimal_velocity(sde)

    @jax.jit
    def residual_terms(scale, exact_key):
        del exact_key
        return jax.vmap(lambda x, k: diffusion.velocity_second_order_loss(
            lambda t, z: scale * best(t, z), x, k, sde=sde, exact_divergence=True)[1])(
                x0, keys)

    for scale, should_vanish in ((1.0, True), (1.3, False)):
        terms = residual_terms(scale, None)
        r = np.asarray(terms["residual"], np.float64)
        se = r.std() / math.sqrt(n)
        assert (abs(r.mean()) < 4 * se) == should_vanish, (scale, r.mean(), se)
        if scale == 1.0:
            exact = terms
    # The one-probe (jvp) version has the same mean divergence as the exact one.
    hutch = jax.jit(jax.vmap(lambda x, k: diffusion.velocity_second_order_loss(
        best, x, k, sde=sde)[1]))(x0, keys)
    diff = np.asarray(hutch["divergence"] - exact["divergence"], np.float64)
    assert np.abs(diff).max() > 1e-3
    assert abs(diff.mean()) < 4 * diff.std() / math.sqrt(n)
    loss, terms = diffusion.velocity_second_order_loss(best, x0[0], keys[0], sde=sde,
                                                        second_order_weight=0.1)
    np.testing.assert_allclose(loss, terms["first"] + terms["second"], rtol=1e-6)


def test_bad_options_raise():
    sde = make_sde()
    with pytest.raises(ValueError, match="time sampling"):
        diffusion.velocity_sample_time(jax.random.key(0), sde, sampling="beta")
    for bad in (sde_lib.SubVPSDE(), sde_lib.VESDE()):
        with pytest.raises(ValueError, match="variance-preserving"):
            diffusion.velocity_score_fn(bad, lambda t, z: z)
