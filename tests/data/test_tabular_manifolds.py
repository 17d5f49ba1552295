"""Tabular sets and manifold data [P027, P009]: splits, standardization, known values."""

import numpy as np
import pytest
from scipy import stats

from likelihood_jax import data
from likelihood_jax.data import tabular
from likelihood_jax.data.synthetic import manifolds


def test_splits_are_disjoint_and_cover_the_rows():
    rows = tabular.split_rows(178)
    allr = np.concatenate([rows["train"], rows["validation"], rows["test"]])
    assert np.array_equal(np.sort(allr), np.arange(178))
    assert len(rows["test"]) == len(rows["validation"]) == 18


@pytest.mark.parametrize("name,width", [("wine", 13), ("diabetes", 10)])
def test_tabular_standardized_with_train_statistics(name, width):
    ds = data.load_dataset(name)
    val = data.load_dataset(name, heldout="validation")
    x = ds.train["x"]
    assert x.shape[1] == width and ds.info.event_shape == (width,)
    cont = np.array([c == 0 for c in tabular.tabular_categories(name)])
    np.testing.assert_allclose(x[:, cont].mean(0), 0.0, atol=1e-5)
    np.testing.assert_allclose(x[:, cont].std(0), 1.0, atol=1e-4)
    assert set(np.unique(x[:, ~cont])) <= {0.0, 1.0}
    assert not np.array_equal(ds.test["x"], val.test["x"])
    # The held-out rows use the train statistics: recompute one column by hand.
    from sklearn import datasets

    raw = getattr(datasets, f"load_{name}")(**({"scaled": False} if name == "diabetes"
                                                else {})).data
    rows = tabular.split_rows(len(raw))
    col = raw[rows["train"], 0]
    np.testing.assert_allclose(ds.test["x"][:, 0], (raw[rows["test"], 0] - col.mean()) /
                               col.std(), rtol=1e-5)
    with pytest.raises(ValueError, match="heldout"):
        tabular.load_tabular(name, heldout="dev")


def test_correlated_gaussian_entropy_and_covariance():
    for dim, rho in ((1, 0.5), (4, 0.8), (8, -0.3)):
        cov = tabular.correlated_gaussian_covariance(dim, rho)
        ref = stats.multivariate_normal(np.zeros(dim), cov).entropy()
        assert abs(tabular.correlated_gaussian_entropy(dim, rho) - ref) < 1e-10
    ds = tabular.load_correlated_gaussian("correlated_gaussian", dim=3, rho=0.8,
                                          num_train=20000)
    np.testing.assert_allclose(np.cov(ds.train["x"].T), tabular.correlated_gaussian_covariance(
        3, 0.8), atol=0.03)


def test_digits_pca_shape_and_train_standardization():
    ds = tabular.load_digits_pca("digits_pca", num_components=8)
    assert ds.train["x"].shape == (1437, 8) and ds.test["x"].shape == (180, 8)
    np.testing.assert_allclose(ds.train["x"].std(0), 1.0, atol=1e-4)
    # Principal components are uncorrelated on the rows they were fitted on.
    c = np.corrcoef(ds.train["x"].T)
    np.testing.assert_allclose(c - np.diag(np.diag(c)), 0.0, atol=1e-4)


def test_manifold_points_lie_on_their_manifolds():
    circle = data.load_dataset("circle_manifold", num_train=500, num_test=10)
    np.testing.assert_allclose(np.linalg.norm(circle.train["x"], axis=1), 1.0, atol=1e-5)
    sphere = manifolds.load_manifold("sphere_manifold", num_train=500, num_test=10)
    np.testing.assert_allclose(np.linalg.norm(sphere.train["x"], axis=1), 1.0, atol=1e-5)
    assert sphere.train["x"][:, 0].mean() > 0.3  # mass towards (1, 0, 0)
    roll = manifolds.load_manifold("swissroll_surface", num_train=500, num_test=10)
    t = np.linalg.norm(roll.train["x"][:, [0, 2]], axis=1) * 5.0
    np.testing.assert_allclose(np.arctan2(roll.train["x"][:, 2], roll.train["x"][:, 0]),
                               np.angle(np.exp(1j * t)), atol=1e-4)
    with pytest.raises(ValueError, match="name"):
        manifolds.sample_manifold("torus", 3, np.random.default_rng(0))


def test_ppca_covariance_is_low_rank_plus_noise():
    w = manifolds.ppca_loading(6, 2)
    np.testing.assert_allclose(w.T @ w, np.diag([4.0, 1.0]), atol=1e-10)
    ds = manifolds.load_ppca("ppca", dim=6, latent_dim=2, noise=0.1, num_train=40000)
    np.testing.assert_allclose(np.cov(ds.train["x"].T), w @ w.T + 0.01 * np.eye(6), atol=0.06)
    with pytest.raises(ValueError, match="latent_dim"):
        manifolds.ppca_loading(3, 3)
