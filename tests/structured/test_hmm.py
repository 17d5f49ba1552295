"""Gaussian HMMs [P209] against brute-force enumeration over all K^T state paths, EM's
monotone log-likelihood and parameter recovery on data drawn from a known HMM."""

from __future__ import annotations

import itertools

import jax
import numpy as np
import pytest
from scipy.stats import multivariate_normal

from likelihood_jax.structured import hmm


def _random_hmm(rng, num_states=3, dim=2):
    initial = rng.dirichlet(np.ones(num_states))
    transition = rng.dirichlet(np.ones(num_states), size=num_states)
    means = rng.normal(size=(num_states, dim))
    factors = 0.3 * rng.normal(size=(num_states, dim, dim))
    covariances = factors @ factors.transpose(0, 2, 1) + 0.5 * np.eye(dim)
    return initial, transition, means, covariances


def _enumerate(x, initial, transition, means, covariances):
    """p(x, z) for every path z, by scipy densities and products (float64)."""
    num_steps, num_states = len(x), len(initial)
    emission = np.array([[multivariate_normal(means[k], covariances[k]).pdf(x[t])
                          for k in range(num_states)] for t in range(num_steps)])
    paths = np.array(list(itertools.product(range(num_states), repeat=num_steps)))
    joint = initial[paths[:, 0]] * emission[0, paths[:, 0]]
    for t in range(1, num_steps):
        joint = joint * transition[paths[:, t - 1], paths[:, t]] * emission[t, paths[:, t]]
    return paths, joint


def test_forward_backward_and_viterbi_equal_enumeration_over_all_paths():
    rng = np.random.default_rng(0)
    params = _random_hmm(rng)
    x = rng.normal(size=(6, 2))
    paths, joint = _enumerate(x, *params)  # 3^6 = 729 paths
    evidence = joint.sum()
    marginals = np.stack([np.bincount(paths[:, t], weights=joint, minlength=3)
                          for t in range(6)]) / evidence
    pairs = np.zeros((3, 3))
    for t in range(5):
        np.add.at(pairs, (paths[:, t], paths[:, t + 1]), joint / evidence)
    # A padded copy (3 garbage steps) changes nothing.
    padded = np.concatenate([x, np.full((3, 2), 1e3)])
    mask = np.arange(9) < 6

    @jax.jit
    def inference(x, padded, mask, params):
        return (hmm.hmm_log_likelihood(x, *params), hmm.hmm_posteriors(x, *params),
                hmm.hmm_viterbi(x, *params), hmm.hmm_posteriors(padded, *params, mask))

    with jax.enable_x64(True):
        log_likelihood, posteriors, (states, score), padded_posteriors = inference(
            x, padded, mask, params)
    np.testing.assert_allclose(log_likelihood, np.log(evidence), rtol=1e-12)
    np.testing.assert_allclose(posteriors.state_probs, marginals, atol=1e-12)
    np.testing.assert_allclose(posteriors.transition_counts, pairs, atol=1e-12)
    np.testing.assert_array_equal(states, paths[np.argmax(joint)])
    np.testing.assert_allclose(score, np.log(joint.max()), rtol=1e-12)
    np.testing.assert_allclose(padded_posteriors.log_likelihood, np.log(evidence), rtol=1e-12)
    np.testing.assert_allclose(padded_posteriors.state_probs[:6], marginals, atol=1e-12)
    np.testing.assert_array_equal(padded_posteriors.state_probs[6:], 0.0)
    np.testing.assert_allclose(padded_posteriors.transition_counts, pairs, atol=1e-12)


def _sample_numpy(rng, num_steps, initial, transition, means, covariances):
    states = [rng.choice(len(initial), p=initial)]
    for _ in range(num_steps - 1):
        states.append(rng.choice(len(initial), p=transition[states[-1]]))
    states = np.array(states)
    noise = rng.normal(size=(num_steps, means.shape[1]))
    return states, means[states] + np.einsum("tij,tj->ti", np.linalg.cholesky(covariances)
                                             [states], noise)


TRUE_INITIAL = np.array([0.6, 0.3, 0.1])
TRUE_TRANSITION = np.array([[0.9, 0.05, 0.05], [0.1, 0.8, 0.1], [0.05, 0.15, 0.8]])
TRUE_MEANS = np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 3.0]])
TRUE_COVARIANCES = np.stack([0.5 * np.eye(2), np.array([[0.6, 0.2], [0.2, 0.4]]),
                             0.3 * np.eye(2)])


def test_em_never_decreases_the_likelihood_and_recovers_the_true_hmm():
    rng = np.random.default_rng(1)
    lengths = rng.integers(30, 61, size=16)  # sequences of different lengths, padded
    xs = np.zeros((16, 60, 2))
    for n, length in enumerate(lengths):
        xs[n, :length] = _sample_numpy(rng, length, TRUE_INITIAL, TRUE_TRANSITION,
                                       TRUE_MEANS, TRUE_COVARIANCES)[1]
    masks = np.arange(60)[None] < lengths[:, None]
    start = hmm.HMMParams(np.full(3, 1 / 3), np.full((3, 3), 1 / 3),
                          TRUE_MEANS + rng.normal(scale=0.8, size=(3, 2)),
                          np.broadcast_to(2.0 * np.eye(2), (3, 2, 2)))

    @jax.jit
    def fit(xs, masks):
        params, log_likelihoods = hmm.hmm_fit(xs, *start, masks, num_iters=40)
        step, before = hmm.hmm_em_step(xs, *params, masks, covariance_type="diag")
        per_sequence = jax.vmap(hmm.hmm_log_likelihood,
                                in_axes=(0, None, None, None, None, 0))(xs, *params, masks)
        return params, log_likelihoods, step, before, per_sequence

    params, log_likelihoods, step, before, per_sequence = fit(xs, masks)
    log_likelihoods = np.asarray(log_likelihoods, np.float64)
    # Monotone up to float32 rounding of a sum of ~700 terms.
    assert np.all(np.diff(log_likelihoods) >= -1e-5 * np.abs(log_likelihoods[1:]))
    assert log_likelihoods[-1] > log_likelihoods[0] + 100
    order = np.argmin(((np.asarray(params.means)[:, None] - TRUE_MEANS[None]) ** 2).sum(-1),
                      axis=0)  # the fitted state nearest each true state
    assert sorted(order) == [0, 1, 2]
    np.testing.assert_allclose(np.asarray(params.means)[order], TRUE_MEANS, atol=0.15)
    np.testing.assert_allclose(np.asarray(params.transition)[np.ix_(order, order)],
                               TRUE_TRANSITION, atol=0.08)
    np.testing.assert_allclose(np.asarray(params.covariances)[order], TRUE_COVARIANCES,
                               atol=0.15)
    # One more step reports the total evidence of the parameters it started from.
    np.testing.assert_allclose(before, np.sum(per_sequence), rtol=1e-6)
    covariances = np.asarray(step.covariances)
    np.testing.assert_array_equal(covariances[:, 0, 1], 0.0)  # "diag" keeps the diagonal
    np.testing.assert_allclose(np.asarray(step.transition).sum(1), 1.0, rtol=1e-6)


def test_parameter_counts_and_bic():
    # K = 3, D = 2: 2 initial + 6 transition + 6 means + 9 (full) or 6 (diag) covariances.
    assert hmm.hmm_num_parameters(3, 2, "full") == 23
    assert hmm.hmm_num_parameters(3, 2, "diag") == 20
    assert hmm.hmm_bic(-10.0, 100, 3, 2, "diag") == pytest.approx(20.0 + 20 * np.log(100))
