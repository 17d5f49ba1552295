"""IMLE and RS-IMLE selection [P079], and Social-Implicit's AMD/AMV [P015], against brute force,
numpy and closed forms."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from likelihood_jax.energy import imle


def _brute_force_selection(d, eps):
    """Numpy loops: the nearest kept sample per row (kept: at least eps from every row)."""
    n, m = d.shape
    keep = [all(d[i, j] >= eps for i in range(n)) for j in range(m)]
    index, valid = [], []
    for i in range(n):
        best = None
        for j in range(m):
            if keep[j] and (best is None or d[i, j] < d[i, best]):
                best = j
        valid.append(best is not None)
        index.append(best if best is not None else int(np.argmin(d[i])))
    return np.array(keep), np.array(index), np.array(valid)


def test_masked_argmin_equals_brute_force():
    rng = np.random.default_rng(0)
    x, samples = rng.normal(size=(6, 3)), rng.normal(size=(40, 3))
    d = np.asarray(imle.pairwise_distances(x, samples, "euclidean"))
    np.testing.assert_allclose(d, np.linalg.norm(x[:, None] - samples[None], axis=-1),
                               rtol=1e-5)
    select = jax.jit(lambda d, eps: (imle.rejection_mask(d, eps),
                                     imle.masked_nearest(d, imle.rejection_mask(d, eps))))
    for eps in (0.0, 0.8, 1.5, 50.0):  # 50: everything rejected
        keep, index, valid = _brute_force_selection(d, eps)
        got_keep, got = select(d, eps)
        np.testing.assert_array_equal(got_keep, keep)
        np.testing.assert_array_equal(got.index, index)
        np.testing.assert_array_equal(got.valid, valid)
        np.testing.assert_allclose(got.distance, d[np.arange(6), index], rtol=1e-6)
    assert not np.any(valid)  # eps = 50 rejected every sample
    # A per-row mask [N, M] also works (a row with nothing kept is invalid).
    mask = rng.random((6, 40)) < 0.1
    mask[2] = False
    got = imle.masked_nearest(d, mask)
    for i in range(6):
        if mask[i].any():
            assert got.valid[i] and got.index[i] == np.flatnonzero(mask[i])[
                np.argmin(d[i, mask[i]])]
    assert not got.valid[2]


def test_only_the_selected_sample_receives_gradient_and_rejected_points_lose_nothing():
    x = jnp.array([[0.0, 0.0], [5.0, 5.0]])
    samples = jnp.array([[0.1, 0.0], [3.0, 3.0], [4.0, 5.0], [9.0, 9.0]])

    loss_fn = jax.jit(imle.imle_loss, static_argnames=("metric", "eps"))

    def total(s, eps=None):
        return jnp.sum(loss_fn(x, s, eps=eps)[0])

    grad = jax.jit(jax.grad(total))(samples)
    # Point 0 selects sample 0, point 1 selects sample 2: d/ds |x - s|^2 = 2 (s - x).
    expected = np.zeros((4, 2))
    expected[0] = 2 * (samples[0] - x[0])
    expected[2] = 2 * (samples[2] - x[1])
    np.testing.assert_allclose(grad, expected, atol=1e-6)
    # RS-IMLE with eps = 0.5 (squared units) rejects sample 0: point 0 moves to sample 1.
    loss, sel = loss_fn(x, samples, eps=0.5)
    np.testing.assert_array_equal(sel.index, [1, 2])
    np.testing.assert_allclose(loss, [18.0, 1.0], rtol=1e-6)
    # With every sample rejected the loss is zero and no gradient flows.
    loss, sel = loss_fn(x, samples, eps=100.0)
    assert not np.any(sel.valid) and np.all(loss == 0)
    assert np.all(jax.jit(jax.grad(lambda s: total(s, 100.0)))(samples) == 0)


def test_nearest_sample_loss_is_mean_l1_of_nearest_and_euclidean_grad_is_finite():
    target = jnp.zeros((3, 2))
    samples = jnp.stack([jnp.full((3, 2), 2.0), jnp.full((3, 2), -0.5), jnp.ones((3, 2))])
    loss, index = jax.jit(imle.nearest_sample_loss)(samples, target)
    assert int(index) == 1 and float(loss) == pytest.approx(0.5)
    # Euclidean distance of a sample sitting on its data point: gradient 0, not NaN.
    g = jax.jit(jax.grad(lambda s: jnp.sum(imle.imle_loss(target[None], s,
                                                          metric="euclidean")[0])))(
        jnp.zeros((2, 3, 2)))
    assert np.all(np.isfinite(g))


def test_amd_on_gaussian_samples_matches_hotelling_mean():
    """E[(y - m)^T S_ML^{-1} (y - m)] = d (K + 1) / (K - d - 2) for i.i.d. Gaussian y, samples;
    for large K the mean distance tends to the chi mean sqrt(2) Gamma((d+1)/2) / Gamma(d/2)."""
    d, k, reps = 2, 20, 8000
    chol = np.array([[1.5, 0.0], [0.7, 0.4]])
    mean = np.array([1.0, -2.0])
    rng = np.random.default_rng(1)
    draws = mean + rng.normal(size=(reps, k + 1, d)) @ chol.T
    with jax.enable_x64(True):
        dist = jax.jit(jax.vmap(lambda s: imle.mahalanobis_distance(s[1:], s[0], reg=0.0)))(
            jnp.asarray(draws))
        squared = np.asarray(dist) ** 2
    exact = d * (k + 1) / (k - d - 2)
    se = squared.std() / math.sqrt(reps)
    assert abs(squared.mean() - exact) < 4 * se, (squared.mean(), exact, se)
    # AMD over T steps of many samples: the mean of chi_2 draws, sqrt(pi / 2).
    steps = mean + rng.normal(size=(2000, 50, d)) @ chol.T
    target = mean + rng.normal(size=(50, d)) @ chol.T
    amd = float(imle.average_mahalanobis_distance(jnp.asarray(steps, jnp.float32),
                                                  jnp.asarray(target, jnp.float32)))
    assert amd == pytest.approx(math.sqrt(math.pi / 2), abs=0.2)


def test_amv_and_displacements_match_numpy():
    rng = np.random.default_rng(2)
    samples = rng.normal(size=(30, 5, 2)) * np.array([2.0, 0.5]) + 0.3 * rng.normal(size=(5, 2))
    covs = np.asarray(imle.sample_covariances(jnp.asarray(samples), reg=0.0))
    for t in range(5):
        np.testing.assert_allclose(covs[t], np.cov(samples[:, t].T, bias=True), rtol=1e-4,
                                   atol=1e-6)
    amv = float(imle.average_max_eigenvalue(jnp.asarray(covs)))
    assert amv == pytest.approx(np.linalg.eigvalsh(covs.mean(0)).max(), rel=1e-5)
    # lambda_max is convex: the code's AMV never exceeds the mean of per-step maxima.
    assert amv <= np.mean([np.linalg.eigvalsh(c).max() for c in covs]) + 1e-6
    target = rng.normal(size=(5, 2))
    ade, fde = imle.best_of_k_displacement(jnp.asarray(samples), jnp.asarray(target))
    errors = np.linalg.norm(samples - target, axis=-1)
    assert float(ade) == pytest.approx(errors.mean(1).min(), rel=1e-5)
    assert float(fde) == pytest.approx(errors[:, -1].min(), rel=1e-5)


def test_bad_arguments_are_refused():
    d = jnp.ones((3, 4))
    with pytest.raises(ValueError, match="metric"):
        imle.pairwise_distances(d, d, "cosine")
    with pytest.raises(ValueError, match="eps"):
        imle.rejection_mask(d, -1.0)
    with pytest.raises(ValueError, match="keep"):
        imle.masked_nearest(d, jnp.ones(3, bool))
    with pytest.raises(ValueError, match="target"):
        imle.best_of_k_displacement(jnp.ones((4, 5, 2)), jnp.ones((6, 2)))
