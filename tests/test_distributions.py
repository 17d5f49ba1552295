"""Log-densities against scipy and an independent numpy transcription of PixelCNN++."""

import functools

import chex
import hypothesis
import hypothesis.strategies as st
import jax
import jax.numpy as jnp
import numpy as np
import scipy.special
import scipy.stats
from absl.testing import parameterized

from likelihood_jax import distributions


def _softplus(z):
    return np.logaddexp(0.0, z)


def _sigmoid(z):
    return scipy.special.expit(z)


def pixelcnnpp_reference(x, logit_weights, means, log_scales, num_bits=8):
    """Float64 transcription of Salimans et al.'s discretized_mix_logistic_loss (one channel).

    Straight from the PixelCNN++ formula: CDF differences, log-sigmoid tails at the edges,
    the mid-bin density fallback when the difference is below 1e-5, then a log-softmax mixture.
    """
    x = np.asarray(x, np.float64)[..., None]
    half = 1.0 / (2.0 ** num_bits - 1.0)
    centered_x = x - means
    inv_stdv = np.exp(-log_scales)
    plus_in = inv_stdv * (centered_x + half)
    cdf_plus = _sigmoid(plus_in)
    min_in = inv_stdv * (centered_x - half)
    cdf_min = _sigmoid(min_in)
    log_cdf_plus = plus_in - _softplus(plus_in)
    log_one_minus_cdf_min = -_softplus(min_in)
    cdf_delta = cdf_plus - cdf_min
    mid_in = inv_stdv * centered_x
    log_pdf_mid = mid_in - log_scales - 2.0 * _softplus(mid_in)
    with np.errstate(divide="ignore"):
        inner = np.where(cdf_delta > 1e-5, np.log(np.maximum(cdf_delta, 1e-12)),
                         log_pdf_mid - np.log((2.0 ** num_bits - 1.0) / 2.0))
    log_probs = np.where(x < -0.999, log_cdf_plus,
                         np.where(x > 0.999, log_one_minus_cdf_min, inner))
    log_mix = logit_weights - scipy.special.logsumexp(logit_weights, axis=-1, keepdims=True)
    return scipy.special.logsumexp(log_probs + log_mix, axis=-1)


def _levels(num_bits):
    return np.linspace(-1.0, 1.0, 2 ** num_bits)


def _random_mixture(seed, shape, num_components=3, scale_range=(-4.0, 0.5)):
    rng = np.random.default_rng(seed)
    full = shape + (num_components,)
    return (rng.normal(size=full), rng.uniform(-1.1, 1.1, size=full),
            rng.uniform(*scale_range, size=full))


