"""CRF tagging [P068]: the experiment's loss and gradient check against independent
computations, the HMM ceiling against enumeration of the HMM's joint, the data rules."""

import itertools
import os

import jax
import jax.numpy as jnp
import numpy as np
import scipy.special

from experiments.crf.experiment import CrfTagging
from likelihood_jax import structured
from likelihood_jax.data.synthetic import tagging
from likelihood_jax.data.synthetic.sources import random_hmm_source
from likelihood_jax.main import load_config
from tests.clitools import REPO

CONFIG = os.path.join(REPO, "experiments", "crf", "configs", "hmm.py")


def _experiment(length=4, structured_=True):
    config = load_config(f"{CONFIG}:runlocal")
    config.dataset.length, config.dataset.num_train, config.dataset.num_test = length, 8, 8
    config.model.structured = structured_
    experiment = CrfTagging(config)
    batch = {k: jnp.asarray(v) for k, v in experiment.dataset.train.items()}
    params = experiment.init_params(jax.random.key(0), batch)
    leaves, tree = jax.tree.flatten(params)
    keys = jax.random.split(jax.random.key(1), len(leaves))
    params = tree.unflatten([jax.random.normal(k, p.shape) for k, p in zip(keys, leaves)])
    return experiment, batch, params


def test_loss_is_penalized_nll_by_enumeration_and_softmax_baseline():
    experiment, batch, params = _experiment()
    p = params["params"]
    x, tags = np.asarray(batch["x"]), np.asarray(batch["tags"])
    tables, bias = np.asarray(p["tables"], np.float64), np.asarray(p["bias"], np.float64)
    padded = np.pad(x + 1, ((0, 0), (1, 1)))  # id 0 off the ends; offsets -1, 0, +1
    unary = bias + sum(tables[o][padded[:, o:o + 4]] for o in range(3))
    transition, start, end = (np.asarray(p[k], np.float64) for k in ("transition", "start",
                                                                     "end"))
    sequences = np.array(list(itertools.product(range(4), repeat=4)))

    def score(u, y):
        return (start[y[..., 0]] + end[y[..., -1]] + u[np.arange(4), y].sum(-1)
                + transition[y[..., :-1], y[..., 1:]].sum(-1))

    nll = np.array([scipy.special.logsumexp(score(u, sequences)) - score(u, y)
                    for u, y in zip(unary, tags)])
    penalty = sum(np.sum(np.asarray(v, np.float64) ** 2) for v in jax.tree.leaves(params)) / (
        2 * 10.0 * 8)
    loss, _ = jax.jit(experiment.loss_fn)(params, batch, jax.random.key(2), 0)
    np.testing.assert_allclose(loss, nll + penalty, rtol=1e-4)
    # The baseline: independent softmax per position, same unary scores.
    baseline, _, _ = _experiment(structured_=False)
    loss, _ = jax.jit(baseline.loss_fn)(params, batch, jax.random.key(2), 0)
    log_softmax = unary - scipy.special.logsumexp(unary, axis=-1, keepdims=True)
    expected = -np.take_along_axis(log_softmax, tags[..., None], -1).sum((1, 2))
    np.testing.assert_allclose(loss, expected + penalty, rtol=1e-4)


def test_autodiff_gradient_equals_empirical_minus_expected_feature_counts():
    experiment, batch, params = _experiment(length=16)
    metrics = experiment.model_metrics(params, jax.random.key(0))
    assert metrics["grad_max_abs"] > 1.0
    assert metrics["grad_check_max_abs_diff"] < 1e-9
    # The feature counts themselves, by a loop.
    weights = np.random.default_rng(0).normal(size=(16, 4))
    x = np.asarray(batch["x"][0])
    expected = np.zeros((3, 21, 4))
    for t in range(16):
        for o in (-1, 0, 1):
            token = x[t + o] + 1 if 0 <= t + o < 16 else 0
            expected[o + 1, token] += weights[t]
    np.testing.assert_allclose(
        structured.taggers.window_feature_counts(x, weights, 20, 1), expected, atol=1e-5)


def test_hmm_as_a_crf_gives_its_posterior_by_enumeration():
    hmm = random_hmm_source(0, 3, 5)
    x = np.array([4, 0, 2, 2, 1])
    log_initial, log_transition, log_emission = (np.asarray(a, np.float64) for a in (
        hmm.log_initial, hmm.log_transition, hmm.log_emission))
    states = np.array(list(itertools.product(range(3), repeat=5)))
    joint = (log_initial[states[:, 0]] + log_transition[states[:, :-1], states[:, 1:]].sum(1)
             + log_emission[states, x].sum(1))
    posterior = np.exp(joint - scipy.special.logsumexp(joint))
    unary = hmm.log_emission.T[x]
    node, _ = structured.crf_marginals(unary, hmm.log_transition, hmm.log_initial)
    expected = np.stack([np.bincount(states[:, t], posterior, 3) for t in range(5)])
    np.testing.assert_allclose(node, expected, rtol=1e-4, atol=1e-6)
    tags, _ = structured.crf_viterbi(unary, hmm.log_transition, hmm.log_initial)
    np.testing.assert_array_equal(tags, states[np.argmax(joint)])


def test_hmm_tagging_draws_follow_the_hmm_and_word_tags_follow_the_rule():
    hmm = random_hmm_source(0, 3, 5)
    states, tokens = tagging.sample_hmm_with_states(hmm, jax.random.key(0), 4000, 6)
    pairs = np.zeros((3, 3))
    np.add.at(pairs, (states[:, :-1], states[:, 1:]), 1)
    np.testing.assert_allclose(pairs / pairs.sum(1, keepdims=True), np.exp(hmm.log_transition),
                               atol=0.03)
    emitted = np.zeros((3, 5))
    np.add.at(emitted, (states, tokens), 1)
    np.testing.assert_allclose(emitted / emitted.sum(1, keepdims=True),
                               np.exp(hmm.log_emission), atol=0.03)
    np.testing.assert_array_equal(tagging.word_tags("Hi there, O'Neil x"),
                                  [1, 2, 0, 3, 4, 4, 4, 4, 0, 0, 1, 0, 1, 2, 2, 2, 0, 3])
