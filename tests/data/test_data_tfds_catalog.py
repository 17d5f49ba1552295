"""tfds catalog names go through tfds (mocked here: no TensorFlow, no network)."""

import numpy as np
import pytest

from likelihood_jax import data

tfds = pytest.importorskip("tensorflow_datasets")


@pytest.fixture
def mock_tfds(monkeypatch):
    """``tfds.testing.mock_data`` with a fix for its ``__getitems__`` mock.

    In tensorflow-datasets 4.9.10 the mocked data source's ``__getitems__`` is a
    ``functools.partial`` stored on the mock instance, so it is called without
    ``self`` and fails; this replacement accepts both call forms.
    """
    from tensorflow_datasets.testing import mocking

    original = mocking._getitem

    def getitems(*args, generator, serialized=False):
        keys = args[-1]
        return [original(None, key, generator) for key in keys]

    monkeypatch.setattr(mocking, "_getitems", getitems)
    data.clear_cache()
    with tfds.testing.mock_data(num_examples=12, policy=tfds.testing.MockPolicy.USE_CODE):
        yield
    data.clear_cache()


@pytest.mark.parametrize("name, shape", [("mnist", (28, 28, 1)), ("cifar10", (32, 32, 3))])
def test_catalog_dataset_maps_image_and_label(name, shape, tmp_path, mock_tfds):
    ds = data.load_dataset(name, data_dir=tmp_path)
    assert ds.name == name
    assert ds.info.kind == "image" and ds.info.event_shape == shape
    assert ds.info.num_levels == 256 and ds.info.num_classes == 10
    for split in (ds.train, ds.test):
        assert split["x"].shape == (12, *shape) and split["x"].dtype == np.uint8
        assert split["label"].shape == (12,) and split["label"].dtype == np.int32
        assert np.all((split["label"] >= 0) & (split["label"] < 10))
        assert "id" not in split  # cifar10's string id is not an array feature.
    batch = data.batch_at_step(ds.train, 4, seed=0, step=5)
    assert batch["x"].shape == (4, *shape)


def test_catalog_dataset_options(tmp_path, mock_tfds):
    with pytest.raises(TypeError, match="num_train"):
        data.load_dataset("mnist", data_dir=tmp_path, num_train=3)
    with pytest.raises(ValueError, match="'valid'"):
        data.load_dataset("mnist", data_dir=tmp_path, test_split="valid")


def test_missing_tensorflow_is_explained(tmp_path, monkeypatch):
    def builder(*args, **kwargs):
        raise ModuleNotFoundError("No module named 'tensorflow'", name="tensorflow")

    monkeypatch.setattr(tfds, "builder", builder)
    data.clear_cache()
    with pytest.raises(ModuleNotFoundError, match=r"'mnist' needs the module 'tensorflow'"):
        data.load_dataset("mnist", data_dir=tmp_path)
