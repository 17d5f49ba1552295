"""Probability-based objectives, loss smoothing and EMO: neutral settings are plain
cross-entropy, gradients match finite differences, and each matches an independent value."""

import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads
from scipy.optimize import linprog

from likelihood_jax.sequence import objectives as seq

V, T = 6, 5


def problem(seed=0, dtype=jnp.float32):
    k1, k2, k3 = jax.random.split(jax.random.key(seed), 3)
    logits = 2.0 * jax.random.normal(k1, (2, T, V), dtype)
    targets = jax.random.randint(k2, (2, T), 0, V)
    embeddings = jax.random.normal(k3, (V, 4), dtype)
    mask = jnp.array([[1, 1, 1, 0, 1], [1, 0, 1, 1, 1]], dtype)
    return logits, targets, embeddings, mask


def test_neutral_settings_are_cross_entropy():
    logits, targets, embeddings, mask = problem()
    ce = seq.token_cross_entropy(logits, targets, mask)
    same = [
        seq.probability_objective(logits, targets, mask, alpha=0.0),
        seq.thresholded_probability_objective(logits, targets, mask, alpha=0.0, threshold=0.0),
        seq.token_smoothing(logits, targets, embeddings, mask, temperature=0.3, weight=0.0),
        seq.token_smoothing(logits, targets, embeddings, mask, temperature=0.0, weight=0.7),
        seq.emo(logits, targets, embeddings, mask, weight=0.0),
    ]
    for value in same:
        np.testing.assert_allclose(value, ce, rtol=1e-6, atol=1e-6)
    # The family is continuous in alpha at 0, and alpha = 1 is 1 - p.
    near = seq.probability_objective(logits, targets, mask, alpha=1e-4)
    np.testing.assert_allclose(near, ce, rtol=2e-3, atol=2e-3)
    p = jnp.exp(-seq.token_cross_entropy(logits, targets))
    np.testing.assert_allclose(seq.probability_objective(logits, targets, alpha=1.0), 1 - p,
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(seq.probability_objective(logits, targets, alpha=10.0),
                               (1 - p ** 10) / 10, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["prob", "prob10", "thresholded", "smoothing", "emo_bound"])
def test_gradients_match_finite_differences(name):
    with jax.enable_x64(True):
        logits, targets, embeddings, mask = problem(1, jnp.float64)
        p = jnp.exp(-seq.token_cross_entropy(logits, targets))
        threshold = float(jnp.median(p))
        assert float(jnp.min(jnp.abs(p - threshold))) >= 0.0
        fns = {
            "prob": lambda lg: seq.probability_objective(lg, targets, mask, alpha=1.0),
            "prob10": lambda lg: seq.probability_objective(lg, targets, mask, alpha=10.0),
            "thresholded": lambda lg: seq.thresholded_probability_objective(
                lg, targets, mask, alpha=1.0, threshold=threshold + 1e-3),
            "smoothing": lambda lg: seq.token_smoothing(lg, targets, embeddings, mask,
                                                        temperature=0.5, weight=0.6),
            "emo_bound": lambda lg: seq.earth_mover_bound(lg, targets, embeddings, mask),
        }
        f = fns[name]
        check_grads(lambda lg: jnp.sum(f(lg)), (logits,), order=1, modes=["rev"], eps=1e-5)


def test_probability_objective_gradient_is_reweighted_nll():
    """grad f_alpha = p^alpha grad(-log p), token by token."""
    logits, targets, _, _ = problem(2)
    for alpha in (1.0, 3.0):
        g = jax.grad(lambda lg: jnp.sum(seq.probability_objective(lg, targets, alpha=alpha)))(
            logits)
        g_nll = jax.grad(lambda lg: jnp.sum(seq.token_cross_entropy(lg, targets)))(logits)
        p = jnp.exp(-seq.token_cross_entropy(logits, targets))
        np.testing.assert_allclose(g, p[..., None] ** alpha * g_nll, rtol=1e-4, atol=1e-6)


def test_thresholded_objective_selects_tokens():
    logits, targets, _, _ = problem(3)
    p = np.asarray(jnp.exp(-seq.token_cross_entropy(logits, targets)))
    threshold = float(np.median(p))
    above = seq.thresholded_probability_objective(logits, targets, alpha=0.0,
                                                  threshold=threshold)
    below = seq.thresholded_probability_objective(logits, targets, alpha=0.0,
                                                  threshold=threshold, keep="below")
    nll = -np.log(p)
    np.testing.assert_allclose(above, np.where(p >= threshold, nll, 0.0), rtol=1e-5)
    np.testing.assert_allclose(below, np.where(p <= threshold, nll, 0.0), rtol=1e-5)
    with pytest.raises(ValueError, match="keep"):
        seq.thresholded_probability_objective(logits, targets, keep="middle")


def test_similarity_targets_limits():
    targets = jnp.array([0, 2, 5])
    equal = jnp.ones((V, 3))  # every pair equally similar: uniform (label smoothing's limit)
    np.testing.assert_allclose(seq.embedding_similarity_targets(targets, equal, 0.7),
                               np.full((3, V), 1 / V), rtol=1e-6)
    _, _, embeddings, _ = problem()
    sharp = seq.embedding_similarity_targets(targets, embeddings, 1e-3)
    np.testing.assert_allclose(sharp, jax.nn.one_hot(targets, V), atol=1e-6)
    soft = seq.embedding_similarity_targets(targets, embeddings, 0.5)
    np.testing.assert_allclose(jnp.sum(soft, -1), 1.0, rtol=1e-6)
    unit = embeddings / jnp.linalg.norm(embeddings, axis=-1, keepdims=True)
    expected = jax.nn.softmax(unit[targets] @ unit.T / 0.5, -1)
    np.testing.assert_allclose(soft, expected, rtol=1e-5)
    with pytest.raises(ValueError, match="embeddings"):
        seq.token_smoothing(jnp.zeros((T, V)), jnp.zeros(T, int), jnp.zeros((V + 1, 3)))


def test_hamming_sampler_matches_the_exact_distribution():
    vocab, length, tau = 3, 3, 0.8
    reference = np.array([0, 1, 2])
    seqs = np.array(list(itertools.product(range(vocab), repeat=length)))
    distance = (seqs != reference).sum(1)
    exact = np.exp(-distance / tau)
    exact /= exact.sum()
    # The distance marginal, in closed form, against the enumeration.
    marginal = np.bincount(distance, weights=exact, minlength=length + 1)
    np.testing.assert_allclose(seq.hamming_edit_distance_distribution(length, vocab, tau),
                               marginal, rtol=1e-10)
    n = 60000
    samples = seq.sample_hamming_targets(jax.random.key(0),
                                         jnp.broadcast_to(jnp.asarray(reference), (n, length)),
                                         vocab, tau)
    codes = np.asarray(samples) @ (vocab ** np.arange(length)[::-1])
    freq = np.bincount(codes, minlength=vocab ** length) / n
    stderr = np.sqrt(exact * (1 - exact) / n)
    assert np.all(np.abs(freq - exact) < 5 * stderr + 1e-4)


def exact_emd(q, p, cost):
    """The earth mover's distance by linear programming over couplings."""
    v = len(q)
    a_eq = np.zeros((2 * v, v * v))
    for i in range(v):
        a_eq[i, i * v:(i + 1) * v] = 1.0  # row sums = q
        a_eq[v + i, i::v] = 1.0  # column sums = p
    res = linprog(cost.reshape(-1), A_eq=a_eq, b_eq=np.concatenate([q, p]), bounds=(0, None))
    return res.fun


def test_earth_mover_bound_against_linear_programming():
    _, _, embeddings, _ = problem(4)
    cost = np.asarray(seq.cosine_cost(embeddings), np.float64)
    rng = np.random.default_rng(0)
    for _ in range(5):
        q, p = rng.dirichlet(np.ones(V)), rng.dirichlet(np.ones(V))
        bound = float(seq.transport_cost_bound(jnp.asarray(q), jnp.asarray(p), jnp.asarray(cost)))
        assert bound >= exact_emd(q, p, cost) - 1e-6
    logits = jnp.asarray(rng.normal(size=(V,)), jnp.float32)
    q = np.asarray(jax.nn.softmax(logits), np.float64)
    for y in range(V):
        one_hot = np.eye(V)[y]
        per_token = seq.earth_mover_bound(logits[None], jnp.array([y]), embeddings)[0]
        np.testing.assert_allclose(per_token, exact_emd(q, one_hot, cost), rtol=1e-4, atol=1e-5)
    # A 0/1 cost (orthonormal embeddings) gives 1 - q(y).
    identity = jnp.eye(V)
    np.testing.assert_allclose(
        seq.earth_mover_bound(logits[None].repeat(V, 0), jnp.arange(V), identity), 1 - q,
        rtol=1e-5, atol=1e-6)


def test_emo_gradient_is_that_of_the_mixture_with_its_scale_frozen():
    """EMO's scale is under stop-gradient: its gradient is that of NLL + c * bound, c fixed,
    whose own gradient is checked against finite differences."""
    with jax.enable_x64(True):
        logits, targets, embeddings, mask = problem(6, jnp.float64)
        nll = seq.token_cross_entropy(logits, targets)
        bound = seq.earth_mover_bound(logits, targets, embeddings)
        c = jnp.minimum(nll / bound, 3.0)

        def frozen(lg):
            return jnp.sum((seq.token_cross_entropy(lg, targets, mask)
                            + c * seq.earth_mover_bound(lg, targets, embeddings, mask)) / 2)

        g = jax.grad(lambda lg: jnp.sum(seq.emo(lg, targets, embeddings, mask)))(logits)
        np.testing.assert_allclose(g, jax.grad(frozen)(logits), rtol=1e-7, atol=1e-10)
        check_grads(frozen, (logits,), order=1, modes=["rev"], eps=1e-5)


def test_emo_weighting_follows_the_reference_composition():
    logits, targets, embeddings, _ = problem(5)
    nll = seq.token_cross_entropy(logits, targets)
    bound = seq.earth_mover_bound(logits, targets, embeddings)
    expected = 0.5 * (nll + np.minimum(nll / bound, 3.0) * bound)
    np.testing.assert_allclose(seq.emo(logits, targets, embeddings), expected, rtol=1e-5)
    assert math.isfinite(float(jnp.sum(seq.emo(logits, targets, embeddings))))
