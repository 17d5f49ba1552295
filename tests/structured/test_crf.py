"""Linear-chain CRF inference against brute-force enumeration of all tag sequences."""

import itertools

import chex
import hypothesis
import hypothesis.strategies as st
import jax
import numpy as np
import scipy.special
from absl.testing import parameterized

from likelihood_jax import structured


def _random_crf(seed, length, num_tags, with_boundaries):
    rng = np.random.default_rng(seed)
    unary = rng.normal(size=(length, num_tags)).astype(np.float32)
    transition = rng.normal(size=(num_tags, num_tags)).astype(np.float32)
    if not with_boundaries:
        return unary, transition, None, None
    start, end = rng.normal(size=(2, num_tags)).astype(np.float32)
    return unary, transition, start, end


def _brute_force_scores(unary, transition, start, end):
    """Score of every tag sequence, by direct summation (float64)."""
    length, num_tags = unary.shape
    start = np.zeros(num_tags) if start is None else start
    end = np.zeros(num_tags) if end is None else end
    sequences = list(itertools.product(range(num_tags), repeat=length))
    scores = []
    for tags in sequences:
        score = float(start[tags[0]]) + float(end[tags[-1]])
        score += sum(float(unary[t, tag]) for t, tag in enumerate(tags))
        score += sum(float(transition[a, b]) for a, b in zip(tags[:-1], tags[1:]))
        scores.append(score)
    return np.asarray(sequences), np.asarray(scores)


class CrfTest(chex.TestCase):

    @chex.variants(with_jit=True, without_jit=True)
    @parameterized.parameters(True, False)
    def test_matches_brute_force(self, with_boundaries):
        unary, transition, start, end = _random_crf(0, 4, 3, with_boundaries)
        sequences, scores = _brute_force_scores(unary, transition, start, end)
        log_z = scipy.special.logsumexp(scores)

        np.testing.assert_allclose(
            self.variant(structured.crf_log_partition)(unary, transition, start, end), log_z,
            rtol=1e-5, atol=1e-5)
        log_likelihood = self.variant(jax.vmap(structured.crf_log_likelihood,
                                               in_axes=(0, None, None, None, None)))
        np.testing.assert_allclose(
            log_likelihood(sequences, unary, transition, start, end), scores - log_z,
            rtol=1e-5, atol=1e-5)
        tags, best = self.variant(structured.crf_viterbi)(unary, transition, start, end)
        chex.assert_shape(tags, (4,))
        np.testing.assert_array_equal(tags, sequences[np.argmax(scores)])
        np.testing.assert_allclose(best, scores.max(), rtol=1e-5, atol=1e-5)

    def test_probabilities_sum_to_one_and_gradients_are_marginals(self):
        unary, transition, start, end = _random_crf(1, 3, 3, True)
        sequences, scores = _brute_force_scores(unary, transition, start, end)
        # d log Z / d unary[t, k] = P(y_t = k): compare with enumeration.
        marginals = jax.grad(structured.crf_log_partition)(unary, transition, start, end)
        probs = np.exp(scores - scipy.special.logsumexp(scores))
        expected = np.stack([np.bincount(sequences[:, t], weights=probs, minlength=3)
                             for t in range(3)])
        np.testing.assert_allclose(marginals, expected, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(marginals.sum(axis=1), 1.0, rtol=1e-5)

    def test_batched_by_vmap(self):
        batch = [_random_crf(seed, 5, 4, True) for seed in range(3)]
        unary, transition, start, end = (np.stack(parts) for parts in zip(*batch))
        log_z = jax.vmap(structured.crf_log_partition)(unary, transition, start, end)
        tags, best = jax.vmap(structured.crf_viterbi)(unary, transition, start, end)
        chex.assert_shape(tags, (3, 5))
        for i, crf in enumerate(batch):
            sequences, scores = _brute_force_scores(*crf)
            np.testing.assert_allclose(log_z[i], scipy.special.logsumexp(scores), rtol=1e-5,
                                       atol=1e-5)
            np.testing.assert_array_equal(tags[i], sequences[np.argmax(scores)])
            np.testing.assert_allclose(best[i], scores.max(), rtol=1e-5, atol=1e-5)


_jit_partition = jax.jit(structured.crf_log_partition)
_jit_viterbi = jax.jit(structured.crf_viterbi)
_jit_likelihood = jax.jit(structured.crf_log_likelihood)


@hypothesis.settings(max_examples=6, deadline=None, derandomize=True)
@hypothesis.given(length=st.integers(1, 4), num_tags=st.integers(1, 3),
                  with_boundaries=st.booleans(), seed=st.integers(0, 1000))
def test_any_shape_matches_brute_force(length, num_tags, with_boundaries, seed):
    crf = _random_crf(seed, length, num_tags, with_boundaries)
    sequences, scores = _brute_force_scores(*crf)
    best_index = np.argmax(scores)
    np.testing.assert_allclose(_jit_partition(*crf), scipy.special.logsumexp(scores), rtol=1e-5,
                               atol=1e-5)
    tags, best = _jit_viterbi(*crf)
    # The returned path scores the maximum (robust to float32 near-ties between paths).
    path_index = int(np.flatnonzero((sequences == np.asarray(tags)).all(axis=1))[0])
    np.testing.assert_allclose(scores[path_index], scores[best_index], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(best, scores[best_index], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(
        _jit_likelihood(sequences[best_index], *crf),
        scores[best_index] - scipy.special.logsumexp(scores), rtol=1e-5, atol=1e-5)
