"""Score-matching objectives against closed forms on Gaussian models."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from absl.testing import parameterized

from likelihood_jax import estimators, score_matching

DIM = 5
NUM_DRAWS = 40_000


def _gaussian_model(seed=0, dim=DIM):
    """Precision P (SPD), mean mu and a point x, as float64 numpy arrays."""
    rng = np.random.default_rng(seed)
    m = rng.normal(size=(dim, dim))
    precision = m @ m.T / dim + np.eye(dim)
    return precision, rng.normal(size=dim), rng.normal(size=dim)


def _exact_sm_closed_form(precision, mu, x):
    """For s(x) = -P(x - mu): 0.5 |P(x - mu)|^2 - tr P."""
    s = precision @ (x - mu)
    return 0.5 * s @ s - np.trace(precision)


def _quadratic_form_variance(m, probe):
    """Var(v^T M v), M symmetric: 2||M||_F^2 (Gaussian), minus the diagonal (Rademacher)."""
    if probe == "gaussian":
        return 2.0 * np.sum(m * m)
    return 2.0 * (np.sum(m * m) - np.sum(np.diag(m) ** 2))


def _sphere_quadratic_variance(m):
    """Var(D u^T M u) for u uniform on the unit sphere: (2D tr M^2 - 2 (tr M)^2) / (D + 2)."""
    d = m.shape[0]
    return (2 * d * np.trace(m @ m) - 2 * np.trace(m) ** 2) / (d + 2)


class ExactScoreMatchingTest(chex.TestCase):

    @chex.variants(with_jit=True, without_jit=True)
    def test_gaussian_closed_form(self):
        precision, mu, x = _gaussian_model()
        p, m = jnp.asarray(precision, jnp.float32), jnp.asarray(mu, jnp.float32)
        loss = self.variant(lambda x: score_matching.exact_score_matching(
            lambda z: -p @ (z - m), x))(jnp.asarray(x, jnp.float32))
        np.testing.assert_allclose(loss, _exact_sm_closed_form(precision, mu, x), rtol=1e-5)

    def test_score_from_log_prob_is_the_gradient(self):
        precision, mu, x = _gaussian_model(1)
        with jax.enable_x64(True):
            log_prob = lambda z: -0.5 * (z - mu) @ precision @ (z - mu) + 3.0  # noqa: E731
            score = score_matching.score_from_log_prob(log_prob)
            value, loss = jax.jit(
                lambda z: (score(z), score_matching.exact_score_matching(score, z)))(x)
            value, loss = np.asarray(value), np.asarray(loss)
        np.testing.assert_allclose(value, -precision @ (x - mu), rtol=1e-12)
        np.testing.assert_allclose(loss, _exact_sm_closed_form(precision, mu, x), rtol=1e-12)

    def test_score_from_log_prob_passes_extra_arguments(self):
        score = score_matching.score_from_log_prob(lambda x, c: -0.5 * c * jnp.sum(x ** 2))
        np.testing.assert_allclose(score(jnp.ones(3), 2.0), -2.0 * np.ones(3))


class SlicedScoreMatchingTest(chex.TestCase):

    def test_expectation_equals_exact_sm_within_known_error(self):
        precision, mu, x = _gaussian_model(2)
        # Non-symmetric Jacobian too: s(z) = -A(z - mu) with A = P + skew.
        skew = np.triu(np.ones((DIM, DIM)), 1) * 0.3
        a = precision + skew - skew.T
        s = -a @ (x - mu)
        exact = 0.5 * s @ s - np.trace(a)
        combos = [(probe, vr) for probe in ("rademacher", "gaussian") for vr in (False, True)]
        with jax.enable_x64(True):
            score_fn = lambda z: -jnp.asarray(a) @ (z - mu)  # noqa: E731

            @jax.jit
            def all_draws(keys):
                return {c: jax.vmap(lambda k, c=c: score_matching.sliced_score_matching(
                    score_fn, jnp.asarray(x), k, probe=c[0], variance_reduction=c[1]))(keys)
                    for c in combos}

            draws = jax.tree.map(np.asarray, all_draws(jax.random.split(jax.random.key(3),
                                                                        NUM_DRAWS)))
        sym = -0.5 * (a + a.T)
        for probe, vr in combos:
            # One draw is v^T M v with M = -A_sym + 0.5 s s^T (or -A_sym plus a constant).
            m = sym if vr else sym + 0.5 * np.outer(s, s)
            standard_error = np.sqrt(_quadratic_form_variance(m, probe) / NUM_DRAWS)
            sample = np.asarray(draws[(probe, vr)])
            assert abs(sample.mean() - exact) < 5 * standard_error, (probe, vr)
            np.testing.assert_allclose(sample.var(), _quadratic_form_variance(m, probe),
                                       rtol=0.1, atol=1e-9)

    @chex.variants(with_jit=True, without_jit=True)
    @parameterized.parameters(("rademacher", False), ("gaussian", True), ("sphere", False))
    def test_each_draw_is_the_sliced_formula(self, probe, variance_reduction):
        precision, mu, x = _gaussian_model(4)
        p, m = jnp.asarray(precision, jnp.float32), jnp.asarray(mu, jnp.float32)
        x = jnp.asarray(x, jnp.float32)
        key = jax.random.key(5)
        loss = self.variant(lambda x, k: score_matching.sliced_score_matching(
            lambda z: -p @ (z - m), x, k, num_slices=3, probe=probe,
            variance_reduction=variance_reduction))(x, key)
        v = np.asarray(estimators.sample_probes(key, (3, DIM), probe))
        s = -precision @ (np.asarray(x) - mu)
        second = 0.5 * s @ s if variance_reduction else 0.5 * (v @ s) ** 2
        expected = np.mean(np.einsum("pi,ij,pj->p", v, -precision, v) + second)
        np.testing.assert_allclose(loss, expected, rtol=1e-5)

    def test_parameter_gradient_matches_exact_in_expectation(self):
        # d/dc of E[SSM] for s = -c P (z - mu) equals d/dc of exact SM.
        precision, mu, x = _gaussian_model(6)
        p, m = jnp.asarray(precision, jnp.float32), jnp.asarray(mu, jnp.float32)

        def sliced(c, k):
            return score_matching.sliced_score_matching(
                lambda z: -c * p @ (z - m), jnp.asarray(x, jnp.float32), k,
                variance_reduction=True, num_slices=64)

        grads = jax.jit(jax.vmap(jax.grad(sliced), in_axes=(None, 0)))(
            1.5, jax.random.split(jax.random.key(7), 512))
        r = precision @ (x - mu)
        exact_grad = 1.5 * r @ r - np.trace(precision)  # d/dc [0.5 c^2 |r|^2 - c tr P]
        np.testing.assert_allclose(np.mean(grads), exact_grad, rtol=0.02)

    def test_bad_options_raise(self):
        with pytest.raises(ValueError, match="'bernoulli'"):
            score_matching.sliced_score_matching(lambda z: z, jnp.ones(2), jax.random.key(0),
                                                 probe="bernoulli")
        with pytest.raises(ValueError, match="num_slices"):
            score_matching.sliced_score_matching(lambda z: z, jnp.ones(2), jax.random.key(0),
                                                 num_slices=0)


class DenoisingScoreMatchingTest(chex.TestCase):

    def test_linear_score_closed_form_in_expectation(self):
        # s(y) = -P(y - mu): s(x + sigma eps) + eps/sigma = a + B eps with a = -P(x - mu),
        # B = I/sigma - sigma P. E = 0.5|a|^2 + 0.5 tr(B^T B);
        # Var = a^T B B^T a + 0.5 ||B^T B||_F^2.
        precision, mu, x = _gaussian_model(8)
        sigma = 0.7
        a = -precision @ (x - mu)
        b = np.eye(DIM) / sigma - sigma * precision
        btb = b.T @ b
        expected = 0.5 * a @ a + 0.5 * np.trace(btb)
        variance = a @ b @ b.T @ a + 0.5 * np.sum(btb * btb)
        with jax.enable_x64(True):
            draws = jax.jit(jax.vmap(lambda k: score_matching.denoising_score_matching(
                lambda y: -jnp.asarray(precision) @ (y - mu), jnp.asarray(x), k, sigma)))(
                    jax.random.split(jax.random.key(9), NUM_DRAWS))
            draws = np.asarray(draws)
        assert abs(np.mean(draws) - expected) < 5 * np.sqrt(variance / NUM_DRAWS)
        np.testing.assert_allclose(np.var(draws), variance, rtol=0.1)

    @chex.variants(with_jit=True, without_jit=True)
    def test_each_draw_is_the_formula(self):
        key = jax.random.key(10)
        x = jnp.arange(3.0)
        loss = self.variant(lambda x, k: score_matching.denoising_score_matching(
            lambda y: -2.0 * y, x, k, 0.5))(x, key)
        eps = np.asarray(jax.random.normal(key, (3,)))
        r = -2.0 * (np.asarray(x) + 0.5 * eps) + eps / 0.5
        np.testing.assert_allclose(loss, 0.5 * r @ r, rtol=1e-5)


class FiniteDifferenceScoreMatchingTest(chex.TestCase):

    def test_expectation_equals_exact_sm_for_quadratic(self):
        precision, mu, x = _gaussian_model(11)
        s = -precision @ (x - mu)
        exact = 0.5 * s @ s - np.trace(precision)
        m = -precision + 0.5 * np.outer(s, s)
        with jax.enable_x64(True):
            log_prob = lambda z: -0.5 * (z - mu) @ precision @ (z - mu) - 4.0  # noqa: E731
            draws = jax.jit(jax.vmap(
                lambda k: score_matching.finite_difference_sliced_score_matching(
                    log_prob, jnp.asarray(x), k)))(
                        jax.random.split(jax.random.key(12), NUM_DRAWS))
            draws = np.asarray(draws)
        variance = _sphere_quadratic_variance(m)
        assert abs(np.mean(draws) - exact) < 5 * np.sqrt(variance / NUM_DRAWS)
        np.testing.assert_allclose(np.var(draws), variance, rtol=0.1)

    def test_each_draw_is_exact_for_quadratic(self):
        # For quadratic log p both differences are exact: D (u^T H u + 0.5 (u^T s)^2) per
        # unit direction u = v / sqrt(D), for every eps.
        precision, mu, x = _gaussian_model(13)
        key = jax.random.key(14)
        combos = [(eps, probe) for eps in (0.1, 1.0) for probe in score_matching.FD_PROBES]
        with jax.enable_x64(True):

            @jax.jit
            def losses_and_probes(x):
                log_prob = lambda z: -0.5 * (z - mu) @ precision @ (z - mu)  # noqa: E731
                return {c: (score_matching.finite_difference_sliced_score_matching(
                    log_prob, x, key, eps=c[0], num_slices=4, probe=c[1]),
                    estimators.sample_probes(key, (4, DIM), c[1], jnp.float64)) for c in combos}

            results = jax.tree.map(np.asarray, losses_and_probes(x))
        s = -precision @ (x - mu)
        for combo in combos:
            loss, v = results[combo]
            expected = np.mean(np.einsum("pi,ij,pj->p", v, -precision, v) + 0.5 * (v @ s) ** 2)
            np.testing.assert_allclose(loss, expected, rtol=1e-8, err_msg=str(combo))

    def test_bias_is_second_order_in_eps(self):
        log_prob = lambda z: -jnp.sum(z ** 4) / 4 - jnp.sum(jnp.cos(z))  # noqa: E731
        key = jax.random.key(15)
        steps = (0.08, 0.04, 0.02)
        with jax.enable_x64(True):

            @jax.jit
            def errors(x):
                score = score_matching.score_from_log_prob(log_prob)
                reference = score_matching.sliced_score_matching(score, x, key, num_slices=8,
                                                                 probe="sphere")
                return jnp.stack([score_matching.finite_difference_sliced_score_matching(
                    log_prob, x, key, eps=eps, num_slices=8) - reference for eps in steps])

            errs = np.abs(np.asarray(errors(jnp.linspace(-1.0, 1.5, DIM))))
        # Same directions as the sliced estimate; the error shrinks by ~4 per halving of eps.
        np.testing.assert_allclose(errs[:-1] / errs[1:], 4.0, rtol=0.1)

    @chex.variants(with_jit=True, without_jit=True)
    def test_float32_close_to_float64(self):
        precision, mu, x = _gaussian_model(16)
        p = jnp.asarray(precision, jnp.float32)
        m = jnp.asarray(mu, jnp.float32)
        key = jax.random.key(17)
        loss = self.variant(lambda x, k: score_matching.finite_difference_sliced_score_matching(
            lambda z: -0.5 * (z - m) @ p @ (z - m), x, k, num_slices=2))(
                jnp.asarray(x, jnp.float32), key)
        v = np.asarray(estimators.sample_probes(key, (2, DIM), "sphere"), np.float64)
        v = v / np.linalg.norm(v, axis=1, keepdims=True) * np.sqrt(DIM)
        s = -precision @ (x - mu)
        expected = np.mean(np.einsum("pi,ij,pj->p", v, -precision, v) + 0.5 * (v @ s) ** 2)
        np.testing.assert_allclose(loss, expected, rtol=1e-3)

    def test_bad_probe_raises(self):
        with pytest.raises(ValueError, match="'unit'"):
            score_matching.finite_difference_sliced_score_matching(
                lambda z: -jnp.sum(z ** 2), jnp.ones(2), jax.random.key(0), probe="unit")
