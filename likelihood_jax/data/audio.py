"""Audio helpers in jnp: framing STFT, mel filterbank, log-mel spectrogram; WAV I/O, resampling.

Used by FloWaveNet [P026] (Kim et al. 2019), whose flow is conditioned on a mel spectrogram of
the waveform it models. Conventions follow librosa's defaults where they matter:

* **STFT** (:func:`stft_magnitude`): with ``center=True`` the signal is reflect-padded by
  ``n_fft // 2`` on both sides, cut into frames ``frame_m = x_pad[m * hop : m * hop + n_fft]``
  for ``m = 0 .. 1 + (T + 2 (n_fft // 2) - n_fft) // hop - 1`` (so ``1 + T // hop`` frames when
  ``n_fft`` is even), multiplied by a periodic Hann window
  ``w_n = 0.5 - 0.5 cos(2 pi n / n_fft)`` and transformed with ``rfft``:
  ``|X[m, k]| = |sum_n w_n frame_m[n] exp(-2 pi i k n / n_fft)|``, ``k = 0 .. n_fft // 2``.
* **Mel scale** (HTK, O'Shaughnessy 1987): ``mel(f) = 2595 log10(1 + f / 700)``.
* **Filterbank** (:func:`mel_filterbank`): ``n_mels`` triangles whose corners are
  ``n_mels + 2`` points equally spaced in mel between ``fmin`` and ``fmax``; filter ``j`` rises
  linearly from corner ``j`` to ``j + 1`` and falls to corner ``j + 2`` (peak 1, no area
  normalization), evaluated at the FFT bin frequencies ``k * sr / n_fft``.
* **Log-mel** (:func:`log_mel_spectrogram`): ``log(max(|X|^power @ W, floor))`` with
  ``power = 1`` (magnitude, as in FloWaveNet's preprocessing) by default.

Cost: one ``rfft`` of length ``n_fft`` per frame and a ``(n_fft // 2 + 1, n_mels)`` matmul.
"""

from __future__ import annotations

import math
import os

import jax.numpy as jnp
import numpy as np

__all__ = [
    "hann_window",
    "hz_to_mel",
    "log_mel_spectrogram",
    "mel_filterbank",
    "mel_to_hz",
    "read_wav",
    "resample",
    "stft_magnitude",
    "write_wav",
]


def hz_to_mel(f):
    """HTK mel scale ``2595 log10(1 + f / 700)`` (numpy or jnp input)."""
    return 2595.0 * np.log10(1.0 + np.asarray(f, np.float64) / 700.0)


def mel_to_hz(m):
    """Inverse of :func:`hz_to_mel`: ``700 (10^(m / 2595) - 1)``."""
    return 700.0 * (10.0 ** (np.asarray(m, np.float64) / 2595.0) - 1.0)


def hann_window(n_fft: int) -> np.ndarray:
    """Periodic Hann window ``0.5 - 0.5 cos(2 pi n / n_fft)``, ``n = 0 .. n_fft - 1``."""
    n = np.arange(n_fft)
    return (0.5 - 0.5 * np.cos(2.0 * np.pi * n / n_fft)).astype(np.float32)


