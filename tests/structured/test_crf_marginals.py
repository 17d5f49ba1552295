"""Forward-backward marginals and count gradients of linear-chain CRFs [P068], against
brute-force enumeration of all tag sequences and against autodiff."""

import itertools

import jax
import numpy as np
import scipy.special

from likelihood_jax import structured

LENGTH, NUM_TAGS = 5, 3


def _random_crfs(seed, num_crfs=2):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(num_crfs, LENGTH, NUM_TAGS)).astype(np.float32),
            rng.normal(size=(num_crfs, NUM_TAGS, NUM_TAGS)).astype(np.float32),
            *rng.normal(size=(2, num_crfs, NUM_TAGS)).astype(np.float32))


def _one(tags, unary, transition, start, end):
    node, edge = structured.crf_marginals(unary, transition, start, end)
    counts = structured.crf_count_gradients(tags, unary, transition, start, end)
    auto = jax.grad(structured.crf_log_likelihood, argnums=(1, 2, 3, 4))(
        tags, unary, transition, start, end)
    return node, edge, counts, auto


#: Batched by vmap over CRFs (and their observed tags), under jit.
ONE = jax.jit(jax.vmap(_one))


def test_marginals_and_count_gradients_match_enumeration_and_autodiff():
    crfs = _random_crfs(0)
    tags = np.array([[0, 2, 2, 1, 0], [1, 1, 0, 2, 2]])
    node, edge, counts, auto = ONE(tags, *crfs)
    sequences = np.array(list(itertools.product(range(NUM_TAGS), repeat=LENGTH)))
    for i in range(2):
        unary, transition, start, end = (part[i] for part in crfs)
        scores = (start[sequences[:, 0]] + end[sequences[:, -1]]
                  + unary[np.arange(LENGTH), sequences].sum(1)
                  + transition[sequences[:, :-1], sequences[:, 1:]].sum(1)).astype(np.float64)
        probs = np.exp(scores - scipy.special.logsumexp(scores))
        expected_node = np.zeros((LENGTH, NUM_TAGS))
        expected_edge = np.zeros((LENGTH - 1, NUM_TAGS, NUM_TAGS))
        for t in range(LENGTH):
            np.add.at(expected_node[t], sequences[:, t], probs)
        for t in range(LENGTH - 1):
            np.add.at(expected_edge[t], (sequences[:, t], sequences[:, t + 1]), probs)
        np.testing.assert_allclose(node[i], expected_node, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(edge[i], expected_edge, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(edge[i].sum((1, 2)), 1.0, rtol=1e-5)
        # Empirical minus expected counts, written out from the enumerated marginals...
        observed = np.eye(NUM_TAGS)[tags[i]]
        pairs = np.einsum("ti,tj->ij", observed[:-1], observed[1:])
        expected_counts = (observed - expected_node, pairs - expected_edge.sum(0),
                           observed[0] - expected_node[0], observed[-1] - expected_node[-1])
        # ... equal the forward-backward counts and the autodiff gradient.
        for got, by_autodiff, want in zip(counts, auto, expected_counts):
            np.testing.assert_allclose(got[i], want, rtol=1e-4, atol=1e-5)
            np.testing.assert_allclose(by_autodiff[i], want, rtol=1e-4, atol=1e-5)


def test_one_position_has_no_edges():
    unary = np.array([[0.3, -1.0, 2.0]], np.float32)
    node, edge = structured.crf_marginals(unary, np.zeros((3, 3), np.float32))
    np.testing.assert_allclose(node[0], scipy.special.softmax(unary[0]), rtol=1e-6)
    assert edge.shape == (0, 3, 3)