class ElementwiseTest(chex.TestCase):

    @chex.variants(with_jit=True, without_jit=True)
    def test_normal_matches_scipy(self):
        rng = np.random.default_rng(0)
        x, mean, log_scale = rng.normal(size=(3, 10)) * [[3.0], [1.0], [1.0]]
        got = self.variant(distributions.normal_log_prob)(x, mean, log_scale)
        np.testing.assert_allclose(
            got, scipy.stats.norm.logpdf(x, mean, np.exp(log_scale)), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(self.variant(distributions.normal_log_prob)(x),
                                   scipy.stats.norm.logpdf(x), rtol=1e-5)

    @chex.variants(with_jit=True, without_jit=True)
    def test_logistic_matches_scipy(self):
        rng = np.random.default_rng(1)
        x, loc, log_scale = rng.normal(size=(3, 10)) * [[5.0], [1.0], [1.0]]
        got = self.variant(distributions.logistic_log_prob)(x, loc, log_scale)
        np.testing.assert_allclose(
            got, scipy.stats.logistic.logpdf(x, loc, np.exp(log_scale)), rtol=1e-5, atol=1e-6)

    def test_extreme_inputs_stay_finite(self):
        x = jnp.asarray([-1e30, -1e4, 0.0, 1e4, 1e30], jnp.float32)
        got = distributions.logistic_log_prob(x, 0.0, -5.0)
        assert np.all(np.isfinite(got))
        np.testing.assert_allclose(got[1:-1], scipy.stats.logistic.logpdf(
            [-1e4, 0.0, 1e4], 0.0, np.exp(-5.0)), rtol=1e-5)
        grads = jax.vmap(jax.grad(distributions.logistic_log_prob))(x)
        assert np.all(np.isfinite(grads))
        assert np.all(np.isfinite(distributions.normal_log_prob(jnp.asarray([-1e15, 1e15]))))


class DiscretizedLogisticMixtureTest(chex.TestCase):

    @parameterized.parameters(8, 5)
    def test_sums_to_one_over_all_levels(self, num_bits):
        levels = _levels(num_bits).astype(np.float32)
        logits, means, log_scales = _random_mixture(2, (4,))
        # Every level against each of the 4 parameter sets: x (L, 4), params (L, 4, K).
        x = np.broadcast_to(levels[:, None], (levels.size, 4))
        params = [np.broadcast_to(p, (levels.size,) + p.shape).astype(np.float32)
                  for p in (logits, means, log_scales)]
        log_probs = jax.jit(lambda x, *p: distributions.discretized_logistic_mixture_log_prob(
            x, *p, num_bits=num_bits))(x, *params)
        chex.assert_shape(log_probs, (levels.size, 4))
        np.testing.assert_allclose(np.exp(scipy.special.logsumexp(log_probs, axis=0)), 1.0,
                                   atol=1e-5)

    @parameterized.parameters(2, 3, 17, 100)
    def test_num_levels_bins_sum_to_one_and_match_cdf_differences(self, num_levels):
        # Any L >= 2 (17: scikit-learn's digits); float64 CDF differences of scipy's logistic
        # with the edge bins taking the tails are the independent reference.
        levels = np.linspace(-1.0, 1.0, num_levels)
        logits, means, log_scales = _random_mixture(11, (3,), scale_range=(-2.5, 0.5))
        x = np.broadcast_to(levels[:, None], (num_levels, 3))
        params = [np.broadcast_to(p, (num_levels,) + p.shape) for p in (logits, means,
                                                                       log_scales)]
        log_probs = jax.jit(functools.partial(
            distributions.discretized_logistic_mixture_log_prob, num_levels=num_levels))(
                *(np.float32(a) for a in [x] + params))
        np.testing.assert_allclose(np.exp(scipy.special.logsumexp(log_probs, axis=0)), 1.0,
                                   atol=1e-5)
        half = 1.0 / (num_levels - 1)
        cdf = functools.partial(scipy.stats.logistic.cdf, loc=params[1],
                                scale=np.exp(params[2]))
        upper = np.where(x[..., None] > 1 - half, 1.0, cdf(x[..., None] + half))
        lower = np.where(x[..., None] < -1 + half, 0.0, cdf(x[..., None] - half))
        weights = scipy.special.softmax(params[0], axis=-1)
        np.testing.assert_allclose(np.exp(log_probs), np.sum(weights * (upper - lower), -1),
                                   rtol=1e-4, atol=1e-6)

    def test_num_levels_256_is_num_bits_8_and_conflicts_raise(self):
        x = np.float32(_levels(8)[[0, 7, 128, 255]])
        params = [np.float32(p) for p in _random_mixture(12, (4,))]
        fn = distributions.discretized_logistic_mixture_log_prob
        np.testing.assert_allclose(fn(x, *params, num_levels=256), fn(x, *params), rtol=1e-6)
        np.testing.assert_allclose(fn(x, *params, num_bits=5, num_levels=32),
                                   fn(x, *params, num_bits=5), rtol=1e-6)
        with self.assertRaisesRegex(ValueError, "num_levels"):
            fn(x, *params, num_bits=5, num_levels=17)
        with self.assertRaisesRegex(ValueError, "num_levels"):
            fn(x, *params, num_levels=1)

    @chex.variants(with_jit=True, without_jit=True)
    @parameterized.parameters(8, 5)
    def test_matches_pixelcnnpp_transcription(self, num_bits):
        levels = _levels(num_bits)
        x = levels[np.random.default_rng(3).integers(0, levels.size, size=(6, 5))]
        x[0, :2] = [-1.0, 1.0]
        logits, means, log_scales = _random_mixture(4, x.shape, scale_range=(-6.0, 1.0))
        got = self.variant(lambda *a: distributions.discretized_logistic_mixture_log_prob(
            *a, num_bits=num_bits))(*(a.astype(np.float32) for a in (x, logits, means,
                                                                     log_scales)))
        np.testing.assert_allclose(got, pixelcnnpp_reference(x, logits, means, log_scales,
                                                             num_bits), rtol=1e-4, atol=1e-4)

    def test_extreme_inputs_match_and_stay_finite(self):
        # Tiny and huge scales, means far outside [-1, 1], data at both edges and inside:
        # CDF differences underflow (mid-bin fallback) or cancel near one.
        x = np.asarray([-1.0, 1.0, 0.0, 1.0 - 2 / 255, -1.0 + 2 / 255, 0.5])
        grid_x, log_scale, mean = np.meshgrid(x, [-7.0, -12.0, -3.0, 0.0, 4.0, 12.0],
                                              [-30.0, -1.5, 0.0, 0.49, 1.5, 30.0],
                                              indexing="ij")
        grid_x = grid_x.ravel()
        log_scales = np.stack([log_scale.ravel(), np.full(grid_x.size, -1.0)], axis=-1)
        means = np.stack([mean.ravel(), np.zeros(grid_x.size)], axis=-1)
        logits = np.tile([3.0, -3.0], (grid_x.size, 1))
        expected = pixelcnnpp_reference(grid_x, logits, means, log_scales)
        args = [a.astype(np.float32) for a in (grid_x, logits, means, log_scales)]
        fn = jax.jit(functools.partial(distributions.discretized_logistic_mixture_log_prob,
                                       min_log_scale=None))
        got = fn(*args)
        assert np.all(np.isfinite(got))
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=2e-4)
        # The default clamps log-scales at -7 as the PixelCNN++ code does.
        clamped = pixelcnnpp_reference(grid_x, logits, means, np.maximum(log_scales, -7.0))
        np.testing.assert_allclose(
            jax.jit(distributions.discretized_logistic_mixture_log_prob)(*args), clamped,
            rtol=1e-5, atol=2e-4)
        grads = jax.jit(jax.grad(lambda *a: jnp.sum(fn(*a)), argnums=(1, 2, 3)))(*args)
        assert all(np.all(np.isfinite(g)) for g in grads)

    def test_float64_matches_tightly(self):
        levels = _levels(8)
        x = levels[np.random.default_rng(5).integers(0, 256, size=(50,))]
        logits, means, log_scales = _random_mixture(6, x.shape, num_components=4)
        with jax.enable_x64(True):
            got = np.asarray(jax.jit(distributions.discretized_logistic_mixture_log_prob)(
                x, logits, means, log_scales))
        np.testing.assert_allclose(got, pixelcnnpp_reference(x, logits, means, log_scales),
                                   rtol=1e-9, atol=1e-9)

    def test_exact_mass_without_fallback(self):
        # fallback_threshold=0 keeps the exact bin mass even where it is tiny.
        x, mean, log_scale = 0.0, 0.5, -7.0
        got = distributions.discretized_logistic_mixture_log_prob(
            jnp.float32(x), jnp.zeros(1), jnp.full(1, mean), jnp.full(1, log_scale),
            fallback_threshold=0.0)
        s = np.exp(log_scale)
        # log(sigmoid(a) - sigmoid(b)) for a, b << 0: log(e^a - e^b) to float64 precision.
        a, b = (x + 1 / 255 - mean) / s, (x - 1 / 255 - mean) / s
        np.testing.assert_allclose(got, a + np.log1p(-np.exp(b - a)), rtol=1e-5)


