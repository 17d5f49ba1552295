"""Regular-constrained CRFs [P126] against brute-force enumeration of all tag sequences."""

import itertools

import jax
import numpy as np
import pytest
import scipy.special

from likelihood_jax import structured
from likelihood_jax.structured import regular_crf

# "Exactly one tag 2, and tag 1 never directly after tag 0": Q = 4 (the last tag's class and
# whether a 2 was seen), a dead end (-1), and an unreachable state 3.
DFA_NEXT = np.array([[0, -1, 1],   # 0: no 2 yet, last tag 0 (or start)
                     [2, 1, -1],   # 1: one 2, last tag 2 or 1
                     [2, -1, -1],  # 2: one 2, last tag 0
                     [3, 3, 3]], np.int32)  # 3: unreachable
DFA_START_NEXT = np.array([[0, 1, 2], [0, 0, 2], [1, 1, 1], [3, 3, 3]], np.int32)  # start: 1
DFA_ACCEPT = np.array([False, True, True, True])


def in_language(tags):
    """The rule of :data:`DFA_NEXT`, written out."""
    no_10 = all(not (a == 0 and b == 1) for a, b in zip(tags[:-1], tags[1:]))
    return list(tags).count(2) == 1 and no_10 and tags[0] != 1


def _random_crfs(seed, length, num_crfs=2, num_tags=3):
    rng = np.random.default_rng(seed)
    unary = rng.normal(size=(num_crfs, length, num_tags)).astype(np.float32)
    transition = rng.normal(size=(num_crfs, num_tags, num_tags)).astype(np.float32)
    start, end = rng.normal(size=(2, num_crfs, num_tags)).astype(np.float32)
    return unary, transition, start, end


def _enumerate(unary, transition, start, end):
    length, num_tags = unary.shape
    sequences = np.array(list(itertools.product(range(num_tags), repeat=length)))
    scores = (start[sequences[:, 0]] + end[sequences[:, -1]]
              + unary[np.arange(length), sequences].sum(1)
              + transition[sequences[:, :-1], sequences[:, 1:]].sum(1)).astype(np.float64)
    return sequences, scores


def _analyse(unary, transition, start, end, sequences, dfa_next, dfa_accept, dfa_start):
    """Every function of one CRF (the DFA traced, so one compilation serves all DFAs)."""
    dfa = dict(dfa_next=dfa_next, dfa_accept=dfa_accept, dfa_start=dfa_start)
    kwargs = dict(dfa_start=dfa_start, start=start, end=end)

    def log_partition(u, tr):
        return structured.regular_crf_log_partition(u, tr, dfa_next, dfa_accept, **kwargs)

    tags, best = structured.regular_crf_viterbi(unary, transition, dfa_next, dfa_accept,
                                                **kwargs)
    log_p = jax.vmap(lambda y: structured.regular_crf_log_likelihood(
        y, unary, transition, dfa_next, dfa_accept, **kwargs))(sequences)
    node, d_transition = jax.grad(log_partition, argnums=(0, 1))(unary, transition)
    return {"log_z": log_partition(unary, transition), "tags": tags, "best": best,
            "log_p": log_p, "node": node, "d_transition": d_transition,
            "accepts": jax.vmap(lambda y: structured.dfa_accepts(y, **dfa))(sequences)}


#: Batched by vmap over CRFs, under jit: one compilation (all tests use length 5, K = 3, Q = 4).
ANALYSE = jax.jit(jax.vmap(_analyse, in_axes=(0, 0, 0, 0, None, None, None, None)))


def _check(crfs, out, member, index):
    """The outputs for CRF ``index`` against enumeration, given the language ``member``."""
    unary, transition, start, end = (part[index] for part in crfs)
    sequences, scores = _enumerate(unary, transition, start, end)
    out = {k: np.asarray(v[index]) for k, v in out.items()}
    np.testing.assert_array_equal(out["accepts"], member)
    log_z = scipy.special.logsumexp(scores[member])
    np.testing.assert_allclose(out["log_z"], log_z, rtol=1e-5, atol=1e-5)
    # p = 0 outside L; in L, score - log Z_L, summing to one.
    assert np.all(np.isneginf(out["log_p"][~member]))
    np.testing.assert_allclose(out["log_p"][member], scores[member] - log_z, rtol=1e-5,
                               atol=1e-5)
    np.testing.assert_allclose(np.exp(out["log_p"][member]).sum(), 1.0, rtol=1e-5)
    best = np.argmax(np.where(member, scores, -np.inf))
    np.testing.assert_array_equal(out["tags"], sequences[best])
    np.testing.assert_allclose(out["best"], scores[best], rtol=1e-5, atol=1e-5)
    # d log Z_L / d unary[t, k] = P(y_t = k | L), by enumeration.
    probs = np.where(member, np.exp(scores - log_z), 0.0)
    expected = np.stack([np.bincount(sequences[:, t], weights=probs, minlength=3)
                         for t in range(unary.shape[0])])
    np.testing.assert_allclose(out["node"], expected, rtol=1e-4, atol=1e-6)


def test_against_enumeration_batched_under_jit():
    crfs = _random_crfs(0, 5)
    sequences, _ = _enumerate(*(part[0] for part in crfs))
    out = ANALYSE(*crfs, sequences, DFA_NEXT, DFA_ACCEPT, 0)
    member = np.array([in_language(s) for s in sequences])
    assert 0 < member.sum() < len(member)
    for index in range(2):
        _check(crfs, out, member, index)


def test_start_state_and_an_all_rejecting_language():
    crfs = _random_crfs(3, 5)
    sequences, _ = _enumerate(*(part[0] for part in crfs))

    def run(tags, state):
        for tag in tags:
            state = DFA_START_NEXT[state, tag] if state >= 0 else -1
        return state >= 0 and bool(DFA_ACCEPT[state])

    member = np.array([run(s, 1) for s in sequences])
    assert 0 < member.sum() < len(member)
    out = ANALYSE(*crfs, sequences, DFA_START_NEXT, DFA_ACCEPT, 1)
    _check(crfs, out, member, 1)
    # No accepted sequence: log Z = -inf exactly, Viterbi score -inf, gradients zero (not NaN).
    out = ANALYSE(*crfs, sequences, DFA_NEXT, np.zeros(4, bool), 0)
    assert np.all(np.isneginf(out["log_z"])) and np.all(np.isneginf(out["best"]))
    np.testing.assert_array_equal(out["node"], 0.0)
    np.testing.assert_array_equal(out["d_transition"], 0.0)
    assert np.all(np.isneginf(out["log_p"]))


def _bio_rule(tags, num_types, counted_type, count):
    """Valid BIO (I-t only after B-t or I-t) with exactly ``count`` spans of one type."""
    previous = 0
    for tag in tags:
        if tag and tag % 2 == 0 and previous not in (tag - 1, tag):
            return False
        previous = tag
    return list(tags).count(1 + 2 * counted_type) == count


@pytest.mark.parametrize("num_types, counted_type, count", [(2, 0, 1), (1, 0, 2)])
def test_bio_span_count_dfa_matches_the_rule(num_types, counted_type, count):
    dfa_next, dfa_accept = regular_crf.bio_span_count_dfa(num_types, counted_type, count)
    sequences = np.array(list(itertools.product(range(1 + 2 * num_types), repeat=4)))
    accepts = jax.jit(jax.vmap(lambda y: structured.dfa_accepts(y, dfa_next, dfa_accept)))
    expected = [_bio_rule(s, num_types, counted_type, count) for s in sequences]
    assert any(expected)
    np.testing.assert_array_equal(accepts(sequences), expected)
