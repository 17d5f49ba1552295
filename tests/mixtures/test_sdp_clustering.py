"""Likelihood-adjusted SDP clustering [P101]: PSD projection, exact optimum by enumeration."""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from likelihood_jax.mixtures import sdp_clustering as sc


def test_psd_projection_matches_numpy_and_is_nearest():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(6, 6)).astype(np.float32)
    sym = (a + a.T) / 2
    w, v = np.linalg.eigh(sym.astype(np.float64))
    expected = (v * np.maximum(w, 0)) @ v.T
    got = np.asarray(sc.project_psd(jnp.asarray(a)))
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert np.linalg.eigvalsh(got).min() > -1e-5
    for _ in range(5):  # no PSD matrix is closer to the symmetric part
        b = rng.normal(size=(6, 6))
        assert np.linalg.norm(sym - got) <= np.linalg.norm(sym - b @ b.T) + 1e-6


@pytest.fixture(scope="module")
def tiny():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(size=(4, 2)) * [0.3, 1.0],
                        rng.normal(size=(4, 2)) * [1.0, 0.2] + [4.0, 0.0]]).astype(np.float32)
    covs = jnp.stack([jnp.diag(jnp.array([0.09, 1.0])), jnp.diag(jnp.array([1.0, 0.04]))])
    return x, covs


def test_sdp_optimum_equals_the_brute_force_likelihood_optimum(tiny):
    """All 2^8 labelings: the relaxation's value is the exact optimum, its rounding the argmin."""
    x, covs = tiny
    costs = sc.mahalanobis_costs(x, covs)
    z = jax.jit(lambda c: sc.solve_membership_sdp(c, jnp.ones(2), num_steps=600))(costs)
    nll = jax.jit(jax.vmap(lambda lab: sc.partition_neg_log_likelihood(x, lab, covs)))
    labelings = jnp.array(list(itertools.product([0, 1], repeat=8)))
    values = np.asarray(nll(labelings))
    best = int(np.argmin(values))
    assert float(jnp.sum(costs * z)) == pytest.approx(values[best], abs=2e-3)
    assert sc.membership_labels(z).tolist() == labelings[best].tolist()
    np.testing.assert_allclose(jnp.trace(z, axis1=1, axis2=2), 1.0, atol=1e-3)
    np.testing.assert_allclose(z.sum((0, 2)), 1.0, atol=1e-3)
    # block structure: the exact membership matrices of the optimum
    np.testing.assert_allclose(z, sc.labels_to_memberships(labelings[best], 2), atol=5e-3)


def test_membership_covariances_are_the_cluster_mles(tiny):
    x, _ = tiny
    labels = jnp.array([0, 0, 0, 0, 1, 1, 1, 1])
    covs = sc.membership_covariances(x, sc.labels_to_memberships(labels, 2), reg=0.0)
    for k in range(2):
        np.testing.assert_allclose(covs[k], np.cov(x[4 * k:4 * k + 4].T, bias=True), atol=1e-5)


def test_bad_inputs_name_the_argument():
    with pytest.raises(ValueError, match="solve_membership_sdp: traces must be"):
        sc.solve_membership_sdp(jnp.zeros((2, 3, 3)), jnp.ones(3))
    with pytest.raises(ValueError, match="solve_membership_sdp: rho must be > 0"):
        sc.solve_membership_sdp(jnp.zeros((1, 3, 3)), jnp.ones(1), rho=0.0)
