"""restoration: IR-SDE marginals, score, x*_{t-1}, losses, sampler; degradations; PSNR/SSIM."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate, ndimage

from likelihood_jax.continuous_time import restoration
from likelihood_jax.continuous_time.restoration import MeanRevertingSDE

SCHEDULES = ["cosine", "constant"]


def euler_maruyama_paths(sde, x0, mu, key, num_paths, num_steps):
    """Simulates dx = theta(t)(mu - x) dt + sigma(t) dw in real time t (plain Euler–Maruyama)."""
    dt = 1.0 / num_steps

    def step(x, inputs):
        i, k = inputs
        t = i * dt
        x = (x + sde.drift(t, x, mu) * dt
             + sde.diffusion(t) * math.sqrt(dt) * jax.random.normal(k, x.shape))
        return x, x

    x = jnp.full((num_paths,), x0, jnp.float32)
    _, xs = jax.lax.scan(step, x, (jnp.arange(num_steps), jax.random.split(key, num_steps)))
    return np.asarray(xs)  # xs[j] is the state at t = (j + 1) dt


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_theta_bar_is_the_integral_of_theta_and_reaches_the_terminal_weight(schedule):
    sde = MeanRevertingSDE(lam=0.3, schedule=schedule, terminal_eps=0.01)
    for s, t in [(0.0, 0.3), (0.2, 0.7), (0.0, 1.0), (0.9, 1.0)]:
        numeric, _ = integrate.quad(lambda z: float(sde.theta(z)), s, t)
        assert float(sde.theta_bar(t, s)) == pytest.approx(numeric, rel=1e-4)
    assert float(jnp.exp(-sde.theta_bar(1.0))) == pytest.approx(0.01, rel=1e-4)
    np.testing.assert_allclose(sde.diffusion(0.4) ** 2 / sde.theta(0.4), 2 * 0.3**2, rtol=1e-5)


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_closed_form_mean_and_variance_match_euler_maruyama_monte_carlo(schedule):
    sde = MeanRevertingSDE(lam=0.5, schedule=schedule, terminal_eps=0.005)
    x0, mu, n, steps = 1.0, -0.5, 20000, 1000
    xs = euler_maruyama_paths(sde, x0, mu, jax.random.key(0), n, steps)
    for t in (0.25, 0.5, 0.75, 1.0):
        sample = xs[round(t * steps) - 1]
        mean = float(sde.marginal_mean(jnp.float32(x0), jnp.float32(mu), t))
        std = float(sde.marginal_std(t))
        assert abs(sample.mean() - mean) < 4 * std / math.sqrt(n) + 5e-3, (t, sample.mean(), mean)
        assert sample.std() == pytest.approx(std, rel=0.03), (t, sample.std(), std)
    # the end state is close to N(mu, lambda^2)
    assert float(sde.marginal_std(1.0)) == pytest.approx(0.5, rel=1e-4)


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_optimal_previous_is_the_mode_of_the_gaussian_posterior(schedule):
    """x*_{s} against Gaussian conditioning of the joint (x_s, x_t) | x_0, with quad integrals."""
    lam = 0.4
    sde = MeanRevertingSDE(lam=lam, schedule=schedule)
    rng = np.random.default_rng(0)
    x0, mu, x_t = rng.normal(size=(3, 5))
    for s, t in [(0.1, 0.2), (0.49, 0.5), (0.9, 1.0)]:
        tb_s = integrate.quad(lambda z: float(sde.theta(z)), 0, s, epsabs=1e-7)[0]
        tb_ts = integrate.quad(lambda z: float(sde.theta(z)), s, t, epsabs=1e-7)[0]
        m_s = mu + (x0 - mu) * np.exp(-tb_s)
        v_s = lam**2 * (1 - np.exp(-2 * tb_s))
        a, v_ts = np.exp(-tb_ts), lam**2 * (1 - np.exp(-2 * tb_ts))
        # joint Gaussian: x_t = mu + a (x_s - mu) + sqrt(v_ts) z
        m_t, var_t, cov = mu + a * (m_s - mu), a**2 * v_s + v_ts, a * v_s
        post_mean = m_s + cov / var_t * (x_t - m_t)
        post_var = v_s - cov**2 / var_t
        got = sde.optimal_previous(jnp.asarray(x_t), jnp.asarray(x0), jnp.asarray(mu), t, s)
        np.testing.assert_allclose(got, post_mean, rtol=1e-4, atol=1e-5)
        assert float(sde.posterior_std(t, s)) == pytest.approx(math.sqrt(post_var), rel=1e-4)
        # the mode: the gradient of log q(x_s | x_t, x0) vanishes there
        log_q = lambda xs: (sde.conditional_log_prob(xs, jnp.asarray(x0), jnp.asarray(mu), s)  # noqa: E731
                            + jnp.sum(-0.5 * (jnp.asarray(x_t) - mu - a * (xs - mu)) ** 2 / v_ts))
        np.testing.assert_allclose(jax.grad(log_q)(got), 0.0, atol=2e-2 * np.abs(
            jax.grad(log_q)(jnp.asarray(x_t))).max() + 1e-3)


def test_score_is_the_gradient_of_the_log_marginal():
    sde = MeanRevertingSDE(lam=0.2)
    x0, mu = jax.random.normal(jax.random.key(1), (2, 4, 4, 1))
    for t in (0.05, 0.5, 1.0):
        x_t, eps = sde.marginal_sample(jax.random.key(2), x0, mu, t)
        grad = jax.grad(lambda x: sde.conditional_log_prob(x, x0, mu, t))(x_t)
        np.testing.assert_allclose(sde.score(x_t, x0, mu, t), grad, rtol=1e-4, atol=1e-3)
        np.testing.assert_allclose(sde.score_from_noise(eps, t), grad, rtol=1e-3, atol=1e-2)


def test_ml_objective_minimizer_approaches_the_true_noise_for_small_steps():
    """The noise that makes the reverse step hit x*_{i-1} tends to the true noise as N grows."""
    sde = MeanRevertingSDE(lam=0.3)
    x0, mu, z = jax.random.normal(jax.random.key(3), (3, 50))
    errors = []
    for n in (20, 200, 2000):
        t, s = 0.5, 0.5 - 1.0 / n
        x_t = sde.marginal_mean(x0, mu, t) + sde.marginal_std(t) * z
        target = sde.optimal_previous(x_t, x0, mu, t, s)
        # reverse_step_mean is affine in eps: solve reverse_step_mean(eps) = target
        base = sde.reverse_step_mean(x_t, mu, sde.score_from_noise(0.0 * z, t), t, s)
        unit = sde.reverse_step_mean(x_t, mu, sde.score_from_noise(1.0 + 0.0 * z, t), t, s) - base
        errors.append(float(jnp.max(jnp.abs((target - base) / unit - z))))
    assert errors[2] < 0.2 * errors[0] and errors[2] < 0.01, errors


def test_losses_are_small_for_the_oracle_and_refuse_bad_input():
    sde = MeanRevertingSDE(lam=0.2)
    x0 = jax.random.uniform(jax.random.key(4), (8, 8, 1))
    mu = x0 + 0.2 * jax.random.normal(jax.random.key(5), x0.shape)
    oracle = lambda t, x, m: (x - sde.marginal_mean(x0, m, t)) / sde.marginal_std(t)  # noqa: E731
    zero = lambda t, x, m: jnp.zeros_like(x)  # noqa: E731
    keys = jax.random.split(jax.random.key(6), 64)
    for loss in (lambda f, k: restoration.ml_loss(f, sde, x0, mu, k, 100),
                 lambda f, k: restoration.noise_matching_loss(f, sde, x0, mu, k, 100)):
        good = float(jnp.mean(jax.jit(jax.vmap(lambda k: loss(oracle, k)))(keys)))
        bad = float(jnp.mean(jax.jit(jax.vmap(lambda k: loss(zero, k)))(keys)))
        assert good < 0.1 * bad, (good, bad)
    with pytest.raises(ValueError, match="unknown norm"):
        restoration.ml_loss(zero, sde, x0, mu, keys[0], 10, norm="l3")
    with pytest.raises(ValueError, match="same shape"):
        restoration.ml_loss(zero, sde, x0, mu[:4], keys[0], 10)
    with pytest.raises(ValueError, match="num_steps"):
        restoration.ml_loss(zero, sde, x0, mu, keys[0], 0)
    with pytest.raises(ValueError, match="unknown theta schedule"):
        MeanRevertingSDE(schedule="linear")


def test_reverse_sampler_with_the_exact_score_of_a_point_mass_recovers_it():
    """For data = one image x0, the marginal score is the conditional one: the SDE returns x0."""
    sde = MeanRevertingSDE(lam=0.2)
    x0 = jax.random.uniform(jax.random.key(7), (8, 8, 1))
    mu = restoration.gaussian_blur(x0, 1.0)
    oracle = lambda t, x, m: (x - sde.marginal_mean(x0, m, t)) / sde.marginal_std(t)  # noqa: E731
    out = jax.jit(lambda k: restoration.reverse_sample(oracle, sde, mu, k, 200))(
        jax.random.key(8))
    assert float(jnp.max(jnp.abs(out - x0))) < 0.05
    assert float(restoration.psnr(out, x0)) > 35.0
    assert float(restoration.psnr(mu, x0)) < 25.0


def test_degradations():
    key = jax.random.key(9)
    x = jnp.full((16, 16, 1), 0.5)
    w = restoration.gaussian_kernel_1d(1.5)
    assert len(w) == 11 and float(jnp.sum(w)) == pytest.approx(1.0, rel=1e-6)
    blurred = restoration.gaussian_blur(x, 1.5)
    np.testing.assert_allclose(blurred[5:-5, 5:-5], 0.5, rtol=1e-5)  # interior of a constant
    assert float(blurred[0, 0, 0]) < 0.5  # zero padding at the border
    impulse = jnp.zeros((21, 21, 1)).at[10, 10, 0].set(1.0)
    np.testing.assert_allclose(restoration.gaussian_blur(impulse, 1.5)[10, 5:16, 0],
                               w * w[5], rtol=1e-5)
    noisy = restoration.degrade(key, jnp.zeros((64, 64, 1)), "noise", noise_std=0.3)
    assert float(jnp.std(noisy)) == pytest.approx(0.3, rel=0.05)
    masked = restoration.degrade(key, jnp.ones((64, 64, 1)), "mask", mask_fraction=0.4)
    assert float(jnp.mean(masked == 0)) == pytest.approx(0.4, abs=0.03)
    with pytest.raises(ValueError, match="unknown degradation 'jpeg'"):
        restoration.degrade(key, x, "jpeg")
    with pytest.raises(ValueError, match="one image"):
        restoration.gaussian_blur(jnp.zeros((4, 16, 16, 1)), 1.0)


def reference_ssim(x, y, data_range=1.0):
    """SSIM by scipy's Gaussian filter (sigma 1.5, truncate 3.5 -> 11x11), valid region."""
    x, y = np.asarray(x, np.float64)[..., 0], np.asarray(y, np.float64)[..., 0]
    f = lambda z: ndimage.gaussian_filter(z, 1.5, truncate=3.5, mode="reflect")[5:-5, 5:-5]  # noqa: E731
    mx, my = f(x), f(y)
    vx, vy, cxy = f(x * x) - mx**2, f(y * y) - my**2, f(x * y) - mx * my
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    return np.mean((2 * mx * my + c1) * (2 * cxy + c2) / ((mx**2 + my**2 + c1) * (vx + vy + c2)))


