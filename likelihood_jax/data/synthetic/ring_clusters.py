"""Labelled ring-shaped 2D clusters: non-Gaussian classes for clustering (GAN-EM [P054]).

``num_rings`` equally likely classes; class ``k`` is a circle of radius ``r_k`` around
``c_k`` with isotropic ``N(0, noise^2)`` jitter, the angle uniform:

* ``layout="concentric"``: ``c_k = 0``, ``r_k = (k + 1) * radius``; the clusters share a
  centre, so a Gaussian mixture (clusters by location and spread) cannot separate them;
* ``layout="chain"``: ``r_k = radius``, ``c_k = (k * spacing * radius, 0)``; interlocking
  rings for ``spacing < 2``.

Registered as ``ring_clusters`` (:func:`load_ring_clusters`): ``x`` float32 ``(N, 2)`` and
``label`` int32; train rows, then test rows, from one generator seeded with ``seed``.
"""

from __future__ import annotations

import numpy as np

from likelihood_jax import data as data_lib

LAYOUTS = ("concentric", "chain")


def ring_centers_and_radii(num_rings: int, layout: str, radius: float, spacing: float
                           ) -> tuple[np.ndarray, np.ndarray]:
    """``(centers (K, 2), radii (K,))`` of the rings.

    Raises:
      ValueError: ``num_rings < 2``, an unknown ``layout`` or a non-positive ``radius``.
    """
    if num_rings < 2:
        raise ValueError(f"ring_clusters: num_rings must be >= 2, got {num_rings}")
    if layout not in LAYOUTS:
        raise ValueError(f"ring_clusters: layout must be one of {LAYOUTS}, got {layout!r}")
    if radius <= 0:
        raise ValueError(f"ring_clusters: radius must be positive, got {radius}")
    k = np.arange(num_rings, dtype=np.float64)
    if layout == "concentric":
        return np.zeros((num_rings, 2)), (k + 1.0) * radius
    centers = np.stack([k * spacing * radius, np.zeros(num_rings)], axis=1)
    return centers - centers.mean(axis=0), np.full(num_rings, float(radius))


def load_ring_clusters(name: str, data_dir: str | None = None, num_rings: int = 2,
                       layout: str = "concentric", radius: float = 1.0, spacing: float = 1.5,
                       noise: float = 0.1, num_train: int = 4000, num_test: int = 2000,
                       seed: int = 0) -> data_lib.Dataset:
    """Samples both splits (see the module docstring); ``data_dir`` is ignored."""
    del data_dir
    centers, radii = ring_centers_and_radii(int(num_rings), layout, float(radius),
                                            float(spacing))
    rng = np.random.default_rng(int(seed))

    def split(n):
        label = rng.integers(0, int(num_rings), size=int(n))
        angle = rng.uniform(0.0, 2.0 * np.pi, size=int(n))
        circle = np.stack([np.cos(angle), np.sin(angle)], axis=1) * radii[label, None]
        x = centers[label] + circle + rng.normal(scale=float(noise), size=(int(n), 2))
        return {"x": x.astype(np.float32), "label": label.astype(np.int32)}

    train = split(num_train)
    test = split(num_test)
    return data_lib.Dataset(name, train, test, data_lib.DatasetInfo(
        kind="continuous", event_shape=(2,), num_classes=int(num_rings),
        description=f"{num_rings} {layout} ring clusters (radius {radius}, noise {noise})"))
