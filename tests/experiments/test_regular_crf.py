"""Regular-constrained CRF experiment [P126]: the one_span data lie in the language, the
reference scores give the generator's posterior, the constrained loss by enumeration."""

import collections
import functools
import itertools
import os

import jax
import jax.numpy as jnp
import numpy as np
import scipy.special

from experiments.regular_crf.experiment import RegularCrfTagging
from likelihood_jax import structured
from likelihood_jax.data import load_dataset
from likelihood_jax.data.synthetic import tagging
from likelihood_jax.main import load_config
from likelihood_jax.structured import regular_crf
from tests.clitools import REPO

CONFIG = os.path.join(REPO, "experiments", "regular_crf", "configs", "one_span.py")
DFA_NEXT, DFA_ACCEPT = regular_crf.bio_span_count_dfa(2, 0, 1)
ACCEPTS = jax.jit(jax.vmap(lambda y: structured.dfa_accepts(y, DFA_NEXT, DFA_ACCEPT)))


def test_one_span_data_lie_in_the_language_with_separated_spans():
    data = load_dataset("one_span", length=12, num_train=300, num_test=10)
    x, tags = data.train["x"], data.train["tags"]
    assert np.all(ACCEPTS(tags))
    np.testing.assert_array_equal(x == 0, tags == 0)  # token o exactly under O
    span = tags > 0
    begins = (tags == 1) | (tags == 3)
    # A span starts exactly where a span tag follows O or the start: never adjacent spans.
    np.testing.assert_array_equal(begins, span & ~np.pad(span, ((0, 0), (1, 0)))[:, :-1])


@functools.partial(jax.jit, static_argnums=(2, 3))
def POSTERIOR(x, tags, cue_prob, flip_prob):
    """``log p(y | x, L)`` of each row of ``tags`` under the reference scores of ``x``."""
    unary, transition = tagging.one_span_reference(x, cue_prob, flip_prob)
    return jax.vmap(lambda y: structured.regular_crf_log_likelihood(
        y, unary, transition, DFA_NEXT, DFA_ACCEPT))(tags)


def test_reference_scores_give_the_generators_posterior():
    """Empirical p(y | x) of many draws against the RegCCRF posterior of the reference."""
    cue_prob, flip_prob = 0.5, 0.2
    rng = np.random.default_rng(0)
    draws = [tagging._one_span_sequence(rng, 6, 2, 2, cue_prob, flip_prob)
             for _ in range(12000)]
    by_x = collections.defaultdict(collections.Counter)
    for x, y in draws:
        by_x[tuple(x)][tuple(y)] += 1
    # The most frequent inputs with two spans (whose types are uncertain).
    common = sorted((x for x in by_x if len(by_x[x]) > 1), key=lambda x: -sum(by_x[x].values()))
    checked = 0
    for x in common[:8]:
        counts = by_x[x]
        total = sum(counts.values())
        log_p = POSTERIOR(jnp.asarray(x), jnp.asarray(list(counts)), cue_prob, flip_prob)
        for (y, count), log_p_y in zip(counts.items(), np.asarray(log_p)):
            expected = float(np.exp(log_p_y))  # within 4 binomial standard errors
            np.testing.assert_allclose(count / total, expected,
                                       atol=4 * np.sqrt(expected * (1 - expected) / total))
            checked += 1
    assert checked >= 16


def test_constrained_loss_is_the_nll_restricted_to_the_language_by_enumeration():
    config = load_config(f"{CONFIG}:runlocal")
    config.dataset.length, config.dataset.num_train, config.dataset.num_test = 5, 4, 4
    config.dataset.max_span_length = 2
    experiment = RegularCrfTagging(config)
    batch = {k: jnp.asarray(v) for k, v in experiment.dataset.train.items()}
    params = experiment.init_params(jax.random.key(0), batch)
    leaves, tree = jax.tree.flatten(params)
    keys = jax.random.split(jax.random.key(1), len(leaves))
    params = tree.unflatten([jax.random.normal(k, p.shape) for k, p in zip(keys, leaves)])
    p = {k: np.asarray(v, np.float64) for k, v in params["params"].items()}
    sequences = np.array(list(itertools.product(range(5), repeat=5)))
    member = np.asarray(ACCEPTS(sequences))
    penalty = sum(np.sum(v ** 2) for v in p.values()) / (2 * 10.0 * 4)
    loss, _ = jax.jit(experiment.loss_fn)(params, batch, jax.random.key(2), 0)
    for i, (x, y) in enumerate(zip(np.asarray(batch["x"]), np.asarray(batch["tags"]))):
        unary = p["bias"] + p["tables"][0][x + 1]  # window 0
        scores = (p["start"][sequences[:, 0]] + p["end"][sequences[:, -1]]
                  + unary[np.arange(5), sequences].sum(1)
                  + p["transition"][sequences[:, :-1], sequences[:, 1:]].sum(1))
        index = np.flatnonzero((sequences == y).all(1))[0]
        nll = scipy.special.logsumexp(scores[member]) - scores[index]
        np.testing.assert_allclose(loss[i], nll + penalty, rtol=1e-4)
