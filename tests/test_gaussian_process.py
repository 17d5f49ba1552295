"""Gaussian processes against independent numpy / scipy computations in float64."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import scipy.integrate
import scipy.optimize
import scipy.special
import scipy.stats
from jax.experimental import checkify

from likelihood_jax import gaussian_process as gp


@pytest.fixture(autouse=True)
def _float64():
    with jax.enable_x64(True):
        yield


def _inputs(num=8, dim=2, seed=0):
    return np.random.default_rng(seed).normal(size=(num, dim))


def _labels(x):
    return (x[:, 0] + 0.3 * np.random.default_rng(1).normal(size=len(x)) > 0).astype(np.int32)


def test_kernels_match_their_formulas():
    x1, x2 = _inputs(5), _inputs(4, seed=1)
    r = np.sqrt(((x1[:, None] - x2[None]) ** 2).sum(-1)) / 0.7
    np.testing.assert_allclose(gp.squared_exponential_kernel(x1, x2, lengthscale=0.7,
                                                              variance=1.5),
                               1.5 * np.exp(-0.5 * r**2), rtol=1e-12)
    np.testing.assert_allclose(gp.matern52_kernel(x1, x2, lengthscale=0.7, variance=1.5),
                               1.5 * (1 + np.sqrt(5) * r + 5 * r**2 / 3) * np.exp(-np.sqrt(5) * r),
                               rtol=1e-12)
    grad = jax.grad(lambda ls: gp.matern52_kernel(x1, x1, lengthscale=ls, variance=1.0).sum())
    assert np.isfinite(grad(0.7))


def test_exact_lml_equals_scipy_logpdf():
    x = _inputs()
    y = np.sin(x[:, 0])
    k = np.asarray(gp.squared_exponential_kernel(x, x, lengthscale=0.8, variance=1.3))
    expected = scipy.stats.multivariate_normal(np.zeros(8), k + 0.1 * np.eye(8)).logpdf(y)
    np.testing.assert_allclose(gp.exact_log_marginal_likelihood(k, y, noise_variance=0.1),
                               expected, rtol=1e-10)


def test_exact_predictive_equals_matrix_inverse_formulas():
    x, xs = _inputs(), _inputs(3, seed=2)
    y = np.sin(x[:, 0])
    kernel = lambda a, b: np.asarray(gp.matern52_kernel(a, b, lengthscale=0.9, variance=1.2))  # noqa: E731
    k, ks, kss = kernel(x, x), kernel(x, xs), kernel(xs, xs)
    inverse = np.linalg.inv(k + 0.05 * np.eye(8))
    mean, var = gp.exact_posterior_predictive(k, y, ks, np.diag(kss), noise_variance=0.05)
    np.testing.assert_allclose(mean, ks.T @ inverse @ y, rtol=1e-9)
    np.testing.assert_allclose(var, np.diag(kss - ks.T @ inverse @ ks), rtol=1e-8, atol=1e-12)


def _exact_lml_of_log_lengthscale(x, y):
    def lml(log_lengthscale):
        k = gp.squared_exponential_kernel(x, x, lengthscale=jnp.exp(log_lengthscale),
                                          variance=1.0)
        return gp.exact_log_marginal_likelihood(k, y, noise_variance=0.01)
    return lml


def test_exact_lml_gradient_matches_finite_differences_and_optax_improves_it():
    x = np.linspace(-3, 3, 12)[:, None]
    y = np.sin(2 * x[:, 0])
    lml = jax.jit(_exact_lml_of_log_lengthscale(x, y))
    theta, eps = 1.0, 1e-5
    np.testing.assert_allclose(jax.grad(lml)(theta),
                               (lml(theta + eps) - lml(theta - eps)) / (2 * eps), rtol=1e-6)
    optimizer = optax.adam(0.1)
    params = jnp.asarray(theta)
    state = optimizer.init(params)

    def step(carry, _):
        params, state = carry
        updates, state = optimizer.update(-jax.grad(lml)(params), state)
        return (optax.apply_updates(params, updates), state), None

    (params, _), _ = jax.lax.scan(step, (params, state), None, length=30)
    # measured: from -189.6 at log-lengthscale 1 to -9.09 after 30 steps (grid optimum -5.78)
    assert lml(params) > lml(theta) + 150.0


def _numpy_laplace(k, y):
    """The mode by scipy.optimize and R&W eq. 3.32 in numpy: an independent computation."""
    k_inv = np.linalg.inv(k)
    sign = 2 * y - 1

    def negative_log_posterior(f):
        return 0.5 * f @ k_inv @ f + np.sum(np.logaddexp(0, -sign * f))

    def gradient(f):
        return k_inv @ f - (y - scipy.special.expit(f))

    f = scipy.optimize.minimize(negative_log_posterior, np.zeros(len(y)), jac=gradient,
                                method="BFGS", options={"gtol": 1e-10}).x
    w = scipy.special.expit(f) * (1 - scipy.special.expit(f))
    b = np.eye(len(y)) + np.sqrt(w)[:, None] * k * np.sqrt(w)[None]
    a = k_inv @ f
    return (-0.5 * a @ f - np.sum(np.logaddexp(0, -sign * f))
            - np.sum(np.log(np.diag(np.linalg.cholesky(b))))), f


def test_laplace_equals_scipy_mode_and_numpy_formula_under_jit_and_vmap():
    x = _inputs(10)
    y = _labels(x)
    k = np.asarray(gp.squared_exponential_kernel(x, x, lengthscale=1.0, variance=4.0))
    k = k + 1e-8 * np.eye(10)
    (expected, mode), (expected_2k, _) = _numpy_laplace(k, y), _numpy_laplace(2 * k, y)
    np.testing.assert_allclose(gp.laplace_mode(k, y), mode, atol=1e-5)
    batched = jax.jit(jax.vmap(gp.laplace_log_marginal_likelihood, in_axes=(0, None)))
    np.testing.assert_allclose(batched(np.stack([k, 2 * k]), y), [expected, expected_2k],
                               rtol=1e-8)


def test_laplace_float32_converges_to_the_float64_value():
    # The default tolerance is relative and set by the dtype: float32 stops near its own
    # rounding floor (measured: relative difference 1e-6 from float64 at variance 1000).
    x = _inputs(40)
    k = np.asarray(gp.squared_exponential_kernel(x, x, lengthscale=1.0, variance=1000.0))
    y = (x[:, 0] > 0).astype(np.int32)
    laplace_lml = jax.jit(gp.laplace_log_marginal_likelihood)
    value32 = laplace_lml(k.astype(np.float32), y)
    assert value32.dtype == np.float32
    np.testing.assert_allclose(value32, laplace_lml(k, y), rtol=1e-5)


def test_laplace_one_point_is_close_to_quadrature_of_the_marginal():
    # N = 1: p(y=1) = int sigmoid(f) N(f; 0, s2) df; the Laplace value is an approximation.
    laplace_lml = jax.jit(gp.laplace_log_marginal_likelihood)
    for variance in (0.5, 2.0):
        exact = scipy.integrate.quad(
            lambda f: scipy.special.expit(f) * scipy.stats.norm.pdf(f, scale=np.sqrt(variance)),
            -40, 40)[0]
        laplace = laplace_lml(jnp.full((1, 1), variance), jnp.ones(1))
        # measured: relative errors 0.3% (variance 0.5) and 1.7% (variance 2)
        np.testing.assert_allclose(np.exp(laplace), exact, rtol=0.03)


def test_laplace_gradient_matches_finite_differences():
    x = _inputs(10)
    y = _labels(x)

    def objective(log_lengthscale):
        k = gp.matern52_kernel(x, x, lengthscale=jnp.exp(log_lengthscale), variance=3.0)
        return gp.laplace_log_marginal_likelihood(k, y, tolerance=1e-12)

    objective = jax.jit(objective)
    theta, eps = 0.2, 1e-5
    np.testing.assert_allclose(jax.jit(jax.grad(objective))(theta),
                               (objective(theta + eps) - objective(theta - eps)) / (2 * eps),
                               rtol=1e-5)


@pytest.mark.parametrize("argument, call", [
    ("x2", lambda: gp.squared_exponential_kernel(jnp.ones((3, 2)), jnp.ones((3, 4)),
                                                 lengthscale=1.0, variance=1.0)),
    ("lengthscale", lambda: gp.matern52_kernel(jnp.ones((3, 2)), jnp.ones((3, 2)),
                                               lengthscale=0.0, variance=1.0)),
    ("lengthscale", lambda: gp.matern52_kernel(jnp.ones((3, 2)), jnp.ones((3, 2)),
                                               lengthscale=jnp.ones(3), variance=1.0)),
    ("variance", lambda: gp.squared_exponential_kernel(jnp.ones((3, 2)), jnp.ones((3, 2)),
                                                       lengthscale=1.0, variance=-1.0)),
    ("kernel_matrix", lambda: gp.exact_log_marginal_likelihood(jnp.eye(3)[:2], jnp.ones(2),
                                                               noise_variance=0.1)),
    ("y", lambda: gp.exact_log_marginal_likelihood(jnp.eye(3), jnp.ones(2),
                                                   noise_variance=0.1)),
    ("noise_variance", lambda: gp.exact_log_marginal_likelihood(jnp.eye(3), jnp.ones(3),
                                                                noise_variance=-0.1)),
    ("cross_kernel", lambda: gp.exact_posterior_predictive(
        jnp.eye(3), jnp.ones(3), jnp.ones((2, 4)), jnp.ones(4), noise_variance=0.1)),
    ("test_kernel_diagonal", lambda: gp.exact_posterior_predictive(
        jnp.eye(3), jnp.ones(3), jnp.ones((3, 4)), jnp.ones(3), noise_variance=0.1)),
    ("y", lambda: gp.laplace_log_marginal_likelihood(jnp.eye(3), jnp.ones((3, 1)))),
    ("max_iterations", lambda: gp.laplace_log_marginal_likelihood(jnp.eye(3), jnp.ones(3),
                                                                  max_iterations=0)),
])
def test_bad_shapes_and_parameters_raise_at_trace_time(argument, call):
    with pytest.raises(ValueError, match=rf"^\w+: {argument} must "):
        jax.eval_shape(call)


NOT_PD = jnp.array([[1.0, 2.0], [2.0, 1.0]])


@pytest.mark.parametrize("message, call", [
    ("y must hold labels 0 or 1", lambda v: gp.laplace_log_marginal_likelihood(
        jnp.eye(2), jnp.array([0.0, 2.0]), validate_args=v)),
    ("kernel_matrix must be positive definite", lambda v: gp.laplace_log_marginal_likelihood(
        NOT_PD, jnp.array([0.0, 1.0]), validate_args=v)),
    ("kernel_matrix \\+ noise_variance I must be positive definite",
     lambda v: gp.exact_log_marginal_likelihood(NOT_PD, jnp.ones(2), noise_variance=0.1,
                                                validate_args=v)),
])
def test_bad_values_raise_with_validate_args(message, call):
    call(False)  # no check without validate_args
    with pytest.raises(ValueError, match=message):
        call(True)
    err, _ = jax.jit(checkify.checkify(lambda: call(True)))()
    with pytest.raises(ValueError, match=message):
        err.throw()