def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, fmin: float = 0.0,
                   fmax: float | None = None) -> np.ndarray:
    """Triangular HTK-mel filterbank, shape ``(n_fft // 2 + 1, n_mels)``.

    Args:
        sample_rate: sampling rate in Hz.
        n_fft: FFT length; the bins are at ``k * sample_rate / n_fft``.
        n_mels: number of filters.
        fmin: lowest corner frequency in Hz.
        fmax: highest corner frequency in Hz (default: Nyquist).

    Returns:
        float32 weights ``W[k, j]``: filter ``j``'s response at bin ``k`` (peak 1).

    Raises:
        ValueError: for a non-positive size or ``fmin >= fmax``.
    """
    fmax = sample_rate / 2.0 if fmax is None else float(fmax)
    if n_fft < 2 or n_mels < 1 or sample_rate <= 0:
        raise ValueError(f"mel_filterbank needs n_fft >= 2, n_mels >= 1 and sample_rate > 0, "
                         f"got {n_fft}, {n_mels}, {sample_rate}.")
    if not 0.0 <= fmin < fmax:
        raise ValueError(f"mel_filterbank needs 0 <= fmin < fmax, got {fmin}, {fmax}.")
    corners = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    freqs = np.arange(n_fft // 2 + 1) * sample_rate / n_fft
    lower, center, upper = corners[:-2], corners[1:-1], corners[2:]
    rising = (freqs[:, None] - lower) / (center - lower)
    falling = (upper - freqs[:, None]) / (upper - center)
    return np.maximum(0.0, np.minimum(rising, falling)).astype(np.float32)


def stft_magnitude(x: jnp.ndarray, n_fft: int, hop_length: int, center: bool = True
                   ) -> jnp.ndarray:
    """Magnitude STFT of one signal ``x (T,)``, shape ``(frames, n_fft // 2 + 1)``.

    Args:
        x: the waveform, 1D.
        n_fft: frame (and FFT) length.
        hop_length: frame step.
        center: reflect-pad ``n_fft // 2`` samples on both sides first (librosa's default).

    Returns:
        ``|rfft(hann * frame)|`` per frame (see the module docstring).

    Raises:
        ValueError: if ``x`` is not 1D or is shorter than one frame.
    """
    x = jnp.asarray(x)
    if x.ndim != 1:
        raise ValueError(f"stft_magnitude takes one 1D signal (T,), got shape {x.shape}.")
    if center:
        x = jnp.pad(x, (n_fft // 2, n_fft // 2), mode="reflect")
    if x.shape[0] < n_fft:
        raise ValueError(f"signal of {x.shape[0]} samples is shorter than n_fft={n_fft}.")
    num_frames = 1 + (x.shape[0] - n_fft) // hop_length
    idx = np.arange(num_frames)[:, None] * hop_length + np.arange(n_fft)[None, :]
    frames = x[idx] * hann_window(n_fft)
    return jnp.abs(jnp.fft.rfft(frames, axis=-1))


def log_mel_spectrogram(x: jnp.ndarray, sample_rate: int, n_fft: int, hop_length: int,
                        n_mels: int, fmin: float = 0.0, fmax: float | None = None,
                        power: float = 1.0, floor: float = 1e-5, center: bool = True
                        ) -> jnp.ndarray:
    """Log-mel spectrogram ``log(max(|STFT|^power @ W, floor))`` of one signal ``x (T,)``.

    Args:
        x: the waveform, 1D.
        sample_rate: sampling rate in Hz.
        n_fft: frame length.
        hop_length: frame step (``1 + T // hop_length`` frames with ``center``).
        n_mels: number of mel bands.
        fmin: lowest filter corner in Hz.
        fmax: highest filter corner in Hz (default: Nyquist).
        power: 1 for magnitude, 2 for power.
        floor: clamp before the log.
        center: see :func:`stft_magnitude`.

    Returns:
        ``(frames, n_mels)`` float32.
    """
    mag = stft_magnitude(x, n_fft, hop_length, center=center) ** power
    weights = mel_filterbank(sample_rate, n_fft, n_mels, fmin, fmax)
    return jnp.log(jnp.maximum(mag @ weights, floor))


def write_wav(path: str | os.PathLike, waveform, sample_rate: int) -> str:
    """Writes a mono waveform in ``[-1, 1]`` as 16-bit PCM WAV (values outside are clipped).

    Args:
        path: output file.
        waveform: 1D float array.
        sample_rate: in Hz.

    Returns:
        ``path`` as a string.
    """
    from scipy.io import wavfile

    wave = np.asarray(waveform, np.float64).reshape(-1)
    pcm = np.round(np.clip(wave, -1.0, 1.0) * 32767.0).astype(np.int16)
    wavfile.write(os.fspath(path), int(sample_rate), pcm)
    return os.fspath(path)


def read_wav(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """Reads a WAV file as ``(int16 mono samples, sample_rate)`` (channels are averaged)."""
    from scipy.io import wavfile

    rate, data = wavfile.read(os.fspath(path))
    if data.ndim == 2:
        data = np.round(data.mean(axis=1))
    if data.dtype != np.int16:
        if np.issubdtype(data.dtype, np.floating):
            data = np.round(np.clip(data, -1.0, 1.0) * 32767.0)
        data = np.clip(data, -32768, 32767)
    return data.astype(np.int16), int(rate)


def resample(x, rate_in: int, rate_out: int) -> np.ndarray:
    """Polyphase resampling (``scipy.signal.resample_poly``) from ``rate_in`` to ``rate_out`` Hz.

    Args:
        x: 1D signal (any real dtype; computed in float64).
        rate_in: input rate in Hz.
        rate_out: output rate in Hz.

    Returns:
        float64 signal of ``ceil(len(x) * rate_out / rate_in)`` samples.
    """
    from scipy.signal import resample_poly

    g = math.gcd(int(rate_in), int(rate_out))
    return resample_poly(np.asarray(x, np.float64), int(rate_out) // g, int(rate_in) // g)
