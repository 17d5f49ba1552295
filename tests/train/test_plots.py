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


@pytest.mark.parametrize("shape,kind", [((50,), "scalars"), ((50, 1), "scalars"),
                                        ((50, 2), "vectors"), ((50, 3), "vectors"),
                                        ((50, 64), "vectors"), ((50, 49), "vectors"),
                                        ((9, 8, 8), "images"), ((9, 8, 8, 1), "images"),
                                        ((9, 8, 8, 3), "images")])
def test_sample_kind_goes_by_rank_not_by_size(shape, kind):
    assert plots.sample_kind(np.zeros(shape)) == kind


@pytest.mark.parametrize("shape", [(), (2, 3, 4, 5, 6)])
def test_sample_kind_names_a_shape_it_cannot_draw(shape):
    with pytest.raises(ValueError, match=r"got shape \(" + ", ".join(map(str, shape))):
        plots.sample_kind(np.zeros(shape))


class Drawn:
    """Records which matplotlib drawing calls ``plot_samples`` makes, and their data."""

    def __init__(self, monkeypatch):
        import matplotlib.axes
        self.calls = []
        for name in ("scatter", "hist", "imshow"):
            original = getattr(matplotlib.axes.Axes, name)

            def record(ax, data, *args, _name=name, _original=original, **kwargs):
                self.calls.append((_name, np.asarray(data)))
                return _original(ax, data, *args, **kwargs)

            monkeypatch.setattr(matplotlib.axes.Axes, name, record)

    def names(self):
        return [name for name, _ in self.calls]


@pytest.mark.parametrize("dim", [3, 64])
def test_vectors_of_any_length_are_scattered_never_reshaped_into_images(tmp_path, monkeypatch,
                                                                         dim):
    drawn = Drawn(monkeypatch)
    samples = np.random.default_rng(0).normal(size=(40, dim))
    reference = np.random.default_rng(1).normal(size=(30, dim))
    plots.plot_samples(str(tmp_path / "s.png"), samples, reference=reference)
    assert drawn.names() == ["scatter", "scatter"]
    np.testing.assert_array_equal(drawn.calls[0][1], samples[:, 0])
    np.testing.assert_array_equal(drawn.calls[1][1], reference[:, 0])


def test_scalars_are_a_histogram_with_the_reference(tmp_path, monkeypatch):
    drawn = Drawn(monkeypatch)
    plots.plot_samples(str(tmp_path / "s.png"), np.arange(20.0)[:, None],
                       reference=np.arange(10.0))
    assert drawn.names() == ["hist", "hist"]
    np.testing.assert_array_equal(drawn.calls[1][1], np.arange(10.0))


def test_a_reference_of_another_size_is_left_out(tmp_path, monkeypatch):
    drawn = Drawn(monkeypatch)
    plots.plot_samples(str(tmp_path / "s.png"), np.zeros((20, 3)) + np.arange(20)[:, None],
                       reference=np.zeros((20, 1)))
    assert drawn.names() == ["scatter"]


@pytest.mark.parametrize("shape", [(9, 8, 8), (9, 8, 8, 1), (9, 8, 8, 3), (9, 8, 8, 2)])
def test_images_are_one_grid(tmp_path, monkeypatch, shape):
    drawn = Drawn(monkeypatch)
    samples = np.random.default_rng(0).normal(size=shape)
    plots.plot_samples(str(tmp_path / "s.png"), samples, reference=np.zeros((9, 64)))
    assert drawn.names() == ["imshow"]
    grid = drawn.calls[0][1]
    # 3x3 tiles of 8x8 with a 1-pixel border; one channel unless the images are RGB.
    assert grid.shape == ((28, 28, 3) if shape[-1] == 3 else (28, 28))


def test_density_plot_shows_the_data_histogram_and_the_model_on_one_scale(tmp_path,
                                                                          monkeypatch):
    import matplotlib.axes
    shown = []
    original = matplotlib.axes.Axes.imshow

    def record(ax, image, *args, **kwargs):
        shown.append((np.asarray(image), kwargs))
        return original(ax, image, *args, **kwargs)

    monkeypatch.setattr(matplotlib.axes.Axes, "imshow", record)
    data = np.random.default_rng(0).uniform(size=(4000, 2))
    plots.plot_density_2d(str(tmp_path / "d.png"), lambda g: np.zeros(len(g)), data,
                          resolution=32)
    (histogram, hist_kw), (model, model_kw) = shown
    assert hist_kw["extent"] == model_kw["extent"] and hist_kw["vmax"] == model_kw["vmax"]
    x0, x1, y0, y1 = hist_kw["extent"]
    cell = (x1 - x0) * (y1 - y0) / histogram.size
    assert np.sum(histogram) * cell == pytest.approx(1.0)  # a density: all points inside
    np.testing.assert_array_equal(model, 1.0)  # exp(log_prob) on the grid


def test_train_and_test_curves_show_the_reference_and_crop_the_first_steps(tmp_path,
                                                                          monkeypatch):
    import matplotlib.axes
    lines_drawn, limits = [], []
    axhline, set_ylim = matplotlib.axes.Axes.axhline, matplotlib.axes.Axes.set_ylim
    monkeypatch.setattr(matplotlib.axes.Axes, "axhline",
                        lambda ax, y, *a, **k: lines_drawn.append(y) or axhline(ax, y, *a, **k))
    monkeypatch.setattr(matplotlib.axes.Axes, "set_ylim",
                        lambda ax, *a, **k: limits.append(a) or set_ylim(ax, *a, **k))
    lines = ([{"step": s, "loss": 10.0 / s} for s in range(1, 101)]
             + [{"step": 50, "split": "test", "nll": 0.4},
                {"step": 100, "split": "test", "nll": 0.3}])
    path = plots.plot_train_and_test(str(tmp_path / "n.png"), lines, "loss", "nll",
                                     reference=0.05, ylabel="NLL")
    assert lines_drawn == [0.05]
    lo, hi = limits[-1]
    # From the reference (below every loss) to the highest test value, with 5% margins;
    # the first steps' losses (up to 10) are cut off.
    assert lo == pytest.approx(0.05 - 0.05 * 0.35) and hi == pytest.approx(0.4 + 0.05 * 0.35)
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
