"""Divergence estimators against exact traces and their known variance."""

import chex
import hypothesis
import hypothesis.strategies as st
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from absl.testing import parameterized

from likelihood_jax import estimators

NUM_DRAWS = 40_000


def _normal(seed, shape):
    return jnp.asarray(np.random.default_rng(seed).normal(size=shape), jnp.float32)


def _mlp_field(seed, dim, width=16):
    rng = np.random.default_rng(seed)
    w1 = jnp.asarray(rng.normal(size=(width, dim)) / np.sqrt(dim), jnp.float32)
    b1 = jnp.asarray(rng.normal(size=(width,)), jnp.float32)
    w2 = jnp.asarray(rng.normal(size=(dim, width)) / np.sqrt(width), jnp.float32)
    return lambda x: w2 @ jnp.tanh(w1 @ x + b1)


def _hutchinson_variance(a, probe):
    """Variance of v^T A v for one probe: 2||S||_F^2 (Gaussian), minus the diagonal (Rademacher)."""
    s = 0.5 * (a + a.T)
    frob = np.sum(s * s)
    if probe == "gaussian":
        return 2.0 * frob
    return 2.0 * (frob - np.sum(np.diag(s) ** 2))


class ExactDivergenceTest(chex.TestCase):

    @chex.variants(with_jit=True, without_jit=True)
    def test_linear_map_gives_trace(self):
        a = _normal(0, (7, 7))
        div = self.variant(lambda x: estimators.exact_divergence(lambda z: a @ z, x))
        x = _normal(1, (7,))
        np.testing.assert_allclose(div(x), np.trace(np.asarray(a)), rtol=1e-5)

    @chex.variants(with_jit=True, without_jit=True)
    def test_nonlinear_field_matches_jacrev_trace(self):
        f = _mlp_field(2, 5)
        x = _normal(3, (5,))
        div = self.variant(lambda x: estimators.exact_divergence(f, x))
        expected = np.trace(np.asarray(jax.jacrev(f)(x)))
        np.testing.assert_allclose(div(x), expected, rtol=1e-5, atol=1e-6)

    def test_event_shape_is_flattened(self):
        a = _normal(4, (6, 6))
        f = lambda x: (a @ x.reshape(-1)).reshape(2, 3)  # noqa: E731
        x = jnp.ones((2, 3))
        np.testing.assert_allclose(estimators.exact_divergence(f, x, event_ndim=2),
                                   np.trace(np.asarray(a)), rtol=1e-5)
        value, div = estimators.divergence_and_value(f, x)
        np.testing.assert_allclose(div, np.trace(np.asarray(a)), rtol=1e-5)
        chex.assert_shape(value, (2, 3))

    def test_shape_mismatch_raises(self):
        with pytest.raises(ValueError, match="exact_divergence: f must be a map R\\^D to R\\^D"):
            estimators.exact_divergence(lambda x: x[:2], jnp.ones(3))


@jax.jit
def _all_exact_divergences(a, x):
    f = lambda z: a @ z + jnp.sin(z)  # noqa: E731
    by_mode = [estimators.divergence_and_value(f, x, mode=mode)[1] for mode in estimators.MODES]
    return jnp.stack([estimators.exact_divergence(f, x)] + by_mode)


@hypothesis.settings(max_examples=4, deadline=None, derandomize=True)
@hypothesis.given(dim=st.integers(1, 6), seed=st.integers(0, 2**16))
def test_exact_divergence_equals_trace_for_any_dim(dim, seed):
    a = np.random.default_rng(seed).normal(size=(dim, dim)).astype(np.float32)
    x = np.linspace(-1.0, 1.0, dim, dtype=np.float32)
    expected = np.trace(a) + np.sum(np.cos(x))
    np.testing.assert_allclose(_all_exact_divergences(a, x), [expected] * 3, rtol=1e-5,
                               atol=1e-5)


