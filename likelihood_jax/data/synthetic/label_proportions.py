"""Learning-from-label-proportions bags over ``digits`` [P231] (``digits_label_proportions``).

The binary task of the LLP experiment: ``label = 1`` if the digit is ``>= threshold``. The
training split of ``digits`` is shuffled (``seed``) and cut into consecutive bags whose
sizes are drawn uniformly from ``[min_bag_size, max_bag_size]`` (the last bag takes what is
left if that is at least ``min_bag_size``, else its items go one by one to random bags
that are not full). A learner sees
only ``x`` and, per instance, its ``bag`` index and its bag's label count ``bag_count`` and
size ``bag_size``; ``label`` is kept for evaluation only. ``x`` is the flattened image scaled
to ``[0, 1]`` (64 features). The test split holds single instances (``bag = -1``,
``bag_count = bag_size = 0``) with their true binary labels.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from likelihood_jax.data import loader

__all__ = ["bag_sizes", "load_digits_label_proportions"]


def bag_sizes(num_items: int, min_size: int, max_size: int,
              rng: np.random.Generator) -> np.ndarray:
    """Sizes drawn uniformly from ``[min_size, max_size]`` that sum to ``num_items``."""
    if not 1 <= min_size <= max_size:
        raise ValueError(f"bag sizes must satisfy 1 <= min_bag_size <= max_bag_size, got "
                         f"{min_size} and {max_size}")
    if num_items < min_size:
        raise ValueError(f"num_items must be at least min_bag_size = {min_size}, got "
                         f"{num_items}")
    sizes = []
    while sum(sizes) < num_items:
        sizes.append(int(rng.integers(min_size, max_size + 1)))
    sizes[-1] -= sum(sizes) - num_items
    if sizes[-1] < min_size and len(sizes) > 1:  # spread a short last bag over the others
        for _ in range(sizes.pop()):
            open_bags = [j for j, size in enumerate(sizes) if size < max_size]
            if not open_bags:
                raise ValueError(f"cannot cut {num_items} items into bags of {min_size}-"
                                 f"{max_size}")
            sizes[open_bags[int(rng.integers(len(open_bags)))]] += 1
    return np.array(sizes)


def _binary(split: dict, threshold: int, scale: float) -> dict:
    return {"x": split["x"].reshape(len(split["x"]), -1).astype(np.float32) / scale,
            "label": (split["label"] >= threshold).astype(np.int32)}


def load_digits_label_proportions(name: str, data_dir: str, min_bag_size: int = 8,
                                  max_bag_size: int = 32, threshold: int = 5,
                                  seed: int = 0) -> loader.Dataset:
    """``digits`` as LLP bags (module docstring); registered as ``digits_label_proportions``."""
    digits = loader.load_dataset("digits", data_dir=data_dir)
    scale = float(digits.info.num_levels - 1)
    rng = np.random.default_rng(seed)
    train = _binary(digits.train, threshold, scale)
    order = rng.permutation(len(train["x"]))
    train = {k: v[order] for k, v in train.items()}
    sizes = bag_sizes(len(order), min_bag_size, max_bag_size, rng)
    bag = np.repeat(np.arange(len(sizes)), sizes).astype(np.int32)
    counts = np.bincount(bag, weights=train["label"]).astype(np.int32)
    train.update(bag=bag, bag_count=counts[bag], bag_size=sizes[bag].astype(np.int32))
    test = _binary(digits.test, threshold, scale)
    empty = np.zeros(len(test["x"]), np.int32)
    test.update(bag=empty - 1, bag_count=empty, bag_size=empty)
    info = dataclasses.replace(
        digits.info, kind="continuous", event_shape=(train["x"].shape[1],), num_levels=None,
        num_classes=2,
        description=(f"digits as LLP bags: label = digit >= {threshold}; {len(sizes)} training "
                     f"bags of {min_bag_size}-{max_bag_size} instances (seed {seed})"))
    return loader.Dataset(name, train, test, info)
