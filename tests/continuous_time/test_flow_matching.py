"""Conditional flow matching: paths, velocities, the pairing glue, and that the loss uses x_t."""

import itertools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from likelihood_jax.continuous_time import flow_matching as fm


@pytest.mark.parametrize("path", fm.PATHS)
def test_conditional_velocity_is_the_time_derivative_of_the_path(path):
    """u_t = d/dt (mu_t + sigma_t eps) with eps held fixed: an independent check of Table 1."""
    key = jax.random.key(0)
    x0, x1, eps = jax.random.normal(key, (3, 4))
    sigma = 0.3
    for t in [0.1, 0.37, 0.8]:
        t = jnp.asarray(t)

        def x_of_t(s):
            return fm.conditional_path(path, x0, x1, s, eps, sigma)[0]

        x_t, dx_dt = jax.jvp(x_of_t, (t,), (jnp.ones_like(t),))
        _, u_t = fm.conditional_path(path, x0, x1, t, eps, sigma)
        np.testing.assert_allclose(u_t, dx_dt, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(x_t, x_of_t(t))


def test_path_marginals_have_the_stated_mean_and_std():
    x0, x1 = jnp.array([1.0, -1.0]), jnp.array([3.0, 2.0])
    eps = jax.random.normal(jax.random.key(1), (20000, 2))
    t, sigma = 0.25, 0.5
    expected = {
        "linear": (t * x1 + (1 - t) * x0, sigma),
        "brownian_bridge": (t * x1 + (1 - t) * x0, sigma * np.sqrt(t * (1 - t))),
    }
    for path, (mean, std) in expected.items():
        xs = jax.vmap(lambda e: fm.conditional_path(path, x0, x1, t, e, sigma)[0])(eps)
        np.testing.assert_allclose(xs.mean(0), mean, atol=0.03)
        np.testing.assert_allclose(xs.std(0), std, rtol=0.03)
    # Lipman et al.: x0 is the noise; N(t x1, (1 - (1 - sigma) t)^2).
    xs = jax.vmap(lambda e: fm.conditional_path("target", e, x1, t, None, sigma)[0])(eps)
    np.testing.assert_allclose(xs.mean(0), t * x1, atol=0.03)
    np.testing.assert_allclose(xs.std(0), 1 - (1 - sigma) * t, rtol=0.03)


def test_the_loss_evaluates_the_model_at_x_t_not_x1():
    """With sigma = 0, v(t, x) = (x - x0) / t equals u_t = x1 - x0 exactly at x_t."""
    x0, x1 = jnp.array([0.5, -1.0]), jnp.array([2.0, 1.0])

    def field(t, x):
        return (x - x0) / t

    keys = jax.random.split(jax.random.key(0), 16)
    losses = jax.vmap(lambda k: fm.conditional_flow_matching(field, x0, x1, k))(keys)
    np.testing.assert_allclose(losses, 0.0, atol=1e-8)

    # A loss that fed x1 to the model (the peer-library mistake) would not vanish.
    def wrong_loss(k):
        t = jax.random.uniform(jax.random.split(k)[0], ())
        return jnp.sum((field(t, x1) - (x1 - x0)) ** 2)

    assert float(jnp.min(jax.vmap(wrong_loss)(keys))) > 1e-3
    # And the recorded input of the model is x_t = t x1 + (1 - t) x0.
    seen = []

    def recording_field(t, x):
        seen.append((t, x))
        return jnp.zeros_like(x)

    fm.conditional_flow_matching(recording_field, x0, x1, keys[0])
    t, x = seen[0]
    np.testing.assert_allclose(x, t * x1 + (1 - t) * x0, rtol=1e-6)


def test_loss_matches_a_hand_computation_with_noise():
    x0, x1 = jnp.array([0.5, -1.0]), jnp.array([2.0, 1.0])
    key = jax.random.key(3)
    sigma = 0.2

    def field(t, x):
        return jnp.sin(x) * t

    t_key, eps_key = jax.random.split(key)
    t = jax.random.uniform(t_key, ())
    eps = jax.random.normal(eps_key, (2,))
    x_t = t * x1 + (1 - t) * x0 + sigma * eps
    expected = jnp.sum((field(t, x_t) - (x1 - x0)) ** 2)
    np.testing.assert_allclose(fm.conditional_flow_matching(field, x0, x1, key, sigma=sigma),
                               expected, rtol=1e-6)


def _cost(a, b):
    return float(np.sum((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))


class PairingTest(chex.TestCase):

    @chex.variants(with_jit=True, without_jit=True)
    def test_exact_pairing_is_the_brute_force_optimum(self):
        rng = np.random.default_rng(0)
        pair = self.variant(lambda a, b: fm.pair_minibatch(a, b, coupling="exact"))
        for n in range(1, 7):
            x0, x1 = rng.normal(size=(2, n, 2)).astype(np.float32)
            p0, p1 = pair(x0, x1)
            np.testing.assert_array_equal(p0, x0)  # sources stay in place
            # p1 is a permutation of x1 ...
            assert sorted(map(tuple, np.asarray(p1).tolist())) == sorted(
                map(tuple, x1.tolist()))
            # ... with the smallest total squared distance.
            best = min(_cost(x0, x1[list(p)]) for p in itertools.permutations(range(n)))
            np.testing.assert_allclose(_cost(p0, p1), best, rtol=1e-5, atol=1e-6)

    @chex.variants(with_jit=True, without_jit=True)
    def test_sinkhorn_pairs_follow_the_plan(self):
        rng = np.random.default_rng(1)
        x0, x1 = rng.normal(size=(2, 6, 2)).astype(np.float32)
        pair = self.variant(lambda a, b, k: fm.pair_minibatch(a, b, k, coupling="sinkhorn",
                                                              epsilon=1e-3))
        p0, p1 = pair(x0, x1, jax.random.key(0))
        # With a tiny epsilon the plan is the exact permutation: each sampled pair is an
        # exact-OT pair (sampling is with replacement, so rows may repeat).
        _, exact = fm.pair_minibatch(x0, x1, coupling="exact")
        partner = {tuple(a): tuple(b) for a, b in zip(x0.tolist(), np.asarray(exact).tolist())}
        for a, b in zip(np.asarray(p0).tolist(), np.asarray(p1).tolist()):
            assert partner[tuple(a)] == tuple(b)


def test_sampling_pairs_from_a_plan_has_the_plan_frequencies():
    plan = jnp.array([[0.5, 0.0], [0.1, 0.4]])
    i, j = fm.sample_plan_pairs(jax.random.key(0), plan, 40000)
    counts = np.zeros((2, 2))
    np.add.at(counts, (np.asarray(i), np.asarray(j)), 1)
    np.testing.assert_allclose(counts / counts.sum(), plan, atol=0.01)


def test_independent_pairing_is_the_identity():
    x0, x1 = jnp.ones((3, 2)), jnp.zeros((3, 2))
    p0, p1 = fm.pair_minibatch(x0, x1)
    np.testing.assert_array_equal(p0, x0)
    np.testing.assert_array_equal(p1, x1)


@pytest.mark.parametrize("variant", list(fm.VARIANTS))
def test_batch_loss_shapes_and_jit(variant):
    x0 = jax.random.normal(jax.random.key(0), (8, 2))
    x1 = jax.random.normal(jax.random.key(1), (8, 2)) + 3.0

    def field(t, x):
        return x * t

    loss = jax.jit(lambda a, b, k: fm.flow_matching_loss(field, a, b, k, variant=variant,
                                                         sigma=0.1))(x0, x1, jax.random.key(2))
    chex.assert_shape(loss, (8,))
    chex.assert_tree_all_finite(loss)


def test_ot_pairing_lowers_the_loss_of_the_straight_field():
    """At the OT pairing the conditional velocities vary less: lower CFM regression target
    variance, which is what makes OT-CFM's paths straighter (Tong et al. 2023, Sec. 3.2)."""
    x0 = jax.random.normal(jax.random.key(0), (256, 2))
    x1 = jax.random.normal(jax.random.key(1), (256, 2)) * 0.5 + jnp.array([1.0, 0.0])

    def zero(t, x):
        return jnp.zeros_like(x)

    key = jax.random.key(2)
    # With v = 0 the loss is E|x1 - x0|^2: the coupling's transport cost. Analytic values:
    # independent |m|^2 + tr(S0) + tr(S1) = 3.5, OT W2^2 = |m|^2 + tr(S0 + S1 - 2 (S0 S1)^1/2)
    # = 1.5 (a minibatch OT plan is a little cheaper still).
    ind = fm.flow_matching_loss(zero, x0, x1, key, variant="icfm").mean()
    ot = fm.flow_matching_loss(zero, x0, x1, key, variant="otcfm").mean()
    assert abs(float(ind) - 3.5) < 0.4
    assert 1.0 < float(ot) < 1.6


def test_bad_arguments_raise():
    x = jnp.zeros((4, 2))
    with pytest.raises(ValueError, match="Unknown CFM variant"):
        fm.flow_matching_loss(lambda t, y: y, x, x, jax.random.key(0), variant="rectified")
    with pytest.raises(ValueError, match="sbcfm needs sigma > 0"):
        fm.flow_matching_loss(lambda t, y: y, x, x, jax.random.key(0), variant="sbcfm",
                              sigma=0.0)
    with pytest.raises(ValueError, match="same shape"):
        fm.pair_minibatch(x, jnp.zeros((3, 2)), coupling="exact")
    with pytest.raises(ValueError, match="needs a key and epsilon"):
        fm.pair_minibatch(x, x, coupling="sinkhorn")
    with pytest.raises(ValueError, match="Unknown conditional path"):
        fm.conditional_path("straight", x[0], x[0], 0.5, x[0], 0.1)


def test_brownian_bridge_velocity_is_finite_at_the_ends():
    x0, x1, eps = jnp.array([0.0, 1.0]), jnp.array([2.0, -1.0]), jnp.array([1.0, 1.0])
    for t in (0.0, 1.0):
        x_t, u_t = fm.conditional_path("brownian_bridge", x0, x1, jnp.asarray(t), eps, 0.1)
        np.testing.assert_allclose(u_t, x1 - x0, atol=1e-6)
    # Near the ends it is large but bounded for float32 times (t >= 2^-24).
    _, u_t = fm.conditional_path("brownian_bridge", x0, x1, jnp.asarray(2.0**-24), eps, 0.1)
    assert float(jnp.max(jnp.abs(u_t))) < 1e3
