"""PNG plots written into the workdir: samples, 2D densities, loss curves.

Pure plotting of numpy arrays with matplotlib's Agg backend; nothing here
touches the training state.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence

import numpy as np


def _pyplot():
    import matplotlib
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    return plt


def sample_kind(samples: np.ndarray) -> str:
    """How :func:`plot_samples` draws an array: ``"scalars"``, ``"vectors"`` or ``"images"``.

    By rank only, never by size: ``(N,)`` and ``(N, 1)`` are scalars, ``(N, D)`` with
    ``D >= 2`` are vectors (``D = 64`` too: a vector whose length is a square is not an
    image), ``(N, H, W)`` and ``(N, H, W, C)`` are images.

    Raises:
      ValueError: for any other rank.
    """
    shape = np.shape(samples)
    if len(shape) == 1 or (len(shape) == 2 and shape[1] == 1):
        return "scalars"
    if len(shape) == 2:
        return "vectors"
    if len(shape) in (3, 4):
        return "images"
    raise ValueError(f"samples must be (N,), (N, D), (N, H, W) or (N, H, W, C); got shape "
                     f"{shape}")


def plot_samples(path: str, samples: np.ndarray, reference: np.ndarray | None = None,
                 title: str = "samples") -> str:
    """Scatter plot for vectors, a histogram for scalars, an image grid for images.

    Args:
      path: output PNG path.
      samples: ``(N, D)`` vectors (``D >= 2``: the first two coordinates are drawn),
        ``(N,)`` or ``(N, 1)`` scalars, or ``(N, H, W)`` / ``(N, H, W, C)`` images
        (any range; each image grid is scaled to the samples' min and max; with ``C`` not
        1, 3 or 4 channel 0 is drawn); see :func:`sample_kind`.
      reference: optional data drawn beside scalar or vector samples; left out when its
        examples do not have the samples' size ``D`` (e.g. images beside vectors).
      title: figure title.

    Returns:
      ``path``.

    Raises:
      ValueError: for samples of another rank.
    """
    plt = _pyplot()
    samples = np.asarray(samples)
    kind = sample_kind(samples)
    if reference is not None:
        reference = np.asarray(reference).reshape(len(reference), -1)
        if kind == "images" or reference.shape[1] != max(samples[0].size, 1):
            reference = None
    if kind == "vectors" and samples.shape[1] > 2:
        title = f"{title} (coordinates 0 and 1 of {samples.shape[1]})"
    if kind == "scalars":
        fig, ax = plt.subplots(figsize=(5, 4))
        ax.hist(samples.reshape(-1), bins=50, density=True, alpha=0.6, label=title)
        if reference is not None:
            ax.hist(reference.reshape(-1), bins=50, density=True, alpha=0.6, label="data")
        ax.legend()
    elif kind == "vectors":
        fig, ax = plt.subplots(figsize=(4.5, 4.5))
        points = samples[:, :2]
        lim = _limits(points if reference is None else np.concatenate([points,
                                                                       reference[:, :2]]))
        # The samples are drawn over the data (grey, underneath).
        ax.scatter(points[:, 0], points[:, 1], s=3, alpha=0.6, color="C1", zorder=2,
                   label=title)
        if reference is not None:
            ax.scatter(reference[:, 0], reference[:, 1], s=3, alpha=0.4, color="0.6",
                       zorder=1, label="data")
            ax.legend(loc="upper right", markerscale=3, fontsize="small")
            title = f"{title} over the data"
        ax.set(xlim=lim[0], ylim=lim[1], title=title, aspect="equal")
    else:
        if samples.ndim == 4 and samples.shape[-1] not in (1, 3, 4):
            title = f"{title} (channel 0 of {samples.shape[-1]})"
            samples = samples[..., 0]
        fig, ax = plt.subplots(figsize=(6, 6))
        ax.imshow(image_grid(samples[:64]), cmap="gray")
        ax.set(title=title)
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def write_text_samples(path: str, tokens: np.ndarray, vocab: Sequence[str] | None = None) -> str:
    """Writes integer token sequences ``(N, T)`` to a text file, one sample per line.

    With ``vocab`` (a dataset's ``info.vocab``) tokens are decoded and joined (characters
    of a character-level vocabulary join without spaces, longer tokens with spaces);
    without it the token ids are written separated by spaces.
    """
    tokens = np.asarray(tokens)
    if tokens.ndim != 2 or not np.issubdtype(tokens.dtype, np.integer):
        raise ValueError(f"text samples must be integer token ids of shape (N, T); got "
                         f"{tokens.dtype} {tokens.shape}")
    lines = []
    for row in tokens:
        if vocab is None:
            lines.append(" ".join(str(int(t)) for t in row))
        else:
            pieces = [vocab[int(t)] if 0 <= int(t) < len(vocab) else f"<{int(t)}>" for t in row]
            sep = "" if all(len(v) <= 1 for v in vocab) else " "
            lines.append(sep.join(pieces).replace("\n", "\\n"))
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    return path


def image_grid(images: np.ndarray, pad: int = 1) -> np.ndarray:
    """Tiles ``(N, H, W[, C])`` images into one ``(rows*(H+pad), cols*(W+pad)[, C])`` mosaic.

    Each image is scaled to [0, 1] by the min and max over all images.
    """
    images = np.asarray(images, np.float32)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    lo, hi = float(images.min()), float(images.max())
    images = (images - lo) / max(hi - lo, 1e-12)
    n, h, w = images.shape[:3]
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    grid = np.ones((rows * (h + pad) + pad, cols * (w + pad) + pad) + images.shape[3:],
                   np.float32)
    for i, image in enumerate(images):
        r, c = divmod(i, cols)
        grid[pad + r * (h + pad):pad + r * (h + pad) + h,
             pad + c * (w + pad):pad + c * (w + pad) + w] = image
    return grid


def _limits(points: np.ndarray, margin: float = 0.1) -> tuple[tuple[float, float], ...]:
    lo = np.percentile(points, 0.5, axis=0)
    hi = np.percentile(points, 99.5, axis=0)
    pad = margin * (hi - lo)
    return tuple((float(lo[i] - pad[i]), float(hi[i] + pad[i])) for i in range(2))


def plot_density_2d(path: str, log_prob: Callable[[np.ndarray], np.ndarray],
                    data: np.ndarray, resolution: int = 128) -> str:
    """The data's histogram and the model density ``exp(log_prob)`` side by side.

    Both panels cover the same window (fixed by ``data``) with the same colour scale, so
    the model can be compared with the data square by square.

    Args:
      path: output PNG path.
      log_prob: maps ``(M, 2)`` points to ``(M,)`` log-densities.
      data: ``(N, 2)`` points: the left panel's normalized histogram, and the window.
      resolution: grid points per axis of the model panel (the histogram has a quarter as
        many bins per axis, so that each holds enough points).

    Returns:
      ``path``.
    """
    plt = _pyplot()
    data = np.asarray(data)
    (x0, x1), (y0, y1) = _limits(data)
    xs, ys = np.linspace(x0, x1, resolution), np.linspace(y0, y1, resolution)
    grid = np.stack(np.meshgrid(xs, ys), -1).reshape(-1, 2).astype(np.float32)
    density = np.exp(np.asarray(log_prob(grid))).reshape(resolution, resolution)
    bins = max(resolution // 4, 1)
    counts, _, _ = np.histogram2d(data[:, 0], data[:, 1], bins=bins,
                                  range=((x0, x1), (y0, y1)))
    # Normalized by all N points (also those outside the window): a density estimate.
    histogram = counts.T / (len(data) * (x1 - x0) * (y1 - y0) / bins ** 2)
    finite = density[np.isfinite(density)]
    vmax = max(np.percentile(histogram, 99.5),
               np.percentile(finite, 99.5) if finite.size else 0.0) or 1.0
    fig, axes = plt.subplots(1, 2, figsize=(8, 4))
    for ax, image, name in zip(axes, (histogram, density), ("data", "model density")):
        ax.imshow(image, origin="lower", extent=(x0, x1, y0, y1), cmap="viridis",
                  vmin=0.0, vmax=vmax)
        ax.set(title=name, aspect="equal")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def _series(lines: Sequence[dict], key: str, split: str | None):
    """``(steps, values)`` of ``key`` on the lines of ``split`` (None: training lines)."""
    pts = [(m["step"], m[key]) for m in lines
           if m.get("split") == split and isinstance(m.get(key), float)]
    return tuple(zip(*pts)) if pts else ((), ())


def plot_loss_curve(path: str, lines: Sequence[dict], keys: Sequence[str] = ("loss",)) -> str:
    """Training loss (and validation/test metrics, if given in ``keys``) by step."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for key in keys:
        for split in (None, "validation", "test"):
            steps, values = _series(lines, key, split)
            if steps:
                ax.plot(steps, values, label=f"{split or 'train'} {key}",
                        marker="o" if split else None)
    ax.set(xlabel="step", title=os.path.basename(os.path.dirname(os.path.abspath(path))))
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def plot_train_and_test(path: str, lines: Sequence[dict], train_key: str, test_key: str,
                        reference: float | None = None, reference_label: str = "reference",
                        ylabel: str = "") -> str:
    """One quantity by step on the training and the test lines, with a reference line.

    E.g. a density model's training loss (its train NLL) and test ``nll`` with the data's
    entropy as the horizontal line both approach from above. The y-axis starts at the
    lowest value drawn and stops at the highest test value (or, without test lines, the
    training values' 90th percentile), so the early steps' large losses do not flatten the
    end of the curve.

    Args:
      path: output PNG path.
      lines: the run's ``metrics.jsonl`` lines (:func:`~likelihood_jax.train.read_metrics`).
      train_key: the key on the training lines (e.g. ``"loss"``).
      test_key: the key on the ``"split": "test"`` lines (e.g. ``"nll"``).
      reference: a value drawn as a dashed horizontal line (None: no line).
      reference_label: its legend entry.
      ylabel: the y-axis label.

    Returns:
      ``path``.
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    train, test = _series(lines, train_key, None), _series(lines, test_key, "test")
    if train[0]:
        ax.plot(*train, color="C0", lw=1, label="train")
    if test[0]:
        ax.plot(*test, color="C3", marker="o", label="test")
    drawn = list(train[1]) + list(test[1])
    if reference is not None:
        ax.axhline(reference, color="k", ls="--", lw=1,
                   label=f"{reference_label} {reference:.3f}")
        drawn.append(reference)
    if drawn:
        top = max(test[1]) if test[0] else float(np.percentile(train[1] or drawn, 90))
        bottom = min(drawn)
        pad = 0.05 * max(top - bottom, 1e-6)
        ax.set_ylim(bottom - pad, top + pad)
    ax.set(xlabel="step", ylabel=ylabel)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path
