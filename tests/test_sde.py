"""SDEs: closed-form marginals against Euler–Maruyama Monte Carlo, schedules, reverse sampling."""

import fractions
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from likelihood_jax import sde as sde_lib

SDES = {
    "vp": sde_lib.VPSDE(),
    "subvp": sde_lib.SubVPSDE(),
    "ve": sde_lib.VESDE(sigma_min=0.01, sigma_max=5.0),
    "logsnr": sde_lib.LogSNRSDE(gamma=functools.partial(sde_lib.linear_log_snr,
                                                         gamma_min=-8.0, gamma_max=4.0)),
}


@pytest.mark.parametrize("name", list(SDES))
def test_marginal_mean_and_std_match_euler_maruyama(name):
    sde = SDES[name]
    x0 = jnp.array([1.0, -2.0, 0.5])
    n, t_end = 4000, 0.6
    keys = jax.random.split(jax.random.key(0), n)
    xt = jax.jit(jax.vmap(lambda k: sde_lib.euler_maruyama(
        sde, x0, k, num_steps=400, t_end=t_end)))(keys)
    alpha, sigma = sde.marginal(t_end)
    mean, std = np.asarray(xt).mean(0), np.asarray(xt).std(0)
    # Monte Carlo error (5 standard errors) plus a small O(h) discretization allowance.
    np.testing.assert_allclose(mean, alpha * x0, atol=5 * sigma / math.sqrt(n) + 0.01)
    np.testing.assert_allclose(std, np.full(3, sigma), atol=5 * sigma / math.sqrt(2 * n) + 0.01)


@pytest.mark.parametrize("name", list(SDES))
def test_g2_over_sigma2_is_the_derivative_of_minus_log_snr(name):
    """The identity the importance sampler of losses.diffusion relies on."""
    sde = SDES[name]
    for t in [0.05, 0.3, 0.9]:
        t = jnp.asarray(t)
        _, dlam = jax.jvp(lambda s: -sde.log_snr(s), (t,), (jnp.ones_like(t),))
        _, sigma = sde.marginal(t)
        np.testing.assert_allclose(sde.diffusion(t) ** 2 / sigma**2, dlam, rtol=1e-4)


