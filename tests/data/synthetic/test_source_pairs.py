"""likelihood_jax.data.synthetic.source_pairs: held-out sources beside a target dataset."""

import numpy as np
import pytest

from likelihood_jax import data
from likelihood_jax.data.synthetic import source_pairs


def _target(n_train=30, n_test=20, dim=2):
    rng = np.random.default_rng(0)
    return data.Dataset("t", {"x": rng.normal(size=(n_train, dim)).astype(np.float32)},
                        {"x": rng.normal(size=(n_test, dim)).astype(np.float32)},
                        data.DatasetInfo(kind="continuous", event_shape=(dim,)))


def test_normal_source_pairs_and_reference_rows():
    target = _target()
    ds = source_pairs.pair_with_source(target, "normal", 10)
    assert "x0" not in ds.train  # a normal source is drawn fresh in every step
    np.testing.assert_array_equal(ds.test["x"], target.test["x"][:10])
    np.testing.assert_array_equal(ds.test["x_ref"], target.train["x"][:10])
    expected = np.random.default_rng(source_pairs.SOURCE_SEEDS[1]).normal(size=(10, 2))
    np.testing.assert_array_equal(ds.test["x0"], expected.astype(np.float32))


def test_toy_source_and_errors():
    ds = source_pairs.pair_with_source(_target(), "8gaussians", 5)
    np.testing.assert_array_equal(ds.train["x0"], data.sample_toy("8gaussians", 30, 101))
    with pytest.raises(ValueError, match="Unknown source"):
        source_pairs.source_samples("uniform", 3, 0, 2)
    with pytest.raises(ValueError, match="is 2D"):
        source_pairs.source_samples("moons", 3, 0, 3)
    with pytest.raises(ValueError, match="exceeds"):
        source_pairs.pair_with_source(_target(), "normal", 21)
