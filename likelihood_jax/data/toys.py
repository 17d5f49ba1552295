"""Two-dimensional toy densities as pure numpy samplers.

Every toy is a function of ``(rng, n)`` that returns ``n`` i.i.d. points as a
``(n, 2)`` float32 array; :func:`sample_toy` is the public entry point::

    x = sample_toy("checkerboard", 1000, seed=0)

The definitions follow the FFJORD toy data (Grathwohl et al. 2019,
``lib/toy_data.py``) that later score/flow papers reuse, except that every
sampler here draws i.i.d. points (sklearn's ``make_moons``/``make_circles``
place points on an evenly spaced angle grid; here the angles are uniform and
the component is a fair coin), and ``sine``/``swirl`` follow the EBFlow code
(Chao et al. 2023, "Training Energy-Based Normalizing Flow with Score-Matching
Objectives", ``toy_examples/ebflow/datasets``).

===============  =============================================================
name             definition
===============  =============================================================
moons            two interleaved half circles (sklearn ``make_moons`` with
                 noise 0.1), scaled by 2 and shifted by (-1, -0.2)
circles          two concentric circles of radius 3 and 1.5 (``make_circles``
                 with factor 0.5, noise 0.08, scaled by 3)
rings            four concentric circles of radius 3, 2.25, 1.5, 0.75 with
                 N(0, 0.08^2) noise
8gaussians       8 Gaussians, std 0.5 around centers at radius 4 every 45
                 degrees, everything divided by 1.414
checkerboard     uniform on the 8 dark squares of a 4x4 board of 2x2 squares
                 covering [-4, 4]^2 (squares with floor(x/2)+floor(y/2) even)
2spirals         two arms +-(-n cos n + U(0, 0.5), n sin n + U(0, 0.5)) / 3,
                 n = 3*pi*sqrt(U(0, 1)), plus N(0, 0.1^2) noise
pinwheel         5 arms; radial N(1, 0.3^2), tangential N(0, 0.1^2), twisted
                 by angle 0.25*exp(radial), scaled by 2
swissroll        sklearn ``make_swiss_roll`` with noise 1.0, coordinates
                 (x, z), divided by 5
sine             (4u, 4(sin(3u) + 0.25 e)), u ~ U(-2, 2), e ~ N(0, 1) (EBFlow)
swirl            one spiral arm: -(2.5/3) * (-n cos n + U(0,.5) - 1,
                 n sin n + U(0,.5) - 2), n = 3*pi*sqrt(U) (EBFlow)
===============  =============================================================
"""

from __future__ import annotations

from typing import Callable

import numpy as np

__all__ = ["TOY_NAMES", "TRAIN_SEED", "TEST_SEED", "mixture_modes", "sample_toy"]

#: Seed of the materialized train split of every toy dataset.
TRAIN_SEED = 0
#: Seed of the materialized test split of every toy dataset.
TEST_SEED = 1


def _moons(rng: np.random.Generator, n: int) -> np.ndarray:
    upper = rng.random(n) < 0.5
    t = rng.uniform(0.0, np.pi, n)
    x = np.where(upper, np.cos(t), 1.0 - np.cos(t))
    y = np.where(upper, np.sin(t), 0.5 - np.sin(t))
    points = np.stack([x, y], axis=1) + rng.normal(scale=0.1, size=(n, 2))
    return points * 2.0 + np.array([-1.0, -0.2])


def _circles(rng: np.random.Generator, n: int) -> np.ndarray:
    radius = np.where(rng.random(n) < 0.5, 1.0, 0.5)
    t = rng.uniform(0.0, 2.0 * np.pi, n)
    points = radius[:, None] * np.stack([np.cos(t), np.sin(t)], axis=1)
    points = points + rng.normal(scale=0.08, size=(n, 2))
    return points * 3.0


def _rings(rng: np.random.Generator, n: int) -> np.ndarray:
    radius = np.array([1.0, 0.75, 0.5, 0.25])[rng.integers(0, 4, n)]
    t = rng.uniform(0.0, 2.0 * np.pi, n)
    points = 3.0 * radius[:, None] * np.stack([np.cos(t), np.sin(t)], axis=1)
    return points + rng.normal(scale=0.08, size=(n, 2))


def _eight_gaussian_centers() -> np.ndarray:
    angles = np.arange(8) * (np.pi / 4.0)
    return 4.0 * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def _eight_gaussians(rng: np.random.Generator, n: int) -> np.ndarray:
    points = _eight_gaussian_centers()[rng.integers(0, 8, n)] + rng.normal(scale=0.5, size=(n, 2))
    return points / 1.414


