"""The small time-conditioned U-Net: shapes, batching, time conditioning, bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from likelihood_jax.models.unet import UNet

NET = UNet(base_channels=4, groups=2)  # one small net, compiled once for the module
APPLY = jax.jit(NET.apply)


@pytest.fixture(scope="module")
def params():
    return jax.jit(NET.init)(jax.random.key(1), jnp.float32(0.5), jnp.zeros((8, 8, 1)))


def _randomized_output_layer(params):
    """The same weights with a random (non-zero) output convolution."""
    kernel = params["params"]["conv_out"]["kernel"]
    new = jax.random.normal(jax.random.key(7), kernel.shape) * 0.3
    return {"params": {**params["params"], "conv_out": {**params["params"]["conv_out"],
                                                        "kernel": new}}}


def test_zero_init_gives_a_zero_field_and_trainable_gradients(params):
    x = jax.random.normal(jax.random.key(0), (8, 8, 1))
    np.testing.assert_array_equal(APPLY(params, 0.3, x), 0.0)
    grads = jax.jit(jax.grad(lambda p: jnp.sum((NET.apply(p, 0.3, x) - x) ** 2)))(params)
    assert float(jnp.sum(jnp.abs(grads["params"]["conv_out"]["kernel"]))) > 0.0


def test_time_conditioning_changes_the_output_and_batching_is_per_example(params):
    params = _randomized_output_layer(params)
    x = jax.random.normal(jax.random.key(0), (4, 8, 8, 1))
    t = jnp.array([0.0, 0.9, 0.9, 0.3])
    batched = APPLY(params, t, jnp.stack([x[0], x[0], x[2], x[3]]))
    assert batched.shape == (4, 8, 8, 1)
    # Same image, different times: different outputs (the time embedding matters).
    assert float(jnp.max(jnp.abs(batched[0] - batched[1]))) > 1e-3
    # A batch is the per-example map applied row by row.
    np.testing.assert_allclose(batched[2], APPLY(params, t[2], x[2]), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(batched[1], APPLY(params, t[1], x[0]), rtol=1e-5, atol=1e-5)


def test_28x28_with_three_levels_and_other_output_channels():
    net = UNet(base_channels=4, channel_mults=(1, 2, 2), out_channels=2, groups=2)
    x = jnp.zeros((2, 28, 28, 1))
    shapes = jax.eval_shape(net.init, jax.random.key(1), 0.5, x[0])
    out = jax.eval_shape(net.apply, shapes, jnp.full((2,), 0.5), x)
    assert out.shape == (2, 28, 28, 2)


def test_bad_inputs_raise():
    net = UNet(base_channels=8, channel_mults=(1, 2, 2))
    with pytest.raises(ValueError, match="divisible"):
        jax.eval_shape(net.init, jax.random.key(0), 0.0, jnp.zeros((10, 10, 1)))
    with pytest.raises(ValueError, match="images"):
        jax.eval_shape(UNet().init, jax.random.key(0), 0.0, jnp.zeros((64,)))
