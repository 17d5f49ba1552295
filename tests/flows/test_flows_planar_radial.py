"""Planar and radial flows (Rezende & Mohamed 2015): invertibility, numerical inverses, VI use.

The closed-form map of the paper is the sampling direction (``inverse`` here); ``forward``
solves it numerically. Checked in float64 against ``slogdet(jax.jacfwd)``, finite differences
and round trips, on parameters chosen to stress the invertibility constraints.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from likelihood_jax import flows
from likelihood_jax.flows import planar_radial


def test_planar_u_hat_satisfies_the_invertibility_condition_for_random_params():
    rng = np.random.default_rng(0)
    scales = np.repeat([0.01, 1.0, 30.0], 100)[:, None]
    w = rng.standard_normal((300, 4)) * scales
    u = rng.standard_normal((300, 4)) * scales[::-1] - 3 * w  # mostly w^T u << -1
    wu = np.sum(w * u, axis=1)
    assert np.mean(wu < -1) > 0.5  # the raw u would break invertibility for most rows
    u_hat_of = jax.vmap(planar_radial.planar_u_hat)
    # float32: the layer's w^T u_hat, and its log-det where tanh' = 1, stay finite.
    _, wu_hat = u_hat_of(jnp.asarray(w, jnp.float32), jnp.asarray(u, jnp.float32))
    assert np.all(np.asarray(wu_hat) > -1)
    assert np.all(np.isfinite(np.log1p(np.asarray(wu_hat))))
    with jax.enable_x64(True):
        u_hat, wu_hat = jax.tree.map(np.asarray, u_hat_of(jnp.asarray(w), jnp.asarray(u)))
    # w^T u_hat = m(w^T u) = -1 + log(1 + e^{w^T u}) (App. A.1), floored at -1 + 1e-4.
    np.testing.assert_allclose(np.sum(w * u_hat, axis=1), wu_hat, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(wu_hat, np.maximum(np.logaddexp(0, wu), 1e-4) - 1, rtol=1e-12)


def _stress_params(kind):
    """Planar with u opposing w (w^T u = -6); radial with beta close to -alpha."""
    if kind == "planar":
        w = jnp.array([1.0, -0.5, 2.0])
        return flows.Planar(), {"w": w, "u": -6 * w / jnp.dot(w, w), "b": jnp.array(0.3)}
    return flows.Radial(), {"z0": jnp.array([0.2, -0.1, 0.4]), "a": jnp.array(-1.0),
                            "c": jnp.array(-6.0)}


@pytest.mark.parametrize("kind", ["planar", "radial"])
def test_inverse_and_log_det_where_the_constraint_is_nearly_active(kind):
    with jax.enable_x64(True):
        bijector, params = _stress_params(kind)
        params = jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), params)
        # Points near and far from where the map bends (w^T z + b = 0; z = z_0).
        rng = np.random.default_rng(1)
        x = jnp.asarray(rng.standard_normal((6, 3)) * np.array([[1e-3], [0.1], [1], [3], [10],
                                                                [100]]))

        @jax.jit
        def check(x0):
            z, log_det = bijector.forward_and_log_det(params, x0)
            back, inverse_log_det = bijector.inverse_and_log_det(params, z)
            jac = jnp.linalg.slogdet(jax.jacfwd(lambda v: bijector.forward(params, v))(x0))[1]
            return z, back, log_det, inverse_log_det, jac

        z, back, log_det, inverse_log_det, jac = jax.tree.map(np.asarray, jax.vmap(check)(x))
    np.testing.assert_allclose(back, x, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(log_det, jac, atol=1e-8)
    np.testing.assert_allclose(inverse_log_det, -log_det, atol=1e-10)
    assert np.max(np.abs(log_det)) > 0.5  # the maps are far from the identity


def test_planar_log_prob_gradient_through_the_root_matches_finite_differences():
    with jax.enable_x64(True):
        bijector, params = _stress_params("planar")
        x0 = jnp.array([0.4, -1.2, 0.7])

        def objective(params):
            z, log_det = bijector.forward_and_log_det(params, x0)
            return -0.5 * jnp.sum(z ** 2) + log_det

        grad = jax.jit(jax.grad(objective))(params)
        value_of = jax.jit(objective)
        eps = 1e-6
        for name, value in params.items():
            for i in range(value.size):
                step = jnp.zeros(value.size).at[i].set(eps).reshape(value.shape)
                fd = (value_of({**params, name: value + step})
                      - value_of({**params, name: value - step})) / (2 * eps)
                np.testing.assert_allclose(grad[name].reshape(-1)[i], fd, rtol=1e-6, atol=1e-8)


def test_a_planar_radial_flow_samples_with_the_log_density_of_its_samples():
    flow = flows.Flow(flows.Chain([flows.Planar(), flows.Radial(), flows.Planar()]), (2,))
    x = jnp.asarray(np.random.default_rng(2).standard_normal((16, 2)), jnp.float32)
    rng = np.random.default_rng(3)
    params = jax.tree.map(lambda a: a + jnp.asarray(rng.standard_normal(a.shape), a.dtype),
                          jax.jit(flow.init)(jax.random.key(0), x))

    @jax.jit
    def run(params, key):
        samples, log_q = flow.sample_and_log_prob(params, key, 64)
        return samples, log_q, jax.vmap(flow.log_prob, in_axes=(None, 0))(params, samples)

    samples, log_q, direct = run(params, jax.random.key(1))
    np.testing.assert_allclose(log_q, direct, rtol=1e-4, atol=1e-4)
    # The flow is not a standard normal: its log-density differs from log N(x).
    base = -0.5 * np.sum(np.asarray(samples) ** 2, axis=1) - np.log(2 * np.pi)
    assert np.max(np.abs(np.asarray(log_q) - base)) > 0.1


def test_radial_alpha_and_beta_stay_in_the_invertible_range():
    a, c = np.meshgrid(np.linspace(-30, 30, 13), np.linspace(-30, 30, 13))
    alpha, beta = planar_radial.radial_alpha_beta({"a": jnp.asarray(a), "c": jnp.asarray(c)})
    assert np.all(np.asarray(alpha) > 0)
    assert np.all(np.asarray(beta) >= -np.asarray(alpha))
    with pytest.raises(ValueError, match="batch of vectors"):
        flows.Radial().init(jax.random.key(0), jnp.zeros((3,)))
