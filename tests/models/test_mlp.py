"""MLP and ResidualMLP against a hand-written numpy forward pass."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from likelihood_jax.models.mlp import MLP, ResidualMLP


def silu(h):
    return h / (1.0 + np.exp(-h))


def dense(params, h):
    return h @ np.asarray(params["kernel"], np.float64) + np.asarray(params["bias"], np.float64)


def perturb(params, seed=0):
    rng = np.random.default_rng(seed)
    return jax.tree.map(lambda a: a + jnp.asarray(0.3 * rng.standard_normal(a.shape), a.dtype),
                        params)


X = np.random.default_rng(1).standard_normal((6, 3))


def test_residual_mlp_matches_numpy():
    model = ResidualMLP(hidden_dims=(8, 8, 4), out_dim=5)
    params = jax.jit(model.init)(jax.random.key(0), jnp.asarray(X[0], jnp.float32))["params"]
    params = perturb(params)
    out = jax.jit(model.apply)({"params": params}, jnp.asarray(X, jnp.float32))
    h = dense(params["input"], X)
    h = h + dense(params["hidden_0"], silu(h))  # same width: skip connection
    h = dense(params["hidden_1"], silu(h))  # width 8 -> 4: no skip
    expected = dense(params["output"], silu(h))
    assert out.shape == (6, 5) and out.dtype == jnp.float32
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-5)


def test_mlp_matches_numpy_and_accepts_one_example():
    model = MLP(hidden_dims=(7, 4), out_dim=2, activation=nn.tanh)
    params = perturb(jax.jit(model.init)(jax.random.key(0), jnp.ones((1, 3))))["params"]
    out = model.apply({"params": params}, jnp.asarray(X, jnp.float32))
    expected = dense(params["output"],
                     np.tanh(dense(params["Dense_1"], np.tanh(dense(params["Dense_0"], X)))))
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-5)
    single = model.apply({"params": params}, jnp.asarray(X[0], jnp.float32))
    np.testing.assert_allclose(single, out[0], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("cls", [MLP, ResidualMLP])
def test_zero_init_last_outputs_zero_but_trains(cls):
    model = cls(hidden_dims=(16, 16), out_dim=4, zero_init_last=True)
    x = jnp.asarray(X, jnp.float32)

    @jax.jit
    def run(key):
        variables = model.init(key, x)
        loss = lambda v: jnp.sum(jnp.sin(model.apply(v, x) + 1.0))  # noqa: E731
        return model.apply(variables, x), jax.grad(loss)(variables)

    out, grads = run(jax.random.key(0))
    np.testing.assert_array_equal(out, 0.0)
    assert np.max(np.abs(grads["params"]["output"]["kernel"])) > 1e-3


def test_residual_mlp_needs_a_hidden_layer():
    with pytest.raises(ValueError):
        ResidualMLP(hidden_dims=(), out_dim=2).init(jax.random.key(0), jnp.ones(3))
