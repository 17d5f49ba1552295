"""Data on low-dimensional manifolds, for injective flows [P009].

Registered datasets (``x`` float32; train rows, then test rows, from one numpy generator
seeded with ``seed``; ``noise`` adds isotropic Gaussian noise of that standard deviation):

* ``ppca``: ``x = W z + noise * eps`` with ``z ~ N(0, I_d)`` and the loading ``W`` of
  :func:`ppca_loading` (``(dim, latent_dim)``, orthogonal columns scaled by
  ``linspace(2, 1, latent_dim)``): a low-rank Gaussian whose principal subspace is
  ``span(W)``;
* ``circle_manifold`` (2D): ``(cos a, sin a)`` on the unit circle, the angle from a mixture
  of two von Mises laws (means 0 and 2.5, concentrations 2 and 4, weights 0.6 / 0.4), so
  the density along the circle is not uniform;
* ``sphere_manifold`` (3D): ``u / |u|`` with ``u ~ N((1.5, 0, 0), I)``: the unit sphere
  with more mass near ``(1, 0, 0)``;
* ``swissroll_surface`` (3D): ``(t cos t, h, t sin t) / 5`` with ``t ~ U(1.5 pi, 4.5 pi)``,
  ``h ~ U(-5, 5)``: a curved 2D sheet.
"""

from __future__ import annotations

import numpy as np

from likelihood_jax import data as data_lib

MANIFOLDS = ("circle_manifold", "sphere_manifold", "swissroll_surface")


def ppca_loading(dim: int, latent_dim: int, seed: int = 0) -> np.ndarray:
    """The loading ``W`` ``(dim, latent_dim)`` of ``ppca``: orthonormal ``Q`` times scales 2..1.

    Raises:
      ValueError: unless ``1 <= latent_dim < dim``.
    """
    dim, latent_dim = int(dim), int(latent_dim)
    if not 1 <= latent_dim < dim:
        raise ValueError(f"ppca: need 1 <= latent_dim < dim, got latent_dim={latent_dim}, "
                         f"dim={dim}")
    rng = np.random.default_rng(int(seed) + 10_000)
    q, _ = np.linalg.qr(rng.normal(size=(dim, latent_dim)))
    return q * np.linspace(2.0, 1.0, latent_dim)


def sample_manifold(name: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` noiseless points of manifold ``name`` (one of :data:`MANIFOLDS`)."""
    n = int(n)
    if name == "circle_manifold":
        first = rng.random(n) < 0.6
        angle = np.where(first, rng.vonmises(0.0, 2.0, n), rng.vonmises(2.5, 4.0, n))
        return np.stack([np.cos(angle), np.sin(angle)], -1)
    if name == "sphere_manifold":
        u = rng.normal(size=(n, 3)) + np.array([1.5, 0.0, 0.0])
        return u / np.linalg.norm(u, axis=-1, keepdims=True)
    if name == "swissroll_surface":
        t = rng.uniform(1.5 * np.pi, 4.5 * np.pi, n)
        h = rng.uniform(-5.0, 5.0, n)
        return np.stack([t * np.cos(t), h, t * np.sin(t)], -1) / 5.0
    raise ValueError(f"sample_manifold: name must be one of {MANIFOLDS}, got {name!r}")


def _splits(draw, num_train: int, num_test: int, noise: float, rng: np.random.Generator):
    if float(noise) < 0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    out = []
    for n in (num_train, num_test):
        x = draw(n)
        out.append({"x": (x + float(noise) * rng.normal(size=x.shape)).astype(np.float32)})
    return out


def load_manifold(name: str, data_dir: str | None = None, num_train: int = 10000,
                  num_test: int = 2000, noise: float = 0.0, seed: int = 0) -> data_lib.Dataset:
    """Points of the manifold ``name`` (``data_dir`` is ignored: nothing is stored)."""
    del data_dir
    rng = np.random.default_rng(int(seed))
    train, test = _splits(lambda n: sample_manifold(name, n, rng), num_train, num_test,
                          noise, rng)
    dim = train["x"].shape[1]
    return data_lib.Dataset(name, train, test, data_lib.DatasetInfo(
        kind="continuous", event_shape=(dim,),
        description=f"{name}: a {dim - 1}-dimensional manifold in {dim}D "
                    f"(likelihood_jax.data.synthetic.manifolds), noise std {noise}"))


def load_ppca(name: str, data_dir: str | None = None, dim: int = 8, latent_dim: int = 2,
              noise: float = 0.05, num_train: int = 5000, num_test: int = 1000,
              seed: int = 0) -> data_lib.Dataset:
    """``x = W z + noise * eps`` with ``W = ppca_loading(dim, latent_dim, seed)``."""
    del data_dir
    w = ppca_loading(dim, latent_dim, seed)
    rng = np.random.default_rng(int(seed))
    train, test = _splits(lambda n: rng.normal(size=(int(n), int(latent_dim))) @ w.T,
                          num_train, num_test, noise, rng)
    return data_lib.Dataset(name, train, test, data_lib.DatasetInfo(
        kind="continuous", event_shape=(int(dim),),
        description=f"PPCA: x = W z + {noise} eps in {dim}D with a rank-{latent_dim} loading "
                    f"W = ppca_loading({dim}, {latent_dim}, {seed})"))
