"""Plots and sample files written by the loop."""

import numpy as np
import pytest

from likelihood_jax.train import plots


@pytest.mark.parametrize("shape", [(50, 2), (50, 5), (50, 1), (50,), (9, 8, 8, 1), (9, 8, 8)])
def test_plot_samples_writes_a_png_for_every_kind_of_sample(tmp_path, shape):
    samples = np.random.default_rng(0).normal(size=shape).astype(np.float32)
    reference = samples if len(shape) <= 2 else None
    path = plots.plot_samples(str(tmp_path / "s.png"), samples, reference=reference)
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_text_samples_are_decoded_with_the_vocabulary(tmp_path):
    vocab = ["a", "b", "\n", " "]
    tokens = np.array([[0, 1, 3, 0], [2, 1, 1, 0]], np.int32)
    path = plots.write_text_samples(str(tmp_path / "s.txt"), tokens, vocab)
    assert open(path, encoding="utf-8").read() == "ab a\n\\nbba\n"


def test_text_samples_without_vocabulary_are_token_ids(tmp_path):
    path = plots.write_text_samples(str(tmp_path / "s.txt"), np.array([[3, 1], [0, 2]]))
    assert open(path).read() == "3 1\n0 2\n"


def test_text_samples_refuse_floats(tmp_path):
    with pytest.raises(ValueError, match="integer token ids"):
        plots.write_text_samples(str(tmp_path / "s.txt"), np.zeros((2, 3)))
