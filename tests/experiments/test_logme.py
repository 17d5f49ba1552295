"""logme [P204]: the extractors against scikit-learn, the H-score, and the study's wiring."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.decomposition import PCA

from experiments.logme import experiment as exp
from likelihood_jax.variational import transferability as tr


def test_pca_features_equal_sklearn_up_to_sign():
    rng = np.random.default_rng(0)
    x_fit = rng.normal(size=(40, 6)) @ rng.normal(size=(6, 6))
    x = rng.normal(size=(5, 6))
    got = np.asarray(tr.pca_features(jnp.asarray(x_fit, jnp.float32), jnp.asarray(x, jnp.float32),
                                     3))
    want = PCA(3).fit(x_fit).transform(x)
    np.testing.assert_allclose(np.abs(got), np.abs(want), rtol=1e-3, atol=1e-3)
    with pytest.raises(ValueError, match="pca_features: num_components must"):
        tr.pca_features(x_fit, x, 7)


def test_random_projection_preserves_norms_on_average_and_is_keyed():
    x = jnp.asarray(np.random.default_rng(1).normal(size=(3, 8)), jnp.float32)
    key = jax.random.key(0)
    z = tr.random_projection_features(key, x, 4000)
    np.testing.assert_allclose(jnp.sum(z * z, 1), jnp.sum(x * x, 1), rtol=0.1)
    np.testing.assert_array_equal(z, tr.random_projection_features(key, x, 4000))
    assert not np.allclose(z, tr.random_projection_features(jax.random.key(1), x, 4000))


def test_h_score_of_one_feature_is_the_explained_variance_share():
    rng = np.random.default_rng(2)
    labels = np.repeat(np.arange(3), [5, 9, 6])
    f = rng.normal(size=20) + labels
    between = sum(np.sum(labels == c) * (f[labels == c].mean() - f.mean()) ** 2
                  for c in range(3))
    eta2 = between / np.sum((f - f.mean()) ** 2)
    score = tr.h_score(jnp.asarray(f[:, None]), jnp.asarray(labels), 3)
    np.testing.assert_allclose(score, eta2, rtol=1e-5)
    padded = tr.h_score(jnp.asarray(exp.pad_columns(f[:, None], 4)), jnp.asarray(labels), 3)
    np.testing.assert_allclose(padded, eta2, rtol=1e-5)  # zero columns change nothing


@pytest.mark.nightly  # a convergence check (about 1 s of compilation)
def test_mlp_hidden_layer_learns_a_separable_task():
    rng = np.random.default_rng(3)
    labels = jnp.asarray(np.arange(60) % 3)
    x = jnp.asarray(rng.normal(size=(60, 5)) + 3.0 * np.eye(3, 5)[np.arange(60) % 3],
                    jnp.float32)
    params = tr.fit_mlp(jax.random.key(0), x, labels, num_classes=3, hidden=8, num_steps=60)
    assert tr.mlp_hidden_features(params, x).shape == (60, 8)
    assert float(jnp.mean(jnp.argmax(tr.mlp_logits(params, x), -1) == labels)) >= 0.95


def test_extractor_names_and_rank_agreement():
    assert exp.parse_extractor("pca8") == ("pca", 8)
    assert exp.parse_extractor("raw") == ("raw", 0)
    for bad in ("raw3", "pca", "svd4"):
        with pytest.raises(ValueError, match="study.extractors"):
            exp.parse_extractor(bad)
    agreement = exp.rank_agreement(np.array([0.1, 0.3, 0.2]), np.array([0.5, 0.9, 0.7]))
    assert agreement == {"kendall_tau": 1.0, "spearman": 1.0}
    assert exp.rank_agreement(np.array([3.0, 2.0, 1.0]), np.array([1, 2, 3]))["kendall_tau"] == -1
