"""Audio data for FloWaveNet [P026]: espeak-ng speech and a conditional Gaussian source.

Speech is rendered offline with espeak-ng; the synthetic source has an exact log-likelihood.

``speech`` (``load_dataset("speech")``)
---------------------------------------
Lines of the ``shakespeare_char`` plays spoken by espeak-ng (the library in a pinned PyPI wheel,
:mod:`likelihood_jax.data.espeak`; a system ``espeak-ng`` where that cannot load) with a fixed
voice and speed (:data:`ESPEAK_VOICE`, :data:`ESPEAK_SPEED`), every split's lines rendered in
order in one fresh synthesizer session, resampled from espeak's 22050 Hz to 16 kHz with
``scipy.signal.resample_poly`` (160/441) and stored as int16. The lines: every line of a split's
text with 30..70 characters that is not a speaker name (all upper case) or a stage direction
(``[``...); :data:`NUM_TRAIN_LINES` of the train text's lines and :data:`NUM_TEST_LINES` of the
test text's, taken at evenly spaced positions (``np.linspace``) so that every play contributes.
The tfds builder ``likelihood_jax_speech`` stores one record per line (``audio`` int16,
``text``, ``index``) under the usual data dir; its description records the engine that
rendered it (deterministic for the pinned library; a system espeak-ng may be another version).

The loaded dataset cuts every utterance into non-overlapping clips of ``clip_length`` samples
(default 4096, 0.256 s) and keeps those whose RMS is at least ``min_rms`` (default 0.02 of full
scale; near-silent clips are dropped): ``x`` int16 ``(N, clip_length)``, ``utterance`` (line
index), ``offset`` (sample offset in the utterance). ``info.kind = "audio"``,
``num_levels = 65536``.

Synthetic conditional AR(1) (:func:`conditional_ar1`)
-----------------------------------------------------
Per frame ``f`` of ``hop`` samples a coefficient ``phi_f`` and a noise scale ``sigma_f`` are
drawn; the signal is ``x_0 ~ N(0, sigma_0^2 / (1 - phi_0^2))`` and
``x_t = phi_{f(t)} x_{t-1} + sigma_{f(t)} e_t``, ``e_t ~ N(0, 1)``. The conditioning features
are ``(phi_f, log sigma_f)`` per frame, so ``log p(x | features)`` is exact
(:func:`conditional_ar1_log_prob`): the flow's test NLL can be compared with the truth.
"""

from __future__ import annotations

import functools
import logging

import numpy as np

from likelihood_jax.data import loader

__all__ = [
    "ESPEAK_SPEED",
    "ESPEAK_VOICE",
    "NUM_TEST_LINES",
    "NUM_TRAIN_LINES",
    "SAMPLE_RATE",
    "conditional_ar1",
    "conditional_ar1_log_prob",
    "load_speech",
    "render_lines",
    "select_lines",
]

_LOG = logging.getLogger("likelihood_jax.data")

SAMPLE_RATE = 16000
ESPEAK_RATE = 22050
ESPEAK_VOICE = "en-us"
ESPEAK_SPEED = 150  # words per minute
NUM_TRAIN_LINES = 160
NUM_TEST_LINES = 32
def select_lines(text: str, num: int, min_chars: int = 30, max_chars: int = 70) -> list[str]:
    """``num`` spoken lines of a play text, at evenly spaced positions among the candidates.

    Candidates: stripped lines with ``min_chars..max_chars`` characters that are not all upper
    case (speaker names) and do not start with ``[`` (stage directions).

    Args:
        text: the text.
        num: how many lines.
        min_chars: shortest line.
        max_chars: longest line.

    Returns:
        The lines, in text order.
    """
    lines = [ln.strip() for ln in text.split("\n")]
    keep = [ln for ln in lines if min_chars <= len(ln) <= max_chars and not ln.isupper()
            and not ln.startswith("[")]
    if len(keep) < num:
        raise ValueError(f"only {len(keep)} candidate lines, {num} requested.")
    idx = np.linspace(0, len(keep) - 1, num).round().astype(int)
    return [keep[i] for i in idx]


