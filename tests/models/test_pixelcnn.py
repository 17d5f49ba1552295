"""The PixelCNN++ network [P070]: causal in raster order (by jacfwd), shapes, dropout."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from likelihood_jax.models.pixelcnn import PixelCNNPP, down_shift, right_shift


def _dependence(network, image, train=False, key=None):
    """``(H W, H W)``: ``|d out_i / d x_j|`` summed over channels and outputs, raster order."""
    params = jax.jit(network.init)(jax.random.key(0), image[None])["params"]
    rngs = {"dropout": key} if train else None
    apply = lambda v: network.apply({"params": params}, v[None], train, rngs=rngs)[0]  # noqa
    jacobian = np.abs(np.asarray(jax.jit(jax.jacfwd(apply))(image)))
    height, width = image.shape[:2]
    return jacobian.sum(axis=(2, 3, 6)).reshape(height * width, height * width)


@pytest.mark.parametrize("num_scales,dropout", [
    (2, 0.0), pytest.param(1, 0.5, marks=pytest.mark.nightly)])
def test_output_depends_exactly_on_the_previous_pixels(num_scales, dropout):
    """d out_i / d x_j = 0 for j >= i (raster order) and != 0 for every j < i."""
    network = PixelCNNPP(num_filters=8, num_resnet=1, num_scales=num_scales, num_mixtures=2,
                         dropout=dropout)
    image = jax.random.uniform(jax.random.key(1), (4, 4, 1), minval=-1.0, maxval=1.0)
    dependence = _dependence(network, image, train=dropout > 0, key=jax.random.key(2))
    upper = np.triu(np.ones_like(dependence, bool))  # j >= i
    assert np.all(dependence[upper] == 0.0)
    assert np.all(dependence[~upper] > 0.0)  # no blind spot


def test_shapes_and_bad_sizes():
    network = PixelCNNPP(num_filters=4, num_resnet=0, num_scales=2, num_mixtures=3)
    x = jnp.zeros((2, 4, 6, 2))
    out = jax.eval_shape(lambda x: network.apply(network.init(jax.random.key(0), x), x), x)
    assert out.shape == (2, 4, 6, 2, 9)
    with pytest.raises(ValueError, match="divisible"):
        network.init(jax.random.key(0), jnp.zeros((1, 3, 4, 1)))
    with pytest.raises(ValueError, match=r"\[B, H, W, C\]"):
        network.init(jax.random.key(0), jnp.zeros((3, 4, 1)))


@pytest.mark.nightly
def test_dropout_is_random_only_in_training():
    network = PixelCNNPP(num_filters=4, num_resnet=1, num_scales=1, num_mixtures=1,
                         dropout=0.5)
    x = jax.random.uniform(jax.random.key(3), (1, 4, 4, 1))
    params = jax.jit(network.init)(jax.random.key(0), x)
    apply = jax.jit(network.apply, static_argnums=2)
    np.testing.assert_array_equal(apply(params, x, False), apply(params, x, False))
    a = apply(params, x, True, rngs={"dropout": jax.random.key(4)})
    b = apply(params, x, True, rngs={"dropout": jax.random.key(5)})
    assert not np.allclose(a, b)


def test_shifts():
    x = jnp.arange(6.0).reshape(1, 2, 3, 1)
    np.testing.assert_array_equal(down_shift(x)[0, :, :, 0], [[0, 0, 0], [0, 1, 2]])
    np.testing.assert_array_equal(right_shift(x)[0, :, :, 0], [[0, 0, 1], [0, 3, 4]])
