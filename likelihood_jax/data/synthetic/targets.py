"""Unnormalized target densities for variational inference with flows (path gradients).

Each target has ``log_prob(x)`` for **one example** of shape ``event_shape`` (callers ``vmap``),
an unnormalized ``log p~(x) = log p(x) + log Z``, and ``log_normalizer`` (``log Z`` when it is
known exactly, else ``None``). Targets are plain Python objects holding constants; close over
them inside jitted functions.

* :class:`GaussianMixture`: isotropic Gaussian mixture, normalized exactly (``log Z = 0``), with
  an exact sampler; :func:`grid_gaussian_mixture` builds the multimodal mixture of Vaitl et al.
  2024 (modes on a regular grid, ``modes_per_axis ** dim`` components); its exact draws are
  the registered dataset ``grid_gaussian_mixture`` (:func:`load_grid_gaussian_mixture`).
* :class:`Phi4`: the two-dimensional ``phi^4`` lattice field theory on an ``L x L`` periodic
  lattice in the hopping parameterization used by Nicoli et al. 2021 and Vaitl et al. 2022/2024::

      S(phi) = sum_x [ -2 kappa sum_mu phi(x) phi(x + mu) + (1 - 2 lambda) phi(x)^2
                       + lambda phi(x)^4 ],      p~(phi) = exp(-S(phi)),

  with ``mu`` over the lattice axes. The standard form ``S = sum_x [1/2 sum_mu (phi(x + mu) -
  phi(x))^2 + 1/2 m^2 phi^2 + g phi^4]`` (Albergo et al. 2019) is the same theory with
  ``phi_std = sqrt(2 kappa) phi``, ``m^2 = (1 - 2 lambda) / kappa - 2 d`` and
  ``g = lambda / (4 kappa^2)``: :meth:`Phi4.from_standard` and :func:`standard_phi4_action`.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["GaussianMixture", "Phi4", "grid_gaussian_mixture", "load_grid_gaussian_mixture",
           "standard_phi4_action"]


class GaussianMixture:
    """``p(x) = sum_k w_k N(x; mu_k, sigma_k^2 I)``; exactly normalized, exact sampler.

    Args:
        means: ``(K, D)`` component means.
        stds: component standard deviations, a scalar or ``(K,)``, all positive.
        weights: ``(K,)`` nonnegative weights (normalized here), or None for uniform.
    """

    log_normalizer = 0.0

    def __init__(self, means, stds, weights=None):
        means = np.asarray(means, np.float64)
        if means.ndim != 2 or means.shape[0] < 1 or means.shape[1] < 1:
            raise ValueError(f"means must have shape (K, D), got {means.shape}.")
        k, d = means.shape
        stds = np.broadcast_to(np.asarray(stds, np.float64), (k,)).copy()
        if not np.all(stds > 0):
            raise ValueError(f"stds must be positive, got {stds}.")
        weights = np.ones(k) if weights is None else np.asarray(weights, np.float64)
        if weights.shape != (k,) or np.any(weights < 0) or weights.sum() <= 0:
            raise ValueError(f"weights must be {k} nonnegative numbers with a positive sum, "
                             f"got {weights}.")
        self.means, self.stds, self.weights = means, stds, weights / weights.sum()
        self.event_shape = (d,)

    def log_prob(self, x: jax.Array) -> jax.Array:
        """Exact ``log p(x)`` of one point ``x (D,)``."""
        if x.shape != self.event_shape:
            raise ValueError(f"GaussianMixture.log_prob expects one point of shape "
                             f"{self.event_shape}, got {x.shape}.")
        means = jnp.asarray(self.means, x.dtype)
        stds = jnp.asarray(self.stds, x.dtype)
        d = self.event_shape[0]
        sq = jnp.sum(jnp.square(x - means), axis=-1) / jnp.square(stds)
        comp = -0.5 * sq - d * jnp.log(stds) - 0.5 * d * math.log(2.0 * math.pi)
        return jax.nn.logsumexp(comp + jnp.log(jnp.asarray(self.weights, x.dtype)))

    def sample(self, key: jax.Array, num_samples: int, dtype=jnp.float32) -> jax.Array:
        """``num_samples`` exact draws, shape ``(num_samples, D)``."""
        comp_key, noise_key = jax.random.split(key)
        comp = jax.random.choice(comp_key, len(self.weights), (num_samples,),
                                 p=jnp.asarray(self.weights))
        noise = jax.random.normal(noise_key, (num_samples,) + self.event_shape, dtype)
        return (jnp.asarray(self.means, dtype)[comp]
                + jnp.asarray(self.stds, dtype)[comp, None] * noise)


def grid_gaussian_mixture(dim: int = 2, modes_per_axis: int = 2, loc: float = 1.0,
                          std: float = 0.5) -> GaussianMixture:
    """Vaitl et al. 2024's multimodal mixture: equal modes on a grid over ``[-loc, loc]^dim``.

    Args:
        dim: D >= 1.
        modes_per_axis: >= 2 grid points per axis (``modes_per_axis ** dim`` modes).
        loc: half-width of the grid.
        std: each component's standard deviation.

    Returns:
        A :class:`GaussianMixture`.
    """
    if dim < 1 or modes_per_axis < 2 or loc <= 0:
        raise ValueError(f"Need dim >= 1, modes_per_axis >= 2 and loc > 0, got dim={dim}, "
                         f"modes_per_axis={modes_per_axis}, loc={loc}.")
    axis = np.linspace(-loc, loc, modes_per_axis)
    grid = np.stack(np.meshgrid(*([axis] * dim), indexing="ij"), -1).reshape(-1, dim)
    return GaussianMixture(grid, std)


def load_grid_gaussian_mixture(name: str, data_dir: str, dim: int = 2, modes_per_axis: int = 2,
                               loc: float = 1.0, std: float = 0.5, num_train: int = 20000,
                               num_test: int = 4096, train_seed: int = 11,
                               test_seed: int = 12):
    """Loader of ``grid_gaussian_mixture``: exact draws ``x`` of :func:`grid_gaussian_mixture`.

    The train split holds ``num_train`` draws with ``jax.random.key(train_seed)``, the test
    split ``num_test`` with ``key(test_seed)`` (float32, ``(N, dim)``). Nothing is written.
    """
    from likelihood_jax.data import loader

    del name, data_dir
    target = grid_gaussian_mixture(dim, modes_per_axis, loc, std)
    with jax.ensure_compile_time_eval():  # concrete draws even when first loaded under jit
        train = np.asarray(target.sample(jax.random.key(train_seed), int(num_train)))
        test = np.asarray(target.sample(jax.random.key(test_seed), int(num_test)))
    info = loader.DatasetInfo(
        kind="continuous", event_shape=(dim,),
        description=f"exact draws of the grid Gaussian mixture ({modes_per_axis}^{dim} modes "
                    f"over [-{loc}, {loc}]^{dim}, std {std}; seeds {train_seed}, {test_seed})")
    return loader.Dataset("grid_gaussian_mixture", {"x": train}, {"x": test}, info)


def standard_phi4_action(phi: jax.Array, m2: float, quartic: float) -> jax.Array:
    """``sum_x [1/2 sum_mu (phi(x+mu) - phi(x))^2 + 1/2 m2 phi^2 + quartic phi^4]``, periodic.

    Args:
        phi: one field configuration on a periodic lattice (any number of axes).
        m2: bare mass squared (may be negative).
        quartic: the quartic coupling ``g``.

    Returns:
        The scalar action.
    """
    kinetic = sum(jnp.sum(jnp.square(jnp.roll(phi, -1, axis) - phi)) for axis in range(phi.ndim))
    return 0.5 * kinetic + jnp.sum(0.5 * m2 * jnp.square(phi) + quartic * phi ** 4)


class Phi4:
    """``phi^4`` theory on a periodic lattice, hopping parameterization; ``log p~ = -S``.

    Examples are flat vectors of ``prod(lattice_shape)`` sites in row-major order (the shape the
    vector flows take); :meth:`action` also accepts the lattice shape. ``log Z`` is unknown.

    Args:
        lattice_shape: e.g. ``(8, 8)``; every extent >= 2.
        kappa: hopping parameter ``kappa >= 0``.
        lam: quartic coupling ``lambda >= 0``.
    """

    log_normalizer = None

    def __init__(self, lattice_shape=(8, 8), kappa: float = 0.3, lam: float = 0.022):
        lattice_shape = tuple(int(n) for n in lattice_shape)
        if not lattice_shape or any(n < 2 for n in lattice_shape):
            raise ValueError(f"lattice_shape needs extents >= 2, got {lattice_shape}.")
        if kappa < 0 or lam < 0:
            raise ValueError(f"Need kappa >= 0 and lam >= 0, got kappa={kappa}, lam={lam}.")
        self.lattice_shape, self.kappa, self.lam = lattice_shape, float(kappa), float(lam)
        self.event_shape = (math.prod(lattice_shape),)

    @classmethod
    def from_standard(cls, lattice_shape, m2: float, quartic: float) -> Phi4:
        """The theory of :func:`standard_phi4_action` with ``(m2, quartic)``, in hopping form.

        Solves ``lambda = 4 g kappa^2`` and ``kappa (2 d + m2) = 1 - 2 lambda`` for
        ``kappa > 0``; fields relate by ``phi_std = sqrt(2 kappa) phi``.
        """
        d = len(tuple(lattice_shape))
        b = 2 * d + m2
        if quartic < 0:
            raise ValueError(f"quartic must be >= 0, got {quartic}.")
        if quartic == 0:
            if b <= 0:
                raise ValueError(f"A free theory needs m2 > -2d, got m2={m2}.")
            kappa = 1.0 / b
        else:
            kappa = (-b + math.sqrt(b * b + 32.0 * quartic)) / (16.0 * quartic)
        return cls(lattice_shape, kappa, 4.0 * quartic * kappa ** 2)

    def _lattice(self, phi: jax.Array) -> jax.Array:
        if phi.shape == self.event_shape:
            return phi.reshape(self.lattice_shape)
        if phi.shape == self.lattice_shape:
            return phi
        raise ValueError(f"Phi4 expects one configuration of shape {self.event_shape} or "
                         f"{self.lattice_shape}, got {phi.shape}.")

    def action(self, phi: jax.Array) -> jax.Array:
        """``S(phi)`` of one configuration (flat or lattice-shaped)."""
        phi = self._lattice(phi)
        hopping = sum(jnp.sum(phi * jnp.roll(phi, -1, axis)) for axis in range(phi.ndim))
        sq = jnp.square(phi)
        return -2.0 * self.kappa * hopping + jnp.sum((1.0 - 2.0 * self.lam) * sq
                                                     + self.lam * sq * sq)

    def log_prob(self, phi: jax.Array) -> jax.Array:
        """Unnormalized ``log p~(phi) = -S(phi)``."""
        return -self.action(phi)

    def magnetization(self, phi: jax.Array) -> jax.Array:
        """Mean field ``sum_x phi(x) / V`` of one configuration."""
        return jnp.mean(self._lattice(phi))