class HutchinsonTest(chex.TestCase):

    def test_unbiased_and_variance_falls_as_one_over_num_probes(self):
        combos = [(probe, mode, num_probes) for probe in estimators.PROBES
                  for mode in estimators.MODES for num_probes in (1, 4)]
        with jax.enable_x64(True):
            a = jnp.asarray(np.random.default_rng(5).normal(size=(6, 6)))
            x = jnp.zeros(6)
            field = lambda z: a @ z + 0.1 * z ** 3  # noqa: E731  (Jacobian at 0 is A)

            @jax.jit
            def all_draws(keys):
                return {c: jax.vmap(lambda k, c=c: estimators.hutchinson_divergence(
                    field, x, k, probe=c[0], mode=c[1], num_probes=c[2]))(keys) for c in combos}

            draws = all_draws(jax.random.split(jax.random.key(6), NUM_DRAWS))
        for combo in combos:
            probe, _, num_probes = combo
            sample = np.asarray(draws[combo])
            variance = _hutchinson_variance(np.asarray(a), probe) / num_probes
            standard_error = np.sqrt(variance / NUM_DRAWS)
            # Five standard errors: a false alarm has probability below 1e-6.
            assert abs(sample.mean() - np.trace(np.asarray(a))) < 5 * standard_error, combo
            # The sample variance of 40k draws is within ~3% of the truth; allow 10%. With the
            # analytic variance divided by num_probes this checks the 1/num_probes decay.
            np.testing.assert_allclose(sample.var(), variance, rtol=0.1, err_msg=str(combo))

    @chex.variants(with_jit=True, without_jit=True)
    @parameterized.parameters("rademacher", "gaussian")
    def test_modes_agree_for_the_same_probes(self, probe):
        f = _mlp_field(9, 5)
        x = _normal(10, (5,))
        key = jax.random.key(11)
        est = {mode: self.variant(lambda x, k, m=mode: estimators.hutchinson_divergence(
            f, x, k, num_probes=3, probe=probe, mode=m))(x, key) for mode in ("jvp", "vjp")}
        np.testing.assert_allclose(est["jvp"], est["vjp"], rtol=1e-5, atol=1e-6)
        chex.assert_shape(est["jvp"], ())

    def test_rademacher_is_exact_for_diagonal_jacobian(self):
        # v^T D v = tr D for v in {-1, 1}^D: zero variance.
        d = jnp.arange(1.0, 6.0)
        for seed in range(3):
            est = estimators.hutchinson_divergence(lambda z: d * z, jnp.ones(5),
                                                   jax.random.key(seed))
            np.testing.assert_allclose(est, 15.0, rtol=1e-6)

    def test_typed_and_legacy_keys(self):
        f = lambda z: 2.0 * z  # noqa: E731
        for key in (jax.random.key(0), jax.random.PRNGKey(0)):
            np.testing.assert_allclose(
                estimators.hutchinson_divergence(f, jnp.ones(4), key, probe="gaussian"),
                estimators.hutchinson_divergence(f, jnp.ones(4), jax.random.key(0),
                                                 probe="gaussian"), rtol=1e-6)

    def test_vmap_over_batch_gives_independent_probes(self):
        a = _normal(12, (4, 4))
        xs = jnp.zeros((3, 4))
        keys = jax.random.split(jax.random.key(13), 3)
        est = jax.vmap(lambda x, k: estimators.hutchinson_divergence(
            lambda z: a @ z, x, k, probe="gaussian"))(xs, keys)
        chex.assert_shape(est, (3,))
        assert len(np.unique(np.asarray(est))) == 3

    @parameterized.parameters(
        dict(probe="uniform", mode="jvp", bad="'uniform'"),
        dict(probe="rademacher", mode="forward", bad="'forward'"),
    )
    def test_unknown_options_raise(self, probe, mode, bad):
        with pytest.raises(ValueError, match=bad) as info:
            estimators.hutchinson_divergence(lambda z: z, jnp.ones(2), jax.random.key(0),
                                             probe=probe, mode=mode)
        allowed = estimators.PROBES if bad == "'uniform'" else estimators.MODES
        assert all(name in str(info.value) for name in allowed)
        with pytest.raises(ValueError, match=bad):
            estimators.divergence_and_value(lambda z: z, jnp.ones(2), probe=probe, mode=mode)


class DivergenceAndValueTest(chex.TestCase):

    @chex.variants(with_jit=True, without_jit=True)
    @parameterized.parameters("jvp", "vjp")
    def test_exact_value_and_divergence(self, mode):
        f = _mlp_field(14, 6)
        x = _normal(15, (6,))
        value, div = self.variant(lambda x: estimators.divergence_and_value(f, x, mode=mode))(x)
        np.testing.assert_allclose(value, f(x), rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(div, np.trace(np.asarray(jax.jacfwd(f)(x))), rtol=1e-5,
                                   atol=1e-6)

    @chex.variants(with_jit=True, without_jit=True)
    def test_stochastic_matches_hutchinson_and_modes_agree(self):
        f = _mlp_field(16, 6)
        x = _normal(17, (6,))
        key = jax.random.key(18)
        results = {}
        for mode in ("jvp", "vjp"):
            results[mode] = self.variant(lambda x, k, m=mode: estimators.divergence_and_value(
                f, x, k, num_probes=2, mode=m))(x, key)
            np.testing.assert_allclose(results[mode][0], f(x), rtol=1e-6, atol=1e-6)
            np.testing.assert_allclose(
                results[mode][1],
                estimators.hutchinson_divergence(f, x, key, num_probes=2, mode=mode),
                rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(results["jvp"][1], results["vjp"][1], rtol=1e-5, atol=1e-6)

    def test_differentiable_with_respect_to_parameters(self):
        # d/dc tr(c A) = tr A, through the linearization.
        a = _normal(19, (4, 4))
        for mode in ("jvp", "vjp"):
            grad = jax.grad(lambda c, m=mode: estimators.divergence_and_value(
                lambda z: c * (a @ z), jnp.ones(4), mode=m)[1])(2.0)
            np.testing.assert_allclose(grad, np.trace(np.asarray(a)), rtol=1e-5)
