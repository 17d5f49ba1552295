"""likelihood_jax.data.synthetic.class_mixture: the circle mixture and its registered dataset."""

import numpy as np
import pytest

from likelihood_jax import data
from likelihood_jax.data.synthetic import class_mixture


def test_parameters_put_equal_components_on_the_circle():
    weights, means, covs, labels = class_mixture.gmm_parameters(4, 2, 2.0, 0.5)
    np.testing.assert_allclose(weights, 0.25)
    np.testing.assert_allclose(means, [[2, 0], [0, 2], [-2, 0], [0, -2]], atol=1e-6)
    np.testing.assert_allclose(covs, np.stack([0.25 * np.eye(2)] * 4))
    np.testing.assert_array_equal(labels, [0, 1, 0, 1])
    with pytest.raises(ValueError, match="num_classes"):
        class_mixture.gmm_parameters(4, 5, 2.0, 0.5)
    with pytest.raises(ValueError, match="std"):
        class_mixture.gmm_parameters(4, 2, 2.0, 0.0)


def test_dataset_draws_train_then_test_from_one_generator():
    ds = data.load_dataset("gmm_circle", num_components=4, num_classes=2, radius=3.0, std=0.1,
                           num_train=500, num_test=50, seed=7)
    rng = np.random.default_rng(7)
    _, means, _, labels = class_mixture.gmm_parameters(4, 2, 3.0, 0.1)
    comp = rng.choice(4, size=500, p=np.full(4, 0.25, np.float32))
    x = (means[comp] + 0.1 * rng.normal(size=(500, 2))).astype(np.float32)
    np.testing.assert_array_equal(ds.train["x"], x)
    np.testing.assert_array_equal(ds.train["label"], labels[comp])
    assert ds.test["x"].shape == (50, 2) and ds.info.num_classes == 2
    # Every point lies near the circle of radius 3 and its class is its component's.
    assert np.all(np.abs(np.linalg.norm(ds.train["x"], axis=1) - 3.0) < 0.6)
