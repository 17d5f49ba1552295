"""Small images of 1 to 3 axis-aligned rectangles and their boxes (detection, D-RMM [P136]).

Each ``size x size`` image holds ``n ~ U{1..max_objects}`` bright rectangles (value 1) of
sides drawn uniformly from ``[min_side, max_side]`` pixels on a dark background, placed so
that no two touch (at least one background pixel apart), plus Gaussian pixel noise of
standard deviation ``noise``. Registered as ``rectangles`` (:func:`load_rectangles`):

* ``x`` float32 ``(N, size, size, 1)``;
* ``boxes`` float32 ``(N, max_objects, 4)``: ``(x1, y1, x2, y2)`` in units of the image side
  (``[0, 1]``; a rectangle covering columns ``c..c+w-1`` has ``x1 = c / size``,
  ``x2 = (c + w) / size``), zero rows for padding;
* ``box_mask`` float32 ``(N, max_objects)``: 1 for a real box;
* ``num_objects`` int32 ``(N,)``.

``num_train`` then ``num_test`` images from one generator seeded with ``seed``.
"""

from __future__ import annotations

import numpy as np

from likelihood_jax import data as data_lib


def _check(size: int, max_objects: int, min_side: int, max_side: int) -> None:
    if max_objects < 1:
        raise ValueError(f"max_objects must be >= 1, got {max_objects}")
    if not 1 <= min_side <= max_side:
        raise ValueError(f"need 1 <= min_side <= max_side, got {min_side}, {max_side}")
    if max_objects * (max_side + 1) ** 2 > size * size:
        raise ValueError(f"size {size} is too small for {max_objects} rectangles of side "
                         f"up to {max_side}")


def sample_rectangles(rng: np.random.Generator, num_images: int, size: int = 16,
                      max_objects: int = 3, min_side: int = 3, max_side: int = 7,
                      noise: float = 0.1) -> dict[str, np.ndarray]:
    """``num_images`` images and their boxes (module docstring), drawn with ``rng``."""
    _check(size, max_objects, min_side, max_side)
    if noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    images = np.zeros((num_images, size, size), np.float32)
    boxes = np.zeros((num_images, max_objects, 4), np.float32)
    mask = np.zeros((num_images, max_objects), np.float32)
    counts = rng.integers(1, max_objects + 1, size=num_images)
    for i, count in enumerate(counts):
        placed, tries = 0, 0
        while placed < count:
            if tries % 200 == 0:  # start the image again after a run of failed placements
                taken, placed = np.zeros((size, size), bool), 0
                images[i], boxes[i], mask[i] = 0.0, 0.0, 0.0
            tries += 1
            h, w = rng.integers(min_side, max_side + 1, size=2)
            r, c = rng.integers(0, size - h + 1), rng.integers(0, size - w + 1)
            if taken[max(r - 1, 0):r + h + 1, max(c - 1, 0):c + w + 1].any():
                continue
            taken[r:r + h, c:c + w] = True
            images[i, r:r + h, c:c + w] = 1.0
            boxes[i, placed] = np.array([c, r, c + w, r + h], np.float32) / size
            mask[i, placed] = 1.0
            placed += 1
    images += noise * rng.standard_normal(images.shape).astype(np.float32)
    return {"x": images[..., None], "boxes": boxes, "box_mask": mask,
            "num_objects": counts.astype(np.int32)}


def load_rectangles(name: str, data_dir: str | None = None, size: int = 16,
                    max_objects: int = 3, min_side: int = 3, max_side: int = 7,
                    noise: float = 0.1, num_train: int = 2000, num_test: int = 500,
                    seed: int = 0) -> data_lib.Dataset:
    """Both splits (module docstring); ``data_dir`` is ignored."""
    del data_dir
    rng = np.random.default_rng(int(seed))
    opts = dict(size=int(size), max_objects=int(max_objects), min_side=int(min_side),
                max_side=int(max_side), noise=float(noise))
    train = sample_rectangles(rng, int(num_train), **opts)
    test = sample_rectangles(rng, int(num_test), **opts)
    return data_lib.Dataset(name, train, test, data_lib.DatasetInfo(
        kind="continuous", event_shape=(int(size), int(size), 1),
        description=f"{size}x{size} images of 1-{max_objects} rectangles with their boxes"))
