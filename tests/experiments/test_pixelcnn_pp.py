"""PixelCNN++ [P070]: the density sums to one over every image, NLL of samples = entropy."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import scipy.special

from likelihood_jax import distributions, flows
from likelihood_jax.models.pixelcnn import PixelCNNPP


def test_log_prob_sums_to_one_over_all_images():
    """All 3^4 images of 2x2 pixels with 3 levels: sum_x P(x) = 1 (exact enumeration)."""
    density = flows.DiscretizedPixelCNN(
        PixelCNNPP(num_filters=4, num_resnet=0, num_scales=1, num_mixtures=2), (2, 2, 1), 3)
    images = np.stack(np.meshgrid(*[np.arange(3)] * 4, indexing="ij"), -1).reshape(81, 2, 2, 1)
    params = jax.jit(density.init)(jax.random.key(0), images)
    params = jax.tree.map(lambda p: p + 0.3 * jax.random.normal(jax.random.key(1), p.shape),
                          params)
    log_probs = jax.jit(density.log_prob)(params, jnp.asarray(images, jnp.float32))
    assert np.std(log_probs) > 0.1  # the pixels are not independent uniforms
    np.testing.assert_allclose(np.exp(scipy.special.logsumexp(log_probs)), 1.0, atol=1e-5)


def test_nll_of_samples_from_a_known_mixture_is_its_entropy():
    """Zero output kernel: every pixel is one fixed discretized logistic mixture (17 levels).

    Samples drawn pixel by pixel must have mean NLL equal to D times the mixture's entropy.
    """
    levels, height = 17, 3
    density = flows.DiscretizedPixelCNN(
        PixelCNNPP(num_filters=4, num_resnet=0, num_scales=1, num_mixtures=2),
        (height, height, 1), levels)
    params = jax.jit(density.init)(jax.random.key(0), jnp.zeros((1, height, height, 1)))
    raw = jnp.asarray([0.5, -0.5, -0.4, 0.3, -1.5, -2.0])  # logits, means, log-scales
    params = dict(params, out={"kernel": jnp.zeros_like(params["out"]["kernel"]),
                               "bias": raw})
    grid = np.linspace(-1.0, 1.0, levels)
    pmf = np.exp(distributions.discretized_logistic_mixture_log_prob(
        jnp.asarray(grid, jnp.float32), raw[:2], raw[2:4], raw[4:], num_levels=levels))
    np.testing.assert_allclose(pmf.sum(), 1.0, atol=1e-5)
    entropy = -np.sum(pmf * np.log(pmf)) * height * height
    samples = jax.jit(density.sample, static_argnums=2)(params, jax.random.key(1), 2000)
    assert set(np.unique(samples)) <= set(range(levels))
    nll = -np.asarray(jax.jit(density.log_prob)(params, samples))
    stderr = nll.std() / math.sqrt(nll.size)
    assert abs(nll.mean() - entropy) < 4 * stderr, (nll.mean(), entropy, stderr)
    # The sampled level frequencies match the pmf (pooled over the 9 pixels).
    counts = np.bincount(samples.astype(int).ravel(), minlength=levels) / samples.size
    np.testing.assert_allclose(counts, pmf, atol=0.01)
