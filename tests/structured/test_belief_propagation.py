"""Belief propagation with counting factors [P231]: the counting-factor message and the
marginals of a tree-structured factor graph against brute-force enumeration; convergence
with damping on a loopy kNN graph with bags."""

from __future__ import annotations

import itertools

import jax
import numpy as np

from likelihood_jax.structured import belief_propagation as bp


def _normalized(log_values):
    return log_values - np.logaddexp.reduce(log_values, axis=-1, keepdims=True)


def test_counting_factor_message_equals_enumeration_with_padding():
    rng = np.random.default_rng(0)
    size = 6
    incoming = rng.normal(size=(size, 2))
    phi = rng.normal(size=size + 1)
    phi[[0, 4]] = -np.inf  # impossible counts
    mask = np.array([True, True, False, True, True, True])  # slot 2 is padding
    expected = np.full((size, 2), -np.inf)
    for i in np.flatnonzero(mask):
        for label in (0, 1):
            terms = []
            for labels in itertools.product((0, 1), repeat=size):
                if labels[i] != label or any(labels[j] for j in np.flatnonzero(~mask)):
                    continue
                terms.append(phi[sum(labels)] + sum(incoming[j, labels[j]]
                                                    for j in np.flatnonzero(mask) if j != i))
            expected[i, label] = np.logaddexp.reduce(terms)
    with jax.enable_x64(True):
        got = np.asarray(jax.jit(bp.counting_factor_messages)(incoming, phi, mask))
    np.testing.assert_allclose(got[mask], _normalized(expected[mask]), atol=1e-12)


def _tree_marginals(unary, edges, pairwise, bags, bag_mask, phi):
    """Exact p(y_i = 1) by summing over all 2^N labelings."""
    num_vars = len(unary)
    labels = np.array(list(itertools.product((0, 1), repeat=num_vars)))
    log_p = unary[np.arange(num_vars), labels].sum(1)
    log_p += pairwise[np.arange(len(edges)), labels[:, edges[:, 0]],
                      labels[:, edges[:, 1]]].sum(1)
    for m in range(len(bags)):
        members = bags[m][bag_mask[m]]
        log_p += phi[m, labels[:, members].sum(1)]
    weights = np.exp(log_p - log_p.max())
    return weights @ labels / weights.sum()


def test_bp_marginals_equal_enumeration_on_a_tree_with_counting_factors():
    # 12 binary labels; two bags (counting factors over {0..3} and {4..6}, the second padded
    # to 4 slots) joined by the edge 3-4, and pendant chains hanging off bag members: the
    # factor graph is a tree.
    rng = np.random.default_rng(1)
    edges = np.array([[3, 4], [0, 7], [7, 8], [1, 9], [5, 10], [10, 11]])
    bags = np.array([[0, 1, 2, 3], [4, 5, 6, 0]])
    bag_mask = np.array([[True] * 4, [True, True, True, False]])
    unary = rng.normal(size=(12, 2))
    pairwise = rng.normal(size=(len(edges), 2, 2))
    soft = rng.normal(size=(2, 5))
    soft[1, 4] = -np.inf  # the padded bag cannot hold 4
    hard = np.where(np.arange(5)[None] == np.array([[2], [1]]), 0.0, -np.inf)

    @jax.jit
    def marginals(phi):
        return bp.belief_propagation_marginals(unary, edges, pairwise, bags, bag_mask, phi,
                                     num_iters=12)

    with jax.enable_x64(True):
        for phi in (soft, hard):
            result = marginals(phi)
            np.testing.assert_allclose(
                result.marginals, _tree_marginals(unary, edges, pairwise, bags, bag_mask, phi),
                atol=1e-10)
            assert float(result.residuals[-1]) < 1e-12
    # The hard constraint holds exactly in expectation: 2 positives in bag 0, 1 in bag 1.
    np.testing.assert_allclose(result.marginals[:4].sum(), 2.0, atol=1e-10)
    np.testing.assert_allclose(result.marginals[4:7].sum(), 1.0, atol=1e-10)


def test_damped_bp_converges_on_a_loopy_knn_graph_with_bags():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(120, 4))
    distances = ((x[:, None] - x[None]) ** 2).sum(-1) + np.diag(np.full(120, np.inf))
    neighbors = np.argsort(distances, axis=1)[:, :4]
    edges = np.unique(np.sort(np.stack([np.repeat(np.arange(120), 4), neighbors.ravel()], 1),
                              axis=1), axis=0)
    pairwise = np.broadcast_to(np.array([[0.6, 0.0], [0.0, 0.6]]), (len(edges), 2, 2))
    bags = rng.permutation(120).reshape(8, 15)
    counts = rng.integers(3, 13, size=8)
    phi = bp.label_count_log_potentials(counts, np.full(8, 15), 15)
    result = jax.jit(lambda: bp.belief_propagation_marginals(
        np.zeros((120, 2)), edges, pairwise, bags, None, phi, num_iters=150, damping=0.5))()
    residuals = np.asarray(result.residuals)
    assert residuals[-1] < 1e-3 * residuals[0]
    assert np.all(np.isfinite(result.marginals))
    # Each hard count factor is (nearly) satisfied in expectation by the beliefs.
    np.testing.assert_allclose(np.asarray(result.marginals)[bags].sum(1), counts, atol=0.05)
