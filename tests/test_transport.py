"""Minibatch OT: exact pairing against brute force and scipy; Sinkhorn against the exact plan."""

import itertools

import chex
import hypothesis
import hypothesis.strategies as st
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.optimize

from likelihood_jax import transport


def _cost(x0, x1):
    return ((x0[:, None, :] - x1[None, :, :]) ** 2).sum(-1)


def _pairing_cost(x0, x1, perm):
    return float(np.sum((np.asarray(x0, np.float64) - np.asarray(x1, np.float64)[perm]) ** 2))


_jit_pairing = jax.jit(transport.exact_ot_pairing)


@hypothesis.settings(max_examples=8, deadline=None, derandomize=True)
@hypothesis.given(size=st.integers(1, 6), dim=st.integers(1, 3), seed=st.integers(0, 10_000))
def test_pairing_is_optimal_by_brute_force(size, dim, seed):
    rng = np.random.default_rng(seed)
    x0, x1 = rng.normal(size=(2, size, dim)).astype(np.float32)
    perm = np.asarray(_jit_pairing(x0, x1))
    assert sorted(perm.tolist()) == list(range(size))
    best = min(_pairing_cost(x0, x1, list(p)) for p in itertools.permutations(range(size)))
    np.testing.assert_allclose(_pairing_cost(x0, x1, perm), best, rtol=1e-5, atol=1e-5)


class ExactPairingTest(chex.TestCase):

    @chex.variants(with_jit=True, without_jit=True)
    def test_reaches_scipy_optimum_on_a_larger_batch(self):
        rng = np.random.default_rng(0)
        x0, x1 = rng.normal(size=(2, 64, 5)).astype(np.float32)
        perm = self.variant(transport.exact_ot_pairing)(x0, x1)
        chex.assert_shape(perm, (64,))
        chex.assert_type(perm, jnp.int32)
        rows, cols = scipy.optimize.linear_sum_assignment(_cost(x0.astype(np.float64),
                                                                x1.astype(np.float64)))
        np.testing.assert_allclose(_pairing_cost(x0, x1, np.asarray(perm)),
                                   _pairing_cost(x0, x1, cols[np.argsort(rows)]), rtol=1e-6)

    def test_known_pairing_and_image_shaped_inputs(self):
        x0 = np.arange(5.0, dtype=np.float32)[:, None, None]
        x1 = x0[::-1] + 0.1  # the optimum pairs i with the point of the same value
        np.testing.assert_array_equal(transport.exact_ot_pairing(x0, x1), [4, 3, 2, 1, 0])

    def test_vmap_over_minibatches_and_grad_through_the_loss(self):
        rng = np.random.default_rng(1)
        x0, x1 = rng.normal(size=(2, 3, 6, 2)).astype(np.float32)
        perms = jax.jit(jax.vmap(transport.exact_ot_pairing))(x0, x1)
        chex.assert_shape(perms, (3, 6))
        for i in range(3):
            np.testing.assert_array_equal(perms[i], transport.exact_ot_pairing(x0[i], x1[i]))

        def loss(shift):
            moved = x0[0] + shift
            target = jnp.asarray(x1[0])
            return jnp.sum((moved - target[transport.exact_ot_pairing(moved, target)]) ** 2)

        assert np.isfinite(jax.jit(jax.grad(loss))(0.0))

    def test_unequal_sizes_raise(self):
        with np.testing.assert_raises(ValueError):
            transport.exact_ot_pairing(np.zeros((3, 2)), np.zeros((4, 2)))


_jit_plan = jax.jit(lambda a, b, eps: transport.sinkhorn_plan(a, b, epsilon=eps,
                                                              max_iterations=20_000))


class SinkhornTest(chex.TestCase):

    def test_uniform_marginals_and_convergence_to_exact_plan(self):
        # A clear optimum (x1 is a noisy shuffle of x0), so the exact plan is unique and the
        # entropic plan must concentrate on it; the transport cost must approach the optimum.
        rng = np.random.default_rng(2)
        x0 = (3.0 * rng.normal(size=(8, 2))).astype(np.float32)
        shuffle = rng.permutation(8)
        x1 = (x0[shuffle] + 0.05 * rng.normal(size=(8, 2))).astype(np.float32)
        perm = np.asarray(transport.exact_ot_pairing(x0, x1))
        np.testing.assert_array_equal(perm, np.argsort(shuffle))
        cost = _cost(x0.astype(np.float64), x1.astype(np.float64))
        exact_plan = np.zeros((8, 8))
        exact_plan[np.arange(8), perm] = 1 / 8
        distances, gaps = [], []
        for epsilon in (1.0, 0.1, 0.01):
            plan = np.asarray(_jit_plan(x0, x1, epsilon))
            chex.assert_shape(plan, (8, 8))
            assert np.all(plan >= 0)
            np.testing.assert_allclose(plan.sum(), 1.0, rtol=1e-5)
            # Sinkhorn stops once the L1 marginal error is below threshold (1e-3).
            assert np.abs(plan.sum(axis=0) - 1 / 8).sum() < 1e-3
            assert np.abs(plan.sum(axis=1) - 1 / 8).sum() < 1e-3
            distances.append(np.abs(plan - exact_plan).sum())
            gaps.append(np.sum(plan * cost) - np.sum(exact_plan * cost))
        assert distances[0] > distances[1] > distances[2], distances
        assert distances[2] < 0.01, distances
        assert gaps[0] > gaps[1] > gaps[2] > -1e-4, gaps
        assert gaps[2] < 1e-3, gaps

    def test_vmap_over_minibatches(self):
        rng = np.random.default_rng(3)
        x0, x1 = rng.normal(size=(2, 2, 8, 2)).astype(np.float32)
        plans = jax.jit(jax.vmap(_jit_plan, in_axes=(0, 0, None)))(x0, x1, 0.5)
        chex.assert_shape(plans, (2, 8, 8))
        for i in range(2):
            np.testing.assert_allclose(plans[i], _jit_plan(x0[i], x1[i], 0.5), rtol=1e-3,
                                       atol=1e-6)


def test_empirical_wasserstein2_matches_brute_force_and_shift():
    import itertools

    from likelihood_jax.transport import empirical_wasserstein2
    rng = np.random.default_rng(3)
    x0, x1 = rng.normal(size=(6, 3)), rng.normal(size=(6, 3))
    best = min(np.mean(np.sum((x0 - x1[list(p)]) ** 2, -1))
               for p in itertools.permutations(range(6)))
    np.testing.assert_allclose(empirical_wasserstein2(x0, x1), np.sqrt(best), rtol=1e-5)
    shift = np.array([1.0, -2.0, 0.5])
    np.testing.assert_allclose(empirical_wasserstein2(x0, x0 + shift),
                               np.linalg.norm(shift), rtol=1e-5)


def test_exact_pairing_names_non_finite_points():
    x = jnp.array([[0.0, 1.0], [jnp.nan, 0.0]])
    with pytest.raises(Exception, match="NaN or infinite"):
        transport.exact_ot_pairing(x, jnp.zeros((2, 2)))