@hypothesis.settings(max_examples=5, deadline=None, derandomize=True)
@hypothesis.given(shape=st.lists(st.integers(1, 3), min_size=0, max_size=2),
                  num_components=st.integers(1, 3))
def test_logistic_mixture_shapes(shape, num_components):
    shape = tuple(shape)
    x = _levels(8)[np.random.default_rng(7).integers(0, 256, size=shape)]
    params = _random_mixture(8, shape, num_components)
    got = jax.jit(distributions.discretized_logistic_mixture_log_prob)(
        np.float32(x), *(p.astype(np.float32) for p in params))
    chex.assert_shape(got, shape)
    np.testing.assert_allclose(got, pixelcnnpp_reference(x, *params), rtol=1e-4, atol=1e-4)


class GaussianMixtureTest(chex.TestCase):

    @chex.variants(with_jit=True, without_jit=True)
    def test_matches_scipy(self):
        rng = np.random.default_rng(9)
        k, d = 3, 4
        weights = rng.dirichlet(np.ones(k))
        means = rng.normal(size=(k, d))
        factors = rng.normal(size=(k, d, d))
        covariances = factors @ factors.transpose(0, 2, 1) + 0.5 * np.eye(d)
        xs = rng.normal(size=(5, d)) * 2.0
        fn = self.variant(jax.vmap(distributions.gaussian_mixture_log_prob,
                                   in_axes=(0, None, None, None)))
        got = fn(*(a.astype(np.float32) for a in (xs, weights, means, covariances)))
        components = np.stack([scipy.stats.multivariate_normal(means[j], covariances[j]).logpdf(xs)
                               for j in range(k)], axis=1)
        expected = scipy.special.logsumexp(components + np.log(weights), axis=1)
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)

    def test_far_away_point_is_finite(self):
        got = distributions.gaussian_mixture_log_prob(
            jnp.full((2,), 1e3), jnp.asarray([0.5, 0.5]), jnp.zeros((2, 2)),
            jnp.stack([jnp.eye(2), 0.01 * jnp.eye(2)]))
        expected = scipy.stats.multivariate_normal(np.zeros(2), np.eye(2)).logpdf(
            np.full(2, 1e3)) + np.log(0.5)
        np.testing.assert_allclose(got, expected, rtol=1e-5)