def mixture_modes(name: str) -> tuple[np.ndarray, float] | None:
    """``(centers [K, 2] float32, std)`` of a toy made of equally likely isotropic Gaussians.

    For ``metrics.mode_coverage``: ``8gaussians`` has 8 modes at radius ``4 / 1.414`` every
    45 degrees, each with std ``0.5 / 1.414`` (the sampler divides everything by 1.414).
    None for any other dataset name (no known modes), so a caller can branch on it.
    """
    if name != "8gaussians":
        return None
    return (_eight_gaussian_centers() / 1.414).astype(np.float32), 0.5 / 1.414


def _checkerboard(rng: np.random.Generator, n: int) -> np.ndarray:
    x1 = rng.random(n) * 4.0 - 2.0
    x2 = rng.random(n) - rng.integers(0, 2, n) * 2.0
    x2 = x2 + np.floor(x1) % 2
    return np.stack([x1, x2], axis=1) * 2.0


def _two_spirals(rng: np.random.Generator, n: int) -> np.ndarray:
    t = np.sqrt(rng.random(n)) * 3.0 * np.pi
    dx = -np.cos(t) * t + rng.random(n) * 0.5
    dy = np.sin(t) * t + rng.random(n) * 0.5
    sign = np.where(rng.random(n) < 0.5, 1.0, -1.0)
    points = sign[:, None] * np.stack([dx, dy], axis=1) / 3.0
    return points + rng.normal(scale=0.1, size=(n, 2))


def _pinwheel(rng: np.random.Generator, n: int) -> np.ndarray:
    num_arms, rate = 5, 0.25
    arm = rng.integers(0, num_arms, n)
    features = rng.normal(size=(n, 2)) * np.array([0.3, 0.1])
    features[:, 0] += 1.0
    angles = arm * (2.0 * np.pi / num_arms) + rate * np.exp(features[:, 0])
    cos, sin = np.cos(angles), np.sin(angles)
    # Row vector times the rotation [[cos, -sin], [sin, cos]] (FFJORD's einsum).
    x = features[:, 0] * cos + features[:, 1] * sin
    y = -features[:, 0] * sin + features[:, 1] * cos
    return 2.0 * np.stack([x, y], axis=1)


def _swissroll(rng: np.random.Generator, n: int) -> np.ndarray:
    t = 1.5 * np.pi * (1.0 + 2.0 * rng.random(n))
    points = np.stack([t * np.cos(t), t * np.sin(t)], axis=1)
    return (points + rng.normal(scale=1.0, size=(n, 2))) / 5.0


def _sine(rng: np.random.Generator, n: int) -> np.ndarray:
    u = rng.random(n) * 4.0 - 2.0
    y = np.sin(3.0 * u) + rng.normal(size=n) * 0.25
    return np.stack([u, y], axis=1) * 4.0


def _swirl(rng: np.random.Generator, n: int) -> np.ndarray:
    scale = 2.5 / 3.0
    t = np.sqrt(rng.random(n)) * 3.0 * np.pi
    dx = -np.cos(t) * t + rng.random(n) * 0.5 - 1.0
    dy = np.sin(t) * t + rng.random(n) * 0.5 - 2.0
    return -scale * np.stack([dx, dy], axis=1)


_SAMPLERS: dict[str, Callable[[np.random.Generator, int], np.ndarray]] = {
    "moons": _moons,
    "circles": _circles,
    "rings": _rings,
    "8gaussians": _eight_gaussians,
    "checkerboard": _checkerboard,
    "2spirals": _two_spirals,
    "pinwheel": _pinwheel,
    "swissroll": _swissroll,
    "sine": _sine,
    "swirl": _swirl,
}

#: Names of the 2D toy datasets, in a fixed order.
TOY_NAMES: tuple[str, ...] = tuple(_SAMPLERS)


def sample_toy(name: str, n: int, seed: int) -> np.ndarray:
    """Draws ``n`` i.i.d. points from the 2D toy density ``name``.

    The result is a deterministic function of ``(name, n, seed)``: the
    generator is ``np.random.default_rng(seed)``. The materialized datasets
    use ``seed=TRAIN_SEED`` for the train split and ``seed=TEST_SEED`` for the
    test split, so ``sample_toy("moons", 20000, TRAIN_SEED)`` equals
    ``load_dataset("moons").train["x"]``.

    Args:
      name: One of :data:`TOY_NAMES` (see the module docstring for the
        definitions).
      n: Number of points, ``n >= 0``.
      seed: Seed for ``np.random.default_rng``.

    Returns:
      A ``(n, 2)`` float32 array.

    Raises:
      ValueError: If ``name`` is not a toy name or ``n`` is negative.
    """
    if name not in _SAMPLERS:
        raise ValueError(f"Unknown toy dataset {name!r}; known: {', '.join(TOY_NAMES)}.")
    n = int(n)
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}.")
    rng = np.random.default_rng(seed)
    return np.asarray(_SAMPLERS[name](rng, n), dtype=np.float32).reshape(n, 2)

