"""Offline speech rendering with the pinned espeak-ng library."""

import numpy as np
import pytest

from likelihood_jax.data import espeak

TEXTS = ["To be, or not to be, that is the question.", "Hello world."]


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("espeak")


def test_speech_is_rendered_at_22050_hz_and_is_the_same_every_time(cache_dir):
    waves, rate, engine = espeak.synthesize(TEXTS, cache_dir)
    again, _, _ = espeak.synthesize(TEXTS, cache_dir)
    assert rate == 22050 and len(waves) == 2
    for wave, other in zip(waves, again):
        assert wave.dtype == np.int16
        np.testing.assert_array_equal(wave, other)
    # About 2.5 s for the longer line at 175 words per minute, and not silence.
    assert 1.5 * rate < len(waves[0]) < 4.0 * rate
    assert np.abs(waves[0]).max() > 1000
    assert len(waves[1]) < len(waves[0])
    if espeak._can_load_bundled_library():
        assert espeak.ESPEAKNG_LOADER.filename in engine


def test_unknown_voice_is_a_clear_error(cache_dir):
    with pytest.raises(espeak.SpeechSynthesisError, match="no voice 'no-such-voice'"):
        espeak.synthesize(["x"], cache_dir, voice="no-such-voice")


def test_without_library_or_binary_the_error_says_how_to_install(cache_dir, monkeypatch):
    monkeypatch.setattr(espeak, "_can_load_bundled_library", lambda: False)
    monkeypatch.setattr(espeak.shutil, "which", lambda name: None)
    with pytest.raises(espeak.SpeechSynthesisError, match="apt-get install espeak-ng"):
        espeak.synthesize(["x"], cache_dir)
