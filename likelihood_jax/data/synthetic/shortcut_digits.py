"""Digits with a planted shortcut pixel (the PoE debiasing [P069] data).

8x8 digits with one planted bright pixel in the empty border (column 0, rows 0-7, and
column 7, rows 0-1: ten positions, one per class). In the training split and the
in-distribution test set (``x``) the pixel sits at the position of the true class with
probability ``correlation`` and at one of the nine other positions otherwise; in the
shortcut-free test sets it is at a uniformly random position (``x_random``) or always at
a wrong class's position (``x_flipped``). Registered as ``"shortcut_digits"``
(:func:`load_shortcut_digits`).
"""

from __future__ import annotations

import numpy as np

from likelihood_jax.data.loader import Dataset, DatasetInfo, load_dataset

BORDER = tuple((r, 0) for r in range(8)) + tuple((r, 7) for r in range(8))
"""The 16 pixels of the border columns, nearly always empty in the digits."""


def patch_code(k: int, num_pixels: int) -> tuple[tuple[int, int], ...]:
    """The border pixels lit for class ``k``: ``BORDER[(k + 5 j) % 16]``, ``j < num_pixels``."""
    return tuple(BORDER[(k + 5 * j) % 16] for j in range(num_pixels))


def _patch(x: np.ndarray, codes: np.ndarray, value: int, num_pixels: int) -> np.ndarray:
    x = np.array(x, copy=True)
    for k in range(10):
        for r, c in patch_code(k, num_pixels):
            x[codes == k, r, c, 0] = value
    return x


def _biased_positions(rng, labels, correlation):
    """The label's position with probability ``correlation``, else one of the other nine."""
    other = (labels + rng.integers(1, 10, len(labels))) % 10
    return np.where(rng.random(len(labels)) < correlation, labels, other)


def shortcut_digits(correlation: float = 0.9, patch_value: int = 16, num_pixels: int = 1,
                    seed: int = 0, *, data_dir: str | None = None,
                    name: str = "shortcut_digits") -> Dataset:
    """Digits with a planted shortcut pixel (see the module docstring).

    Returns:
      A dataset with ``train = {x, label}`` and ``test = {x (in-distribution), x_random,
      x_flipped, label}``; images uint8 ``(N, 8, 8, 1)`` in ``0..16``.
    """
    if not 0.0 <= correlation <= 1.0:
        raise ValueError(f"correlation must be in [0, 1], got {correlation}")
    if not 1 <= num_pixels <= 3:
        raise ValueError(f"num_pixels must be 1, 2 or 3, got {num_pixels}")
    raw = load_dataset("digits", data_dir=data_dir)
    rng = np.random.default_rng(seed)
    train_label, test_label = raw.train["label"], raw.test["label"]
    train = {"x": _patch(raw.train["x"], _biased_positions(rng, train_label, correlation),
                         patch_value, num_pixels), "label": train_label}
    n = len(test_label)
    test = {
        "x": _patch(raw.test["x"], _biased_positions(rng, test_label, correlation),
                    patch_value, num_pixels),
        "x_random": _patch(raw.test["x"], rng.integers(0, 10, n), patch_value, num_pixels),
        "x_flipped": _patch(raw.test["x"], _biased_positions(rng, test_label, 0.0),
                            patch_value, num_pixels),
        "label": test_label,
    }
    info = DatasetInfo(
        kind="image", event_shape=(8, 8, 1), num_levels=17, num_classes=10,
        description=f"digits with a shortcut pixel at the label's border position for "
                    f"{correlation:.0%} of the training images")
    return Dataset(name, train, test, info)


def load_shortcut_digits(name: str, data_dir: str | None = None, *, correlation: float = 0.9,
                         patch_value: int = 16, num_pixels: int = 1, seed: int = 0) -> Dataset:
    """The ``"shortcut_digits"`` dataset: :func:`shortcut_digits` of these options."""
    return shortcut_digits(correlation, patch_value, num_pixels, seed, data_dir=data_dir,
                           name=name)
