"""Conditional flows (a context on the bijector contract): log-det vs slogdet(jacfwd), trips."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from likelihood_jax import flows


def _perturbed(params, scale=0.3, seed=1):
    leaves, treedef = jax.tree.flatten(params)
    keys = jax.random.split(jax.random.key(seed), len(leaves))
    return jax.tree.unflatten(treedef, [p + scale * jax.random.normal(k, p.shape, p.dtype)
                                        for p, k in zip(leaves, keys)])


@pytest.mark.parametrize("bound", [None, 2.0])
def test_coupling_log_det_matches_slogdet_and_depends_on_context(bound):
    with jax.enable_x64(True):
        layer = flows.AffineCoupling((1, 0, 1, 0, 0), (16,), log_scale_bound=bound,
                                     conditional=True)
        y = jax.random.normal(jax.random.key(0), (4, 5), jnp.float64)
        c = jax.random.normal(jax.random.key(2), (4, 3), jnp.float64)
        params = _perturbed(layer.init(jax.random.key(3), y, c))
        z, log_det = layer.forward_and_log_det(params, y[0], c[0])
        jac = jax.jacfwd(lambda v: layer.forward(params, v, c[0]))(y[0])
        np.testing.assert_allclose(log_det, jnp.linalg.slogdet(jac)[1], atol=1e-10)
        np.testing.assert_allclose(z[jnp.array([0, 2])], y[0, jnp.array([0, 2])])
        # A different context changes the map (the conditioner sees it).
        assert not np.allclose(layer.forward(params, y[0], c[1]), z)


def test_flow_log_prob_is_change_of_variables_and_round_trips():
    with jax.enable_x64(True):
        bij = flows.conditional_realnvp(6, num_layers=4, hidden_dims=(16, 16))
        flow = flows.Flow(bij, (6,))
        y = jax.random.normal(jax.random.key(0), (8, 6), jnp.float64)
        c = jax.random.normal(jax.random.key(1), (8, 4), jnp.float64)
        params = _perturbed(flow.init(jax.random.key(2), y, c))
        for j in range(3):
            f = lambda v, j=j: bij.forward(params, v, c[j])  # noqa: E731
            z = f(y[j])
            expected = (-0.5 * jnp.sum(z ** 2) - 3 * math.log(2 * math.pi)
                        + jnp.linalg.slogdet(jax.jacfwd(f)(y[j]))[1])
            np.testing.assert_allclose(flow.log_prob(params, y[j], c[j]), expected, atol=1e-9)
        # y -> z -> y and z -> y -> z, with opposite log-dets.
        z, fwd = jax.vmap(bij.forward_and_log_det, in_axes=(None, 0, 0))(params, y, c)
        back, inv = jax.vmap(bij.inverse_and_log_det, in_axes=(None, 0, 0))(params, z, c)
        np.testing.assert_allclose(back, y, atol=1e-10)
        np.testing.assert_allclose(fwd, -inv, atol=1e-10)


def test_float32_round_trip_below_1e5_and_sample_log_prob_consistent():
    flow = flows.Flow(flows.conditional_realnvp(10, 4, (32,)), (10,))
    y = jax.random.normal(jax.random.key(0), (16, 10))
    c = jax.random.normal(jax.random.key(1), (16, 64))
    params = _perturbed(flow.init(jax.random.key(2), y, c), scale=0.1)
    z = jax.vmap(flow.bijector.forward, in_axes=(None, 0, 0))(params, y, c)
    back = jax.vmap(flow.bijector.inverse, in_axes=(None, 0, 0))(params, z, c)
    assert float(jnp.max(jnp.abs(back - y))) < 1e-5
    samples, log_prob = flow.sample_and_log_prob(params, jax.random.key(3), 5, c[0])
    assert samples.shape == (5, 10)
    direct = jax.vmap(flow.log_prob, in_axes=(None, 0, None))(params, samples, c[0])
    np.testing.assert_allclose(log_prob, direct, rtol=1e-4, atol=1e-4)


def test_identity_at_init_and_bad_inputs():
    layer = flows.AffineCoupling((1, 0), conditional=True)
    y, c = jnp.ones((2, 2)), jnp.ones((2, 3))
    params = layer.init(jax.random.key(0), y, c)
    z, log_det = layer.forward_and_log_det(params, y[0], c[0])
    np.testing.assert_allclose(z, y[0])
    assert float(log_det) == 0.0
    with pytest.raises(ValueError, match="both zeros and ones"):
        flows.AffineCoupling((1, 1))
    with pytest.raises(ValueError, match="context"):
        layer.init(jax.random.key(0), y, jnp.ones((3, 3)))
    with pytest.raises(ValueError, match="log_scale_bound"):
        flows.AffineCoupling((1, 0), log_scale_bound=0.0)


def test_flow_samples_for_a_context_and_unconditional_layers_ignore_it():
    """Flow.sample(context=c) inverts the chain at c; Reverse in the chain ignores c."""
    flow = flows.Flow(flows.conditional_realnvp(4, 3, (16,)), (4,))
    y = jax.random.normal(jax.random.key(0), (8, 4))
    c = jax.random.normal(jax.random.key(1), (8, 2))
    params = _perturbed(flow.init(jax.random.key(2), y, c), scale=0.2)
    samples = flow.sample(params, jax.random.key(3), 6, c[1])
    z = jax.random.normal(jax.random.key(3), (6, 4))
    expected = jax.vmap(flow.bijector.inverse, in_axes=(None, 0, None))(params, z, c[1])
    np.testing.assert_allclose(samples, expected, atol=1e-6)
    other = flow.sample(params, jax.random.key(3), 6, c[2])
    assert not np.allclose(samples, other)
    reverse = flows.Reverse()
    np.testing.assert_array_equal(reverse.forward({}, y[0], c[0]), reverse.forward({}, y[0]))


def test_conditional_coupling_needs_its_context():
    layer = flows.AffineCoupling((1, 0), conditional=True)
    y, c = jnp.ones((2, 2)), jnp.ones((2, 3))
    params = layer.init(jax.random.key(0), y, c)
    with pytest.raises(ValueError, match="context must be a vector"):
        layer.forward(params, y[0], c)