def test_psnr_and_ssim_against_hand_computed_cases_and_an_independent_reference():
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(28, 28, 1)).astype(np.float32)
    assert float(restoration.ssim(x, x)) == pytest.approx(1.0, abs=1e-5)
    assert np.isinf(float(restoration.psnr(x, x)))
    # a constant offset c: PSNR = 20 log10(1 / c)
    assert float(restoration.psnr(x, x + 0.1)) == pytest.approx(20.0, abs=1e-3)
    assert float(restoration.psnr(255 * x, 255 * x + 5, data_range=255.0)) == pytest.approx(
        20 * math.log10(255 / 5), abs=1e-3)
    # constant images a, b: only the luminance term is left
    a, b, c1 = 0.3, 0.7, 0.01**2
    const = lambda v: np.full((20, 20, 1), v, np.float32)  # noqa: E731
    assert float(restoration.ssim(const(a), const(b))) == pytest.approx(
        (2 * a * b + c1) / (a**2 + b**2 + c1), rel=2e-4)  # float32 variances ~1e-8
    # random pairs against scipy's gaussian_filter
    for noise in (0.05, 0.3):
        y = np.clip(x + noise * rng.normal(size=x.shape), 0, 1).astype(np.float32)
        assert float(restoration.ssim(x, y)) == pytest.approx(reference_ssim(x, y), abs=1e-4)
        assert float(restoration.ssim(x, y)) == pytest.approx(float(restoration.ssim(y, x)))
    ssims = [float(restoration.ssim(x, np.clip(x + s * rng.normal(size=x.shape), 0, 1)))
             for s in (0.02, 0.1, 0.5)]
    assert 1.0 > ssims[0] > ssims[1] > ssims[2], ssims
    with pytest.raises(ValueError, match="does not fit"):
        restoration.ssim(np.zeros((8, 8, 1)), np.zeros((8, 8, 1)))
