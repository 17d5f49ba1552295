"""FID-like distance and classifier accuracy on small image datasets."""

import numpy as np
import pytest

from likelihood_jax import data
from likelihood_jax.metrics import sample_quality


@pytest.fixture(scope="module")
def digits_features():
    ds = data.load_dataset("digits")
    train = sample_quality.to_unit_interval(ds.train["x"], 17)
    return ds, sample_quality.ImageFeatures(train, ds.train["label"], seed=0)


def test_unit_interval_maps_levels_to_cell_centres():
    x = np.array([[[0], [16]]], np.uint8)
    np.testing.assert_allclose(sample_quality.to_unit_interval(x, 17), [[0.5 / 17, 16.5 / 17]])


def test_classifier_predicts_test_digits(digits_features):
    ds, features = digits_features
    accuracy = np.mean(features.predict(sample_quality.to_unit_interval(ds.test["x"], 17))
                       == ds.test["label"])
    assert accuracy > 0.9


def test_frechet_distance_is_zero_for_the_same_set_and_grows_with_corruption(digits_features):
    ds, features = digits_features
    test = sample_quality.to_unit_interval(ds.test["x"], 17)
    train = sample_quality.to_unit_interval(ds.train["x"], 17)
    rng = np.random.default_rng(0)
    same = features.frechet_distance(test, test)
    held_out = features.frechet_distance(train[:297], test)
    noisy = features.frechet_distance(np.clip(test + 0.3 * rng.normal(size=test.shape), 0, 1),
                                      test)
    uniform = features.frechet_distance(rng.uniform(size=test.shape), test)
    assert abs(same) < 1e-3 * uniform  # float32 matrix square roots
    assert held_out < noisy < uniform
    # Features are the hidden ReLU layer of the classifier.
    manual = np.maximum(test @ features.classifier.coefs_[0] + features.classifier.intercepts_[0],
                        0)
    np.testing.assert_allclose(features.features(test), manual, rtol=1e-6)


def test_bad_inputs_are_named(digits_features):
    _, features = digits_features
    with pytest.raises(ValueError, match="NaN"):
        features.features(np.full((3, 64), np.nan))
    with pytest.raises(ValueError, match="ImageFeatures: labels must be of shape"):
        sample_quality.ImageFeatures(np.zeros((4, 64)), np.zeros((3,)))


def test_one_fit_per_data_and_settings(digits_features):
    ds, features = digits_features
    train = sample_quality.to_unit_interval(ds.train["x"], 17)
    again = sample_quality.ImageFeatures(train.copy(), ds.train["label"].copy(), seed=0)
    assert again.classifier is features.classifier
    assert sample_quality.ImageFeatures.of_split(ds.train, 17).classifier is features.classifier
    small = sample_quality.ImageFeatures(train[:200], ds.train["label"][:200], hidden_units=8,
                                         seed=1)
    assert small.classifier is not features.classifier
    assert small.classifier.coefs_[0].shape == (64, 8)