def test_marginal_variance_solves_its_ode():
    """d sigma^2/dt = 2 a(t) sigma^2 + g(t)^2 and d alpha/dt = a(t) alpha (linear SDEs)."""
    for sde in SDES.values():
        t = jnp.asarray(0.4)
        (alpha, sigma), (dalpha, dsigma) = jax.jvp(sde.marginal, (t,), (jnp.ones_like(t),))
        a = sde.drift_coefficient(t)
        np.testing.assert_allclose(dalpha, a * alpha, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(2 * sigma * dsigma, 2 * a * sigma**2 + sde.diffusion(t) ** 2,
                                   rtol=1e-4)


def test_logsnr_sde_with_the_vp_schedule_is_the_vp_sde():
    vp = sde_lib.VPSDE()
    log_snr_vp = sde_lib.LogSNRSDE(gamma=lambda t: jnp.log(jnp.expm1(vp.integrated_beta(t))))
    for t in [0.1, 0.5, 1.0]:
        np.testing.assert_allclose(log_snr_vp.marginal(t), vp.marginal(t), rtol=1e-5)
        np.testing.assert_allclose(log_snr_vp.beta(jnp.asarray(t)), vp.beta(t), rtol=1e-4)


def test_monotone_log_snr_is_monotone_with_fixed_ends_and_learnable():
    params = sde_lib.init_monotone_log_snr(8, -10.0, 6.0)
    params["logits"] = jax.random.normal(jax.random.key(0), (8,))
    ts = jnp.linspace(0.0, 1.0, 101)
    gammas = jax.vmap(lambda t: sde_lib.monotone_log_snr(params, t))(ts)
    assert np.all(np.diff(np.asarray(gammas)) > 0)
    np.testing.assert_allclose([gammas[0], gammas[-1]], [-10.0, 6.0], atol=1e-5)
    # The initialization is the linear schedule.
    init = sde_lib.init_monotone_log_snr(8, -10.0, 6.0)
    np.testing.assert_allclose(sde_lib.monotone_log_snr(init, 0.37),
                               sde_lib.linear_log_snr(0.37, -10.0, 6.0), atol=1e-5)
    grads = jax.grad(lambda p: sde_lib.monotone_log_snr(p, 0.37))(params)
    assert float(jnp.abs(grads["logits"]).sum()) > 0


def test_prior_log_prob_and_sampling():
    sde = sde_lib.VESDE(sigma_max=3.0)
    z = jnp.array([1.0, -2.0])
    expected = np.sum(-0.5 * (np.asarray(z) / 3.0) ** 2 - math.log(3.0)
                      - 0.5 * math.log(2 * math.pi))
    np.testing.assert_allclose(sde.prior_log_prob(z), expected, rtol=1e-6)
    samples = sde.prior_sample(jax.random.key(0), (20000, 2))
    assert abs(float(samples.std()) - 3.0) < 0.05


def test_reverse_sde_with_the_true_score_samples_the_data():
    """Gaussian data: the analytic score, reverse Euler–Maruyama from the prior."""
    sde = sde_lib.VPSDE()
    mean, var = jnp.array([1.5, -0.5]), jnp.array([0.25, 1.0])

    def score(t, x):
        alpha, sigma = sde.marginal(t)
        return -(x - alpha * mean) / (alpha**2 * var + sigma**2)

    keys = jax.random.split(jax.random.key(1), 4000)

    def draw(k):
        prior_key, path_key = jax.random.split(k)
        x_T = sde.prior_sample(prior_key, (2,))
        return sde_lib.reverse_euler_maruyama(sde, score, x_T, path_key, num_steps=500)

    x = np.asarray(jax.jit(jax.vmap(draw))(keys))
    np.testing.assert_allclose(x.mean(0), mean, atol=0.06)
    np.testing.assert_allclose(x.var(0), var, rtol=0.1)
    # The wrong score (zero) would leave the prior's N(0, I): check the test can fail.
    x_bad = np.asarray(jax.jit(jax.vmap(lambda k: sde_lib.reverse_euler_maruyama(
        sde, lambda t, y: jnp.zeros_like(y), sde.prior_sample(k, (2,)), k,
        num_steps=100)))(keys[:500]))
    assert abs(x_bad.mean(0)[0] - 1.5) > 0.5


def test_marginal_sample_and_conditional_score():
    sde = sde_lib.VPSDE()
    x0 = jnp.array([0.3, -0.7])
    x_t, eps = sde.marginal_sample(jax.random.key(0), x0, 0.5)
    alpha, sigma = sde.marginal(0.5)
    np.testing.assert_allclose(x_t, alpha * x0 + sigma * eps, rtol=1e-6)
    np.testing.assert_allclose(sde.conditional_score(x_t, x0, 0.5), -eps / sigma, rtol=1e-5)
    score = jax.grad(lambda y: sde.conditional_log_prob(y, x0, 0.5))(x_t)
    np.testing.assert_allclose(score, -eps / sigma, rtol=1e-5)


# -- The fixed-step time grid -------------------------------------------------------------------

GRID_CASES = [(1.0, 1e-3), (0.0, 1e-3), (1e-3, 1.0), (0.3, 0.7), (1.0, 0.0)]


@pytest.mark.parametrize("t_start,t_end", GRID_CASES)
@pytest.mark.parametrize("num_steps", [1, 7, 1000])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_time_grid_hits_both_ends_exactly_and_is_monotone(t_start, t_end, num_steps, dtype):
    with jax.enable_x64(dtype == "float64"):
        grid = sde_lib.time_grid(t_start, t_end, num_steps, jnp.dtype(dtype))
        assert grid.dtype == jnp.dtype(dtype) and grid.shape == (num_steps + 1,)
        grid = np.asarray(grid)
    ends = np.array([t_start, t_end], dtype)  # the end points as dtype holds them
    assert grid[0] == ends[0] and grid[-1] == ends[1]
    steps = np.diff(grid.astype(np.float64)) * np.sign(t_end - t_start)
    assert np.all(steps > 0)
    a, b = fractions.Fraction(t_start), fractions.Fraction(t_end)
    exact = np.array([float(a + (b - a) * i / num_steps) for i in range(num_steps + 1)])
    np.testing.assert_array_max_ulp(grid, exact.astype(dtype), maxulp=2)


def test_time_grid_under_jit_with_traced_ends_hits_both_ends():
    grid = jax.jit(lambda a, b: sde_lib.time_grid(a, b, 7))(jnp.float32(1.0), jnp.float32(1e-3))
    assert grid[0] == np.float32(1.0) and grid[-1] == np.float32(1e-3)
    assert np.all(np.diff(np.asarray(grid)) < 0)


def test_time_grid_rejects_zero_steps():
    with pytest.raises(ValueError, match="num_steps"):
        sde_lib.time_grid(0.0, 1.0, 0)


def test_samplers_evaluate_the_score_on_the_time_grid():
    seen = []

    def score(t, x):
        jax.debug.callback(lambda s: seen.append(float(s)), t, ordered=True)
        return -x

    sde, x, key = sde_lib.VPSDE(), jnp.zeros(2), jax.random.key(0)
    grid = np.asarray(sde_lib.time_grid(sde.T, 1e-3, 7))
    for sampler in (sde_lib.reverse_euler_maruyama, sde_lib.reverse_ml_solver):
        seen.clear()
        sampler(sde, score, x, key, num_steps=7, t_end=1e-3)
        jax.effects_barrier()
        np.testing.assert_array_equal(np.array(seen, np.float32), grid[:-1])
