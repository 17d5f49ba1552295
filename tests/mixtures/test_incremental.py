"""The incremental GMM [P138, P211] against an independent numpy IGMN on covariances."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from likelihood_jax.mixtures import gmm, incremental

HYPER = {"threshold": 4.0, "min_count": 2.5, "min_age": 6.0}


def numpy_igmn(xs, capacity, variance, threshold, min_count, min_age, recursion="igmn"):
    """The IGMN on covariances with numpy (inv/slogdet per point); the state after each point.

    Written from the papers' algorithm, independently of the module: create at the first free
    slot when no active component is within ``threshold``, posterior with priors ``sp``, the
    covariance recursion, removal.
    """
    dim = xs.shape[1]
    means = np.zeros((capacity, dim))
    covs = np.stack([np.eye(dim)] * capacity)
    sp, v = np.zeros(capacity), np.zeros(capacity)
    active = np.zeros(capacity, bool)
    history = []
    for x in xs:
        d2 = np.array([(x - m) @ np.linalg.solve(c, x - m) for m, c in zip(means, covs)])
        if not np.any(active & (d2 < threshold)) and not active.all():
            k = int(np.flatnonzero(~active)[0])
            means[k], covs[k], sp[k], v[k], active[k] = x, np.diag(variance), 1.0, 1.0, True
        dens = np.array([stats.multivariate_normal(m, c).pdf(x) for m, c in zip(means, covs)])
        post = np.where(active, dens * sp, 0.0)
        post /= post.sum()
        for k in np.flatnonzero(active):
            v[k] += 1
            sp[k] += post[k]
            w = post[k] / sp[k]
            e_old = x - means[k]
            dmu = w * e_old
            means[k] = means[k] + dmu
            e = x - means[k]
            if recursion == "igmn":
                covs[k] = (1 - w) * covs[k] + w * np.outer(e, e) - np.outer(dmu, dmu)
            else:  # the exact weighted covariance
                covs[k] = (1 - w) * covs[k] + w * (1 - w) * np.outer(e_old, e_old)
        active &= ~((v > min_age) & (sp < min_count))
        history.append((means.copy(), covs.copy(), sp.copy(), active.copy()))
    return history


def _stream(seed=0, n=36, dim=3):
    rng = np.random.default_rng(seed)
    centers = np.array([[0.0] * dim, [6.0] * dim, [-6.0] + [0.0] * (dim - 1)])
    labels = rng.integers(0, 3, n)
    return centers[labels] + 0.7 * rng.normal(size=(n, dim)), labels


@pytest.mark.parametrize("method, recursion", [("rank_one", "igmn"), ("rank_one", "exact"),
                                               ("refactorize", "igmn")])
def test_maintained_precision_and_log_det_equal_inverse_and_slogdet_after_every_point(
        method, recursion):
    xs, _ = _stream()
    variance = np.full(3, 1.5)
    reference = numpy_igmn(xs, 4, variance, recursion=recursion, **HYPER)
    assert any(not h[3].all() and h[3].sum() < max(g[3].sum() for g in reference)
               for h in reference), "the stream should exercise a removal"
    with jax.enable_x64(True):
        step = jax.jit(lambda s, x: incremental.incremental_gmm_update(
            s, x, jnp.asarray(variance), method=method, recursion=recursion, **HYPER))
        state = incremental.incremental_gmm_init(4, 3, dtype=jnp.float64, method=method)
        for x, (means, covs, sp, active) in zip(xs, reference):
            state = step(state, jnp.asarray(x))
            np.testing.assert_array_equal(np.asarray(state.active), active)
            a = active
            np.testing.assert_allclose(np.asarray(state.means)[a], means[a], atol=1e-10)
            np.testing.assert_allclose(np.asarray(state.counts)[a], sp[a], atol=1e-10)
            np.testing.assert_allclose(np.asarray(state.precisions)[a], np.linalg.inv(covs[a]),
                                       rtol=1e-8, atol=1e-8)
            np.testing.assert_allclose(np.asarray(state.log_dets)[a],
                                       np.linalg.slogdet(covs[a])[1], atol=1e-8)


def test_scan_fit_with_mask_equals_the_filtered_stream_and_log_prob_matches_gmm():
    xs, _ = _stream(seed=1)
    keep = np.arange(len(xs)) % 3 != 1
    variance = jnp.full(3, 1.5)
    with jax.enable_x64(True):
        init = incremental.incremental_gmm_init(4, 3, dtype=jnp.float64)
        xs64 = jnp.asarray(xs)
        masked = incremental.incremental_gmm_fit(init, xs64, variance, mask=keep, **HYPER)
        filtered = incremental.incremental_gmm_fit(init, xs64[keep], variance, **HYPER)
        for a, b in zip(masked[:6], filtered[:6]):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-12)
        weights, means, covs = incremental.incremental_gmm_mixture(filtered)
        ours = jnp.mean(jax.vmap(incremental.incremental_gmm_log_prob, (None, 0))(filtered,
                                                                               xs64))
        np.testing.assert_allclose(ours, gmm.gmm_log_likelihood(xs64, weights, means, covs),
                                   rtol=1e-10)


def test_class_conditional_fit_equals_per_class_fits_and_classifies_separated_classes():
    xs, labels = _stream(seed=2, n=45)
    labels = (labels > 0).astype(np.int32)  # class 1 holds two clusters
    variance = np.full(3, 1.5, np.float32)
    states = incremental.class_conditional_fit(xs.astype(np.float32), labels, 2, 4, variance,
                                               **HYPER)
    alone = incremental.incremental_gmm_fit(
        incremental.incremental_gmm_init(4, 3), jnp.asarray(xs[labels == 1], jnp.float32),
        jnp.asarray(variance), **HYPER)
    np.testing.assert_array_equal(np.asarray(states.active[1]), np.asarray(alone.active))
    np.testing.assert_allclose(np.asarray(states.means[1]), np.asarray(alone.means), atol=1e-5)
    assert int(states.active[1].sum()) >= 2  # two clusters, at least one component each
    scores = jax.vmap(incremental.class_conditional_log_probs, (None, 0))(states,
                                                                          jnp.asarray(xs))
    assert np.array_equal(np.argmax(np.asarray(scores), 1), labels)


def test_novelty_threshold_is_the_chi2_quantile():
    assert incremental.novelty_threshold(5, 0.1) == pytest.approx(9.236357, rel=1e-6)
    with pytest.raises(ValueError, match="novelty_threshold: tau must be"):
        incremental.novelty_threshold(5, 1.5)