def render_lines(lines: list[str], cache_dir: str, voice: str = ESPEAK_VOICE,
                 speed: int = ESPEAK_SPEED) -> tuple[list[np.ndarray], str]:
    """Speaks ``lines`` (in order, one session) and returns int16 waves at :data:`SAMPLE_RATE`.

    Args:
        lines: the texts.
        cache_dir: where the pinned espeak-ng wheel is kept.
        voice: espeak-ng voice.
        speed: words per minute.

    Returns:
        ``(waves, engine)``; ``engine`` describes what rendered them.

    Raises:
        likelihood_jax.data.espeak.SpeechSynthesisError: no espeak-ng could be used (the
            message says how to get one).
    """
    from likelihood_jax.data import audio, espeak

    pcm, rate, engine = espeak.synthesize(lines, cache_dir, voice=voice, rate=speed)
    waves = []
    for wave in pcm:
        wave = audio.resample(wave.astype(np.float64), rate, SAMPLE_RATE)
        waves.append(np.clip(np.round(wave), -32768, 32767).astype(np.int16))
    return waves, engine


def _builder_class():
    """The tfds builder, defined lazily (tfds is slow to import)."""
    import tensorflow_datasets as tfds

    from likelihood_jax.data import espeak
    from likelihood_jax.data.builders.base import QuietBuilder

    class LikelihoodJaxSpeech(QuietBuilder):
        """Shakespeare lines spoken by espeak-ng at 16 kHz (int16), one record per line."""

        VERSION = tfds.core.Version("1.1.0")
        RELEASE_NOTES = {"1.0.0": "Rendered by a system espeak-ng binary.",
                         "1.1.0": "Rendered by the pinned espeak-ng library (espeakng-loader)."}

        def _info(self):
            return tfds.core.DatasetInfo(
                builder=self,
                description=(
                    f"Lines of the shakespeare_char plays spoken by espeak-ng ("
                    f"{espeak.ESPEAK_LOADER_DESCRIPTION} on Linux x86-64, a system espeak-ng "
                    f"elsewhere), voice {ESPEAK_VOICE!r}, speed "
                    f"{ESPEAK_SPEED} wpm, resampled 22050 -> 16000 Hz (scipy resample_poly "
                    f"160/441), int16. {NUM_TRAIN_LINES} train lines from the train text and "
                    f"{NUM_TEST_LINES} test lines from the test text "
                    "(likelihood_jax.data.speech.select_lines)."),
                features=tfds.features.FeaturesDict({
                    "audio": tfds.features.Tensor(shape=(None,), dtype=np.int16,
                                                  encoding=tfds.features.Encoding.BYTES),
                    "text": tfds.features.Tensor(shape=(None,), dtype=np.uint8,
                                                 encoding=tfds.features.Encoding.BYTES),
                    "index": tfds.features.Scalar(dtype=np.int32),
                }),
                disable_shuffling=True,
            )

        def _split_generators(self, dl_manager):
            text = loader.load_dataset("shakespeare_char", data_dir=self._data_dir_root)
            vocab = np.array(text.info.vocab)
            cache_dir = self._artifact_dir(dl_manager)
            splits = {}
            for split, num in (("train", NUM_TRAIN_LINES), ("test", NUM_TEST_LINES)):
                chars = "".join(vocab[np.asarray(getattr(text, split)["x"])])
                lines = select_lines(chars, num)
                waves, engine = render_lines(lines, cache_dir)
                _LOG.info("speech %s: %d lines rendered by %s", split, len(lines), engine)
                splits[split] = self._generate_examples(lines, waves)
            return splits

        def _generate_examples(self, lines, waves):
            for i, (line, wave) in enumerate(zip(lines, waves)):
                yield i, {"audio": wave,
                          "text": np.frombuffer(line.encode("ascii"), np.uint8),
                          "index": i}

    return LikelihoodJaxSpeech


@functools.lru_cache(maxsize=None)
def builder_class():
    """The ``likelihood_jax_speech`` tfds builder class (created once)."""
    return _builder_class()


