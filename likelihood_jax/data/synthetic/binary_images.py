"""Binary images for Boltzmann machines: bars and stripes, and binarized digits [P139].

* ``bars_and_stripes`` (:func:`load_bars_and_stripes`): the classic toy of Boltzmann-machine
  papers (MacKay 2003, Sec. 43): the ``rows x cols`` binary images whose rows are all equal
  (vertical bars: every column constant) or whose columns are all equal (horizontal
  stripes); there are ``K = 2^rows + 2^cols - 2`` distinct patterns (all-off and all-on are
  both). Train and test rows are drawn uniformly from the patterns with ``seed`` and
  ``seed + 1``, so the best possible test NLL is the entropy ``log K`` (nats) per image
  (:func:`bars_and_stripes_patterns` lists them). ``x`` uint8 ``(N, rows, cols, 1)``.
* ``binarized_digits`` (:func:`load_binarized_digits`): the images of ``source``
  (``digits``, 17 levels, or ``mnist5k``, 256 levels) thresholded deterministically,
  ``x = 1`` where ``level / (num_levels - 1) >= threshold`` (default 0.5); same split and
  labels as the source. ``x`` uint8 ``(N, H, W, 1)`` in ``{0, 1}``.

Both have ``info.kind = "image"`` and ``info.num_levels = 2``.
"""

from __future__ import annotations

import itertools

import numpy as np

from likelihood_jax.data.loader import Dataset, DatasetInfo, load_dataset

BINARIZABLE = ("digits", "mnist5k")


def bars_and_stripes_patterns(rows: int, cols: int) -> np.ndarray:
    """The ``2^rows + 2^cols - 2`` distinct bars-and-stripes images, uint8 ``(K, rows, cols)``.

    Sorted by their flattened bits (as a binary number, first pixel most significant).
    """
    if rows < 1 or cols < 1:
        raise ValueError(f"rows and cols must be >= 1, got {rows}, {cols}")
    patterns = set()
    for bits in itertools.product((0, 1), repeat=cols):  # vertical bars: equal rows
        patterns.add(tuple(np.tile(np.asarray(bits), (rows, 1)).ravel()))
    for bits in itertools.product((0, 1), repeat=rows):  # horizontal stripes: equal columns
        patterns.add(tuple(np.repeat(np.asarray(bits), cols)))
    return np.asarray(sorted(patterns), np.uint8).reshape(-1, rows, cols)


def load_bars_and_stripes(name: str, data_dir: str | None = None, *, rows: int = 2,
                          cols: int = 3, num_train: int = 1000, num_test: int = 1000,
                          seed: int = 0) -> Dataset:
    """The ``bars_and_stripes`` dataset (module docstring); ``data_dir`` is ignored."""
    del data_dir
    for field, value in (("num_train", num_train), ("num_test", num_test)):
        if int(value) < 1:
            raise ValueError(f"{field} must be >= 1, got {value}")
    patterns = bars_and_stripes_patterns(int(rows), int(cols))[..., None]
    splits = []
    for offset, count in ((0, num_train), (1, num_test)):
        rng = np.random.default_rng(int(seed) + offset)
        index = rng.integers(0, len(patterns), int(count))
        splits.append({"x": patterns[index], "index": index.astype(np.int32)})
    info = DatasetInfo(
        kind="image", event_shape=(int(rows), int(cols), 1), num_levels=2,
        description=f"{rows}x{cols} bars and stripes, uniform over {len(patterns)} patterns "
                    f"(entropy log {len(patterns)} nats)")
    return Dataset(name, splits[0], splits[1], info)


def load_binarized_digits(name: str, data_dir: str | None = None, *, source: str = "digits",
                          threshold: float = 0.5) -> Dataset:
    """The ``binarized_digits`` dataset (module docstring): ``source`` thresholded."""
    if source not in BINARIZABLE:
        raise ValueError(f"source must be one of {BINARIZABLE}, got {source!r}")
    if not 0.0 < float(threshold) <= 1.0:
        raise ValueError(f"threshold must lie in (0, 1], got {threshold}")
    raw = load_dataset(source, data_dir=data_dir)
    levels = raw.info.num_levels - 1

    def binarize(split):
        out = dict(split)
        out["x"] = (np.asarray(split["x"]) >= threshold * levels).astype(np.uint8)
        return out

    info = DatasetInfo(
        kind="image", event_shape=raw.info.event_shape, num_levels=2,
        num_classes=raw.info.num_classes,
        description=f"{source} binarized at level >= {threshold} * {levels}")
    return Dataset(name, binarize(raw.train), binarize(raw.test), info)
