"""Popov et al. (2022)'s maximum-likelihood reverse-SDE solver on Gaussian data.

With Gaussian data ``N(m, diag(s^2))`` the score of every marginal is linear,
``grad log p_t(x) = -(x - alpha_t m) / (alpha_t^2 s^2 + sigma_t^2)``, so each sampler step is
affine in ``x`` and the noise: the sampler's output is Gaussian with moments given by a
two-line recursion, and its KL to the data is in closed form.
"""

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from likelihood_jax import sde as sde_lib

MEAN = np.array([1.0, -0.5])
STD = np.array([0.3, 0.8])
VP = sde_lib.VPSDE()


def gaussian_score(sde, mean, std):
    def score(t, x):
        alpha, sigma = sde.marginal(t)
        return -(x - alpha * mean) / (alpha**2 * std**2 + sigma**2)
    return score


def kl_diag(m1, v1, m2, v2):
    """KL(N(m1, diag v1) || N(m2, diag v2))."""
    return float(np.sum(0.5 * (np.log(v2 / v1) + (v1 + (m1 - m2) ** 2) / v2 - 1.0)))


def exact_moments(sde, steps, mean, std, m0, v0):
    """Moments after the affine steps ``x <- c_x x + c_s score(t, x) + n xi``.

    ``steps``: a list of ``(t, c_x, c_s, n)``; float64 numpy, independent of the samplers.
    """
    m, v = np.array(m0, np.float64), np.array(v0, np.float64)
    for t, c_x, c_s, n in steps:
        alpha, sigma = (float(a) for a in sde.marginal(t))
        var_t = alpha**2 * std**2 + sigma**2
        slope = c_x - c_s / var_t
        m = slope * m + c_s * alpha * mean / var_t
        v = slope**2 * v + n**2
    return m, v


def em_steps(sde, num_steps, t_end=1e-3):
    h = (sde.T - t_end) / num_steps
    out = []
    for i in range(num_steps):
        t = sde.T - i * h
        a, g = float(sde.drift_coefficient(t)), float(sde.diffusion(t))
        out.append((t, 1.0 - a * h, g * g * h, g * math.sqrt(h)))
    return out


def ml_steps(sde, num_steps, t_end=0.0, posterior_variance=None):
    h = (sde.T - t_end) / num_steps
    out = []
    for i in range(num_steps):
        t = sde.T - i * h
        s = t_end if i == num_steps - 1 else sde.T - (i + 1) * h
        v = 0.0 if posterior_variance is None else posterior_variance(t)
        c_x, c_s, n = (np.asarray(c, np.float64)
                       for c in sde_lib.ml_solver_coefficients(sde, t, s, v))
        out.append((t, c_x, c_s, n))
    return out


def exact_kl(steps, mean=MEAN, std=STD, sde=VP):
    m, v = exact_moments(sde, steps, mean, std, np.zeros_like(mean), np.ones_like(mean))
    return kl_diag(m, v, mean, std**2)


@functools.partial(jax.jit, static_argnames=("solver", "num_steps", "n"))
def sample(key, solver, num_steps, n=200_000):
    score = gaussian_score(VP, jnp.asarray(MEAN), jnp.asarray(STD))
    init_key, key = jax.random.split(key)
    x = VP.prior_sample(init_key, (n, 2))
    if solver == "ml":
        return sde_lib.reverse_ml_solver(VP, score, x, key, num_steps=num_steps)
    return sde_lib.reverse_euler_maruyama(VP, score, x, key, num_steps=num_steps)