def load_speech(name: str, data_dir: str, clip_length: int = 4096, min_rms: float = 0.02):
    """Loader of the ``speech`` dataset (see the module docstring); builds it on first use.

    Args:
        name: ``"speech"``.
        data_dir: where datasets are built.
        clip_length: samples per clip.
        min_rms: clips with a smaller RMS (fraction of full scale) are dropped.

    Returns:
        A :class:`likelihood_jax.data.Dataset`.

    Raises:
        likelihood_jax.data.espeak.SpeechSynthesisError: the dataset is not built and no
            espeak-ng can be used.
    """
    from likelihood_jax.data.builders.base import prepare, read_split

    if int(clip_length) < 1:
        raise ValueError(f"clip_length must be >= 1, got {clip_length}.")
    builder = prepare(builder_class(), data_dir)
    splits = {}
    for split in ("train", "test"):
        clips, utt, offsets = [], [], []
        for ex in read_split(builder, split):
            wave = np.asarray(ex["audio"], np.int16)
            for start in range(0, wave.size - clip_length + 1, clip_length):
                clip = wave[start:start + clip_length]
                if np.sqrt(np.mean((clip / 32768.0) ** 2)) >= min_rms:
                    clips.append(clip)
                    utt.append(int(ex["index"]))
                    offsets.append(start)
        splits[split] = {"x": np.stack(clips).astype(np.int16),
                         "utterance": np.asarray(utt, np.int32),
                         "offset": np.asarray(offsets, np.int32)}
    info = loader.DatasetInfo(
        kind="audio", event_shape=(int(clip_length),), num_levels=65536,
        description=(builder.info.description + f" Cut into clips of {clip_length} samples "
                     f"at {SAMPLE_RATE} Hz; clips with RMS < {min_rms} of full scale dropped. "
                     "x int16, utterance = line index, offset = first sample in the line."))
    return loader.Dataset(name, splits["train"], splits["test"], info)


# ----------------------------------------------------------------------------------------------
# Synthetic conditional source with an exact likelihood.


def conditional_ar1(num: int, length: int, hop: int, seed: int, phi_range=(0.0, 0.95),
                    sigma_range=(0.02, 0.3)) -> dict[str, np.ndarray]:
    """Samples the conditional AR(1) source (see the module docstring).

    Args:
        num: number of clips.
        length: samples per clip (a multiple of ``hop``).
        hop: samples per conditioning frame.
        seed: numpy seed.
        phi_range: ``phi_f ~ U(phi_range)``.
        sigma_range: ``log sigma_f ~ U(log sigma_range)``.

    Returns:
        ``{"x": float32 (num, length), "features": float32 (num, length // hop, 2)
        [phi, log sigma], "log_prob": float64 (num,) exact log p(x | features)}``.
    """
    if length % hop:
        raise ValueError(f"length {length} must be a multiple of hop {hop}.")
    rng = np.random.default_rng(seed)
    frames = length // hop
    phi = rng.uniform(*phi_range, size=(num, frames))
    log_sigma = rng.uniform(np.log(sigma_range[0]), np.log(sigma_range[1]), size=(num, frames))
    phi_t, sigma_t = np.repeat(phi, hop, 1), np.exp(np.repeat(log_sigma, hop, 1))
    e = rng.normal(size=(num, length))
    x = np.empty((num, length))
    x[:, 0] = sigma_t[:, 0] / np.sqrt(1.0 - phi_t[:, 0] ** 2) * e[:, 0]
    for t in range(1, length):
        x[:, t] = phi_t[:, t] * x[:, t - 1] + sigma_t[:, t] * e[:, t]
    x = x.astype(np.float32)
    features = np.stack([phi, log_sigma], -1).astype(np.float32)
    return {"x": x, "features": features,
            "log_prob": conditional_ar1_log_prob(x, features, hop)}


def conditional_ar1_log_prob(x: np.ndarray, features: np.ndarray, hop: int) -> np.ndarray:
    """Exact ``log p(x | features)`` of :func:`conditional_ar1`, in nats per clip.

    ``log N(x_0; 0, sigma_0^2 / (1 - phi_0^2)) + sum_{t >= 1} log N(x_t; phi_t x_{t-1},
    sigma_t^2)``, computed in float64.

    Args:
        x: ``(N, T)`` signals.
        features: ``(N, T // hop, 2)`` ``[phi, log sigma]`` per frame.
        hop: samples per frame.

    Returns:
        ``(N,)`` float64.
    """
    x = np.asarray(x, np.float64)
    phi = np.repeat(np.asarray(features[..., 0], np.float64), hop, 1)
    sigma = np.exp(np.repeat(np.asarray(features[..., 1], np.float64), hop, 1))

    def log_normal(v, std):
        return -0.5 * (v / std) ** 2 - np.log(std) - 0.5 * np.log(2 * np.pi)

    first = log_normal(x[:, 0], sigma[:, 0] / np.sqrt(1.0 - phi[:, 0] ** 2))
    rest = log_normal(x[:, 1:] - phi[:, 1:] * x[:, :-1], sigma[:, 1:]).sum(1)
    return first + rest
