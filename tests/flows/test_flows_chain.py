"""Chain: data-dependent init through the layers, order of application, log-det split."""

import jax
import jax.numpy as jnp
import numpy as np

from likelihood_jax import flows


def perturb(params, seed, scale):
    """Adds Gaussian noise to every leaf (numpy RNG: nothing to compile)."""
    rng = np.random.default_rng(seed)
    return jax.tree.map(
        lambda a: a + jnp.asarray(scale * rng.standard_normal(a.shape), a.dtype), params)


def anisotropic_batch(seed, n, dim):
    scales = np.geomspace(0.2, 5.0, dim)
    x = 1.0 + scales * np.random.default_rng(seed).standard_normal((n, dim))
    return jnp.asarray(x, jnp.float32)


def test_init_runs_the_batch_through_earlier_layers():
    x = anisotropic_batch(0, 512, 4)
    chain = flows.Chain((flows.Dense(), flows.ActNorm()))
    params = jax.jit(chain.init)(jax.random.key(1), x)
    z = jax.vmap(chain.forward, in_axes=(None, 0))(params, x)
    np.testing.assert_allclose(jnp.mean(z, 0), 0.0, atol=1e-4)
    np.testing.assert_allclose(jnp.var(z, 0), 1.0, atol=1e-3)
    # Sanity: an ActNorm initialized on the raw batch would not standardize the rotated data.
    naive = flows.ActNorm().init(None, x)
    z_naive = jax.vmap(chain.forward, in_axes=(None, 0))((params[0], naive), x)
    assert np.max(np.abs(jnp.var(z_naive, 0) - 1.0)) > 0.5


def test_layer_order_and_reverse_inverse():
    chain = flows.Chain((flows.Permute((1, 2, 0)), flows.Reshape((3,), (3, 1)),
                         flows.Flatten((3, 1)), flows.Reverse()))
    x = jnp.array([10.0, 20.0, 30.0])
    z = chain.forward(({}, {}, {}, {}), x)
    np.testing.assert_array_equal(z, x[np.array([1, 2, 0])][::-1])
    np.testing.assert_array_equal(chain.inverse(({}, {}, {}, {}), z), x)


def test_log_det_parts_split_by_flag_and_sum_to_total():
    inner = flows.Chain((flows.ActNorm(), flows.AffineCoupling((0, 1, 0), (8,)), flows.Dense()))
    chain = flows.Chain((flows.Logit(), flows.ActNorm(), flows.Dense(),
                         flows.AffineCoupling((1, 0, 1), (8,)), flows.Reverse(), inner))
    assert chain.log_det_depends_on_x and inner.log_det_depends_on_x
    assert not flows.Chain((flows.ActNorm(), flows.Reverse())).log_det_depends_on_x
    x = jnp.asarray(np.random.default_rng(0).uniform(0.05, 0.95, (64, 3)), jnp.float32)
    params = perturb(jax.jit(chain.init)(jax.random.key(1), x), seed=2, scale=0.3)

    @jax.jit
    def evaluate(v):
        z, dependent, independent = chain.forward_and_log_det_parts(params, v)
        z_total, total = chain.forward_and_log_det(params, v)
        return z, dependent, independent, z_total, total

    @jax.jit
    def grads(v):
        parts = lambda u: chain.forward_and_log_det_parts(params, u)  # noqa: E731
        return jax.grad(lambda u: parts(u)[1])(v), jax.grad(lambda u: parts(u)[2])(v)

    z, dependent, independent, z_total, total = jax.vmap(evaluate)(x[:8])
    np.testing.assert_allclose(z, z_total, rtol=1e-6)
    np.testing.assert_allclose(dependent + independent, total, rtol=1e-5, atol=1e-5)
    # Independent value: two ActNorms and two Dense layers, by numpy.
    expected = (-np.sum(params[1]["log_scale"]) - np.sum(params[5][0]["log_scale"])
                + np.linalg.slogdet(np.asarray(params[2]["w"], np.float64))[1]
                + np.linalg.slogdet(np.asarray(params[5][2]["w"], np.float64))[1])
    np.testing.assert_allclose(independent, expected, rtol=1e-5)
    grad_dep, grad_indep = jax.vmap(grads)(x[:8])
    np.testing.assert_array_equal(grad_indep, 0.0)
    assert np.max(np.abs(grad_dep)) > 1e-3


def test_realnvp_structure():
    chain = flows.realnvp(5, num_layers=4, hidden_dims=(32,))
    assert len(chain.layers) == 8
    assert [type(layer).__name__ for layer in chain.layers[:2]] == ["ActNorm", "AffineCoupling"]
    assert chain.layers[1].mask == (1, 0, 1, 0, 1) and chain.layers[3].mask == (0, 1, 0, 1, 0)
    assert len(flows.realnvp(5, num_layers=4, actnorm=False).layers) == 4
