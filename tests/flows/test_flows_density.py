"""Flow densities against quadrature, closed forms and their own samples."""

import jax
import jax.numpy as jnp
import numpy as np
from scipy import stats

from likelihood_jax import flows


def perturb(params, seed, scale):
    """Adds Gaussian noise to every leaf (numpy RNG: nothing to compile)."""
    rng = np.random.default_rng(seed)
    return jax.tree.map(
        lambda a: a + jnp.asarray(scale * rng.standard_normal(a.shape), a.dtype), params)


def init_perturbed(flow, x, scale, seed=2):
    params = jax.jit(flow.init)(jax.random.key(1), jnp.asarray(x, jnp.float32))
    return perturb(params, seed, scale)


def grid_log_prob(flow, params, lo, hi, n):
    """Log-density at the midpoints of an n x n grid of cells over [lo, hi]^2."""
    h = (hi - lo) / n
    g = lo + h * (np.arange(n) + 0.5)
    xx, yy = np.meshgrid(g, g, indexing="ij")
    pts = jnp.asarray(np.stack([xx.ravel(), yy.ravel()], -1), jnp.float32)
    log_p = jax.jit(jax.vmap(flow.log_prob, in_axes=(None, 0)))(params, pts)
    return np.asarray(log_p, np.float64).reshape(n, n), np.asarray(pts), h


def test_realnvp_log_prob_integrates_to_one():
    flow = flows.Flow(flows.realnvp(2, num_layers=4, hidden_dims=(16, 16)), (2,))
    x = np.random.default_rng(1).standard_normal((256, 2)) * np.array([1.0, 2.0])
    params = init_perturbed(flow, x, 0.05, seed=3)
    log_p, pts, h = grid_log_prob(flow, params, -10.0, 10.0, 400)
    p = np.exp(log_p)
    assert max(p[0].max(), p[-1].max(), p[:, 0].max(), p[:, -1].max()) < 1e-6
    np.testing.assert_allclose(p.sum() * h * h, 1.0, atol=2e-3)
    # Not trivially a Gaussian: the perturbed couplings bend the density.
    gaussian = stats.multivariate_normal(np.zeros(2), np.cov(np.asarray(x).T)).logpdf(pts)
    assert np.max(np.abs(log_p.ravel() - gaussian)[p.ravel() > 1e-2]) > 0.5


def test_logit_flow_integrates_to_one_on_its_support():
    alpha = 0.05
    flow = flows.Flow(flows.Chain((flows.Logit(alpha), flows.realnvp(2, 2, (16,)))), (2,))
    x = np.random.default_rng(0).uniform(size=(256, 2)) ** 2
    params = init_perturbed(flow, x, 0.05)
    edge = alpha / (1 - 2 * alpha)  # the support is (-edge, 1 + edge)^2
    log_p, _, h = grid_log_prob(flow, params, -edge, 1 + edge, 400)
    assert np.all(np.isfinite(log_p))
    np.testing.assert_allclose(np.exp(log_p).sum() * h * h, 1.0, atol=5e-3)


def test_actnorm_flow_is_a_diagonal_gaussian():
    loc, log_scale = jnp.array([1.0, -2.0, 0.5]), jnp.array([0.3, -0.5, 1.2])
    flow = flows.Flow(flows.ActNorm(), (3,))
    params = {"loc": loc, "log_scale": log_scale}
    x = np.random.default_rng(0).standard_normal((10, 3)) * 2.0
    log_p = jax.vmap(flow.log_prob, in_axes=(None, 0))(params, x)
    expected = stats.norm(loc, np.exp(log_scale)).logpdf(x).sum(-1)
    np.testing.assert_allclose(log_p, expected, rtol=1e-5)
    samples = flow.sample(params, jax.random.key(1), 20000)
    assert samples.shape == (20000, 3) and samples.dtype == jnp.float32
    np.testing.assert_allclose(samples.mean(0), loc, atol=0.1)
    np.testing.assert_allclose(samples.std(0), np.exp(log_scale), rtol=0.03)


def test_dense_flow_is_a_full_covariance_gaussian():
    with jax.enable_x64(True):
        w = jnp.array([[1.5, 0.3, 0.0], [-0.4, 0.8, 0.2], [0.1, 0.5, 2.0]])
        b = jnp.array([0.5, -1.0, 0.2])
        flow = flows.Flow(flows.Dense(), (3,))
        x = jnp.asarray(np.random.default_rng(0).standard_normal((10, 3)))
        log_p = jax.vmap(flow.log_prob, in_axes=(None, 0))({"w": w, "b": b}, x)
    w_inv = np.linalg.inv(np.asarray(w))
    expected = stats.multivariate_normal(-w_inv @ np.asarray(b), w_inv @ w_inv.T).logpdf(x)
    np.testing.assert_allclose(log_p, expected, rtol=1e-10)


def test_samples_map_to_standard_normal_and_log_probs_agree():
    flow = flows.Flow(flows.realnvp(3, num_layers=4, hidden_dims=(16,)), (3,))
    x = np.random.default_rng(0).standard_normal((256, 3)) * 3.0 + 1.0
    params = init_perturbed(flow, x, 0.1)

    @jax.jit
    def run(key):
        samples, log_p = flow.sample_and_log_prob(params, key, 20000)
        z = jax.vmap(flow.bijector.forward, in_axes=(None, 0))(params, samples)
        direct = jax.vmap(flow.log_prob, in_axes=(None, 0))(params, samples[:100])
        x_back = jax.vmap(flow.bijector.inverse, in_axes=(None, 0))(params, z[:100])
        return samples, log_p, z, direct, flow.sample(params, key, 100), x_back

    samples, log_p, z, direct, same, x_back = run(jax.random.key(3))
    assert samples.shape == (20000, 3) and log_p.shape == (20000,)
    assert samples.dtype == log_p.dtype == jnp.float32
    np.testing.assert_allclose(z.mean(0), 0.0, atol=0.04)
    np.testing.assert_allclose(np.cov(np.asarray(z).T), np.eye(3), atol=0.05)
    np.testing.assert_allclose(log_p[:100], direct, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(same, samples[:100], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(x_back, samples[:100], rtol=1e-4, atol=1e-4)  # float32 round trip


def test_image_flow_samples_have_the_event_shape():
    event_shape = (4, 4, 1)
    flow = flows.Flow(flows.Chain((
        flows.Logit(), flows.ActNorm(), flows.Flatten(event_shape),
        flows.AffineCoupling(flows.checkerboard_mask(4, 4), (16,)),
        flows.AffineCoupling(flows.checkerboard_mask(4, 4, parity=1), (16,)))), event_shape)
    x = np.random.default_rng(0).uniform(size=(32,) + event_shape)
    params = init_perturbed(flow, x, 0.05)

    @jax.jit
    def run(key):
        samples, log_p = flow.sample_and_log_prob(params, key, 8)
        return samples, log_p, jax.vmap(flow.log_prob, in_axes=(None, 0))(params, samples)

    samples, log_p, direct = run(jax.random.key(3))
    assert samples.shape == (8,) + event_shape and log_p.shape == (8,)
    np.testing.assert_allclose(log_p, direct, rtol=1e-4, atol=1e-3)