def test_coefficients_are_the_papers_closed_form_for_vp():
    """kappa*, omega*, sigma* of Popov et al. (2022, Theorem 1) written with gamma_{s,t}."""
    sde = sde_lib.VPSDE(beta_min=0.05, beta_max=20.0)

    def gamma(s, t):  # exp(-int_s^t beta)
        return math.exp(-(float(sde.integrated_beta(t)) - float(sde.integrated_beta(s))))

    for t, h in [(1.0, 0.5), (0.6, 0.1), (0.3, 0.25), (0.05, 0.01)]:
        s = t - h
        beta = float(sde.beta(t))
        mu = gamma(s, t) ** 0.5 * (1 - gamma(0, s)) / (1 - gamma(0, t))
        nu = gamma(0, s) ** 0.5 * (1 - gamma(s, t)) / (1 - gamma(0, t))
        sigma2 = (1 - gamma(0, s)) * (1 - gamma(s, t)) / (1 - gamma(0, t))
        kappa = nu * (1 - gamma(0, t)) / (gamma(0, t) ** 0.5 * beta * h) - 1
        omega = (mu - 1) / (beta * h) + (1 + kappa) / (1 - gamma(0, t)) - 0.5
        with jax.enable_x64(True):
            c_x, c_s, n = sde_lib.ml_solver_coefficients(sde, jnp.float64(t), jnp.float64(s))
            _, _, n_v = sde_lib.ml_solver_coefficients(sde, jnp.float64(t), jnp.float64(s),
                                                       0.3)
        np.testing.assert_allclose(float(c_s) / (beta * h) - 1, kappa, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose((float(c_x) - 1) / (beta * h) - 0.5, omega, rtol=1e-9,
                                   atol=1e-12)
        np.testing.assert_allclose(float(n) ** 2, sigma2, rtol=1e-9)
        np.testing.assert_allclose(float(n_v) ** 2, sigma2 + nu**2 * 0.3, rtol=1e-9)


@pytest.mark.parametrize("name", ["vp", "subvp", "ve"])
def test_coefficients_tend_to_euler_maruyama_as_h_shrinks(name):
    """kappa, omega -> 0 and sigma^2 / (g^2 h) -> 1: the solver is consistent with the SDE."""
    sde = {"vp": VP, "subvp": sde_lib.SubVPSDE(),
           "ve": sde_lib.VESDE(sigma_min=0.01, sigma_max=5.0)}[name]
    t = 0.5
    with jax.enable_x64(True):
        for h in [1e-3, 1e-5]:
            c_x, c_s, n = sde_lib.ml_solver_coefficients(sde, jnp.float64(t), jnp.float64(t - h))
            a, g2 = float(sde.drift_coefficient(t)), float(sde.diffusion(t)) ** 2
            # Euler-Maruyama: c_x = 1 - a h, c_s = g^2 h, n^2 = g^2 h; errors are O(h^2).
            tol = 50 * h * max(1.0, abs(a)) ** 2
            assert abs((float(c_x) - 1) / h + a) < tol
            assert abs(float(c_s) / (g2 * h) - 1) < tol
            assert abs(float(n) ** 2 / (g2 * h) - 1) < tol


def test_implementation_moments_match_the_exact_recursion():
    """Monte Carlo moments of both samplers equal the independent affine recursion."""
    for solver, steps in [("ml", ml_steps(VP, 4)), ("em", em_steps(VP, 4))]:
        x = np.asarray(sample(jax.random.key(1), solver, 4))
        m, v = exact_moments(VP, steps, MEAN, STD, np.zeros(2), np.ones(2))
        n = len(x)
        assert np.all(np.abs(x.mean(0) - m) < 5 * np.sqrt(v / n)), (solver, x.mean(0), m)
        np.testing.assert_allclose(x.var(0), v, rtol=5 * math.sqrt(2 / n))


@pytest.mark.parametrize("dims", [[0], [0, 1]])
def test_ml_solver_has_lower_kl_than_euler_maruyama_at_few_steps(dims):
    """The practical solver (v_t = 0, as in the authors' code) at 1-8 score evaluations.

    With more steps Euler-Maruyama overtakes it on this data (16 steps: KL 0.12 against
    0.025 in 1D): dropping the data-dependent noise term ``nu^2 v_t`` shrinks the variance
    by O(h). The solver with the paper's full optimal noise is exact at every step count
    (see the next tests).
    """
    mean, std = MEAN[dims], STD[dims]
    for num_steps, factor in [(1, 0.1), (2, 0.1), (4, 0.1), (8, 0.6)]:
        kl_ml = exact_kl(ml_steps(VP, num_steps), mean, std)
        kl_em = exact_kl(em_steps(VP, num_steps), mean, std)
        assert kl_ml < factor * kl_em, (num_steps, kl_ml, kl_em)


def test_ml_solver_beats_euler_maruyama_in_monte_carlo():
    """The same claim measured on the samplers' outputs (2D, 4 steps)."""
    kls = {}
    for solver in ["ml", "em"]:
        x = np.asarray(sample(jax.random.key(2), solver, 4), np.float64)
        kls[solver] = kl_diag(x.mean(0), x.var(0), MEAN, STD**2)
    assert kls["ml"] < 0.1 * kls["em"], kls
    np.testing.assert_allclose(kls["ml"], exact_kl(ml_steps(VP, 4)), rtol=0.05)


@pytest.mark.nightly  # a convergence check (1000-step solves of 50,000 samples)
def test_both_solvers_converge_to_the_data():
    kl_ml = [exact_kl(ml_steps(VP, n)) for n in [8, 64, 1000]]
    kl_em = [exact_kl(em_steps(VP, n)) for n in [8, 64, 1000]]
    assert kl_ml[2] < kl_ml[1] < kl_ml[0] and kl_em[2] < kl_em[1] < kl_em[0]
    assert kl_ml[2] < 1e-3 and kl_em[2] < 1e-4, (kl_ml, kl_em)
    x_ml = np.asarray(sample(jax.random.key(3), "ml", 1000, n=50_000), np.float64)
    x_em = np.asarray(sample(jax.random.key(4), "em", 1000, n=50_000), np.float64)
    np.testing.assert_allclose(x_ml.mean(0), x_em.mean(0), atol=0.015)
    np.testing.assert_allclose(x_ml.std(0), x_em.std(0), rtol=0.03)
    np.testing.assert_allclose(x_ml.std(0), STD, rtol=0.03)


def test_full_optimal_noise_beats_euler_maruyama_at_every_step_count():
    """v_t = Var(x_0 | x_t) (diagonal Gaussian data: per coordinate) from the N(0, I) prior."""
    def post_var(t):
        alpha, sigma = VP.marginal(t)
        return STD**2 * sigma**2 / (alpha**2 * STD**2 + sigma**2)

    for num_steps in [1, 2, 8, 32, 100]:
        steps = ml_steps(VP, num_steps, posterior_variance=lambda t: np.asarray(post_var(t)))
        kl = exact_kl(steps)
        assert kl < 1e-4 and kl < exact_kl(em_steps(VP, num_steps)), (num_steps, kl)


@pytest.mark.parametrize("name", ["vp", "subvp", "ve", "logsnr"])
def test_optimal_noise_makes_the_solver_exact_for_gaussian_data(name):
    """With v_t = Var(x_0 | x_t) each step samples q(x_s | x_t) exactly: 2 steps suffice."""
    sde = {"vp": VP, "subvp": sde_lib.SubVPSDE(),
           "ve": sde_lib.VESDE(sigma_min=0.01, sigma_max=5.0),
           "logsnr": sde_lib.LogSNRSDE(gamma=functools.partial(
               sde_lib.linear_log_snr, gamma_min=-10.0, gamma_max=6.0))}[name]
    mean, std = 1.5, 0.4

    def post_var(t):
        alpha, sigma = sde.marginal(t)
        return std**2 * sigma**2 / (alpha**2 * std**2 + sigma**2)

    t_end = 0.0
    alpha_0, sigma_0 = (float(a) for a in sde.marginal(t_end))
    target_m, target_v = alpha_0 * mean, alpha_0**2 * std**2 + sigma_0**2
    alpha_T, sigma_T = (float(a) for a in sde.marginal(sde.T))
    m0, v0 = alpha_T * mean, alpha_T**2 * std**2 + sigma_T**2  # the exact p_T
    steps = ml_steps(sde, 2, t_end, posterior_variance=lambda t: float(post_var(t)))
    m, v = exact_moments(sde, steps, np.array([mean]), np.array([std]), [m0], [v0])
    np.testing.assert_allclose(m, target_m, rtol=1e-4)
    np.testing.assert_allclose(v, target_v, rtol=1e-4)
    # Same through the implementation (Monte Carlo).
    n = 100_000
    k1, k2 = jax.random.split(jax.random.key(5))
    x = m0 + math.sqrt(v0) * jax.random.normal(k1, (n,))
    x = np.asarray(sde_lib.reverse_ml_solver(sde, gaussian_score(sde, mean, std), x, k2,
                                             num_steps=2, posterior_variance=post_var))
    np.testing.assert_allclose(x.mean(), target_m, atol=5 * math.sqrt(target_v / n))
    np.testing.assert_allclose(x.var(), target_v, rtol=5 * math.sqrt(2 / n))


def test_point_mass_data_is_reached_in_one_step():
    """Data at a single point: the score is exact and one ML step lands on it (no noise)."""
    x0 = jnp.array([0.7, -1.2])

    def score(t, x):
        alpha, sigma = VP.marginal(t)
        return -(x - alpha * x0) / sigma**2

    z = VP.prior_sample(jax.random.key(0), (5, 2))
    out = sde_lib.reverse_ml_solver(VP, score, z, jax.random.key(1), num_steps=1)
    np.testing.assert_allclose(out, jnp.broadcast_to(x0, (5, 2)), atol=1e-4)


def test_return_path_and_bad_arguments():
    score = gaussian_score(VP, 0.0, 1.0)
    x, path = sde_lib.reverse_ml_solver(VP, score, jnp.zeros(3), jax.random.key(0),
                                        num_steps=5, return_path=True)
    assert path.shape == (5, 3)
    np.testing.assert_allclose(path[-1], x)
    with pytest.raises(ValueError, match="num_steps"):
        sde_lib.reverse_ml_solver(VP, score, jnp.zeros(3), jax.random.key(0), num_steps=0)
    with pytest.raises(ValueError, match="t_end"):
        sde_lib.reverse_ml_solver(VP, score, jnp.zeros(3), jax.random.key(0), num_steps=2,
                                  t_end=-0.1)


def test_euler_maruyama_denoise_drops_only_the_last_noise():
    score = gaussian_score(VP, 0.5, 0.5)
    x = jnp.array([0.3, -0.2, 1.0])
    key = jax.random.key(7)
    plain, path = sde_lib.reverse_euler_maruyama(VP, score, x, key, num_steps=3,
                                                 return_path=True)
    den = sde_lib.reverse_euler_maruyama(VP, score, x, key, num_steps=3, denoise=True)
    h = (1.0 - 1e-3) / 3
    t = 1.0 - 2 * h
    expected = path[1] - VP.reverse_drift(score)(t, path[1]) * h
    np.testing.assert_allclose(den, expected, rtol=1e-5, atol=1e-6)
    assert not np.allclose(den, plain)
    default = sde_lib.reverse_euler_maruyama(VP, score, x, key, num_steps=3)
    np.testing.assert_array_equal(default, plain)
