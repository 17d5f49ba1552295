"""Elementwise nonlinear bijections: log-dets against slogdet(jacfwd), inverses, bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from likelihood_jax import flows

LAYERS = [flows.SmoothLeakyReLU(0.3), flows.SmoothLeakyReLU(0.05), flows.SmoothTanh(1.0, 0.1),
          flows.SmoothTanh(2.5, 0.3)]


def points(seed, shape, scale):
    return jnp.asarray(scale * np.random.default_rng(seed).standard_normal(shape), jnp.float32)


@pytest.mark.parametrize("layer", LAYERS, ids=repr)
def test_log_det_matches_slogdet_of_the_jacobian(layer):
    with jax.enable_x64(True):
        x = jnp.asarray(np.random.default_rng(0).normal(scale=3.0, size=5), jnp.float64)
        _, log_det = layer.forward_and_log_det({}, x)
        jac = jax.jacfwd(lambda v: layer.forward({}, v))(x)
        np.testing.assert_allclose(log_det, jnp.linalg.slogdet(jac)[1], rtol=1e-12)
        assert layer.log_det_depends_on_x
        # The log-det does depend on x (a test that could not fail otherwise).
        assert abs(layer.forward_and_log_det({}, x + 1.0)[1] - log_det) > 1e-3


@pytest.mark.parametrize("layer", LAYERS, ids=repr)
@pytest.mark.parametrize("scale", [0.5, 5.0, 40.0])
def test_inverse_round_trip_and_inverse_log_det(layer, scale):
    x = points(1, (257,), scale)
    inverse = jax.jit(layer.inverse_and_log_det)
    z, log_det = layer.forward_and_log_det({}, x)
    x_back, inv_log_det = inverse({}, z)
    np.testing.assert_allclose(x_back, x, rtol=1e-5, atol=1e-5 * scale)
    np.testing.assert_allclose(inv_log_det, -log_det, rtol=1e-5, atol=1e-4)
    # Latent side first: forward(inverse(z)) == z for arbitrary z.
    z = points(2, (3, 4, 5), scale)
    np.testing.assert_allclose(layer.forward({}, inverse({}, z)[0]), z, rtol=1e-5, atol=1e-5)


def test_smooth_leaky_relu_values_and_limits():
    layer = flows.SmoothLeakyReLU(0.3)
    x = jnp.array([-50.0, 0.0, 50.0])
    z = layer.forward({}, x)
    np.testing.assert_allclose(z, [0.3 * -50.0, 0.7 * np.log(2.0), 50.0], rtol=1e-6)
    assert flows.SmoothLeakyReLU(1.0).forward({}, x).tolist() == x.tolist()


def test_flows_chain_with_nonlinearity_has_exact_log_prob():
    """Dense - SmoothLeakyReLU - Dense: log_prob equals the change of variables via jacfwd."""
    with jax.enable_x64(True):
        chain = flows.Chain((flows.Dense(), flows.SmoothLeakyReLU(0.3), flows.Dense()))
        x = jnp.asarray(np.random.default_rng(3).normal(size=(16, 4)), jnp.float64)
        params = chain.init(jax.random.key(0), x)
        flow = flows.Flow(chain, (4,))
        z = chain.forward(params, x[0])
        jac = jax.jacfwd(lambda v: chain.forward(params, v))(x[0])
        expected = -0.5 * jnp.sum(z ** 2) - 2 * np.log(2 * np.pi) + jnp.linalg.slogdet(jac)[1]
        np.testing.assert_allclose(flow.log_prob(params, x[0]), expected, rtol=1e-10)


@pytest.mark.parametrize("make", [lambda: flows.SmoothLeakyReLU(0.0),
                                  lambda: flows.SmoothLeakyReLU(1.5),
                                  lambda: flows.SmoothLeakyReLU(0.3, newton_steps=0),
                                  lambda: flows.SmoothTanh(1.0, 0.0),
                                  lambda: flows.SmoothTanh(-1.0, 0.1)])
def test_bad_parameters_raise(make):
    with pytest.raises(ValueError):
        make()
