"""Discrete targets known up to a constant: Ising models on small periodic lattices.

The Ising model on a periodic lattice of ``D`` spins ``s in {-1, +1}^D`` has

    log pi~(s) = beta * (J * sum_i sum_{n in N+(i)} s_i s_n + h * sum_i s_i),

where ``N+(i)`` is the right neighbour of site ``i`` (1D chain) or its right and
down neighbours (2D lattice), with periodic wrap-around. Every site owns its
forward bonds, so a lattice of side 2 counts each pair twice (the standard
convention of ``sum_i s_i (s_right + s_down)``); enumeration and the transfer
matrix use the same bond set, so they agree for every shape.

Exact answers (for checking samplers):

* :func:`enumerate_exact` sums over all ``2^D`` states (``D <= 20``): log
  partition function ``log Z``, ``E|m|``, ``E[m^2]`` (``m`` the mean spin) and the
  nearest-neighbour correlation ``E[s_i s_n]`` averaged over bonds.
* :func:`transfer_matrix_exact` for a 1D chain (2x2 transfer matrix) or an
  ``L1 x L2`` strip (``2^L2`` row states, ``L2 <= 12``): ``log Z = log tr T^L1``,
  the bond correlation ``d log Z / d J / (beta * num_bonds)`` and
  ``E[m^2] = d^2 log Z / dh^2 / (beta N)^2`` (at ``h = 0``), by autodiff of
  ``log Z``. ``E|m|`` has no transfer-matrix form here and is not returned.

Critical inverse temperature of the 2D model (``J = 1``, infinite lattice):
``beta_c = log(1 + sqrt 2) / 2 ~ 0.4407`` (:data:`BETA_CRITICAL`).
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np

from likelihood_jax import data as data_lib

BETA_CRITICAL = 0.5 * math.log(1.0 + math.sqrt(2.0))
MAX_ENUMERATION_SITES = 20
MAX_TRANSFER_WIDTH = 12


@dataclasses.dataclass(frozen=True)
class Ising:
    """Ising model on a periodic chain ``(N,)`` or lattice ``(L1, L2)``.

    Attributes:
      shape: ``(N,)`` for a chain or ``(L1, L2)`` for a 2D lattice.
      beta: inverse temperature (``> 0``).
      coupling: ``J`` (ferromagnetic for ``J > 0``).
      field: external field ``h``.
    """

    shape: tuple[int, ...]
    beta: float
    coupling: float = 1.0
    field: float = 0.0

    def __post_init__(self):
        shape = tuple(int(s) for s in self.shape)
        if len(shape) not in (1, 2) or min(shape) < 1:
            raise ValueError(f"Ising shape must be (N,) or (L1, L2) with sides >= 1, "
                             f"got {self.shape!r}")
        if not self.beta > 0:
            raise ValueError(f"Ising beta must be positive, got {self.beta}")
        object.__setattr__(self, "shape", shape)

    @property
    def num_sites(self) -> int:
        """Number of spins ``D``."""
        return math.prod(self.shape)

    @property
    def num_bonds(self) -> int:
        """Number of (site, forward neighbour) pairs: ``D`` (chain) or ``2 D`` (2D)."""
        return self.num_sites * len(self.shape)

    def _spins(self, x: jax.Array) -> jax.Array:
        x = jnp.asarray(x)
        if x.shape == (self.num_sites,):
            x = x.reshape(self.shape)
        if x.shape != self.shape:
            raise ValueError(f"expected one configuration of shape {self.shape} or "
                             f"({self.num_sites},), got {x.shape}")
        return x

    def bond_sum(self, x: jax.Array) -> jax.Array:
        """``sum_i sum_{n in N+(i)} s_i s_n`` of one configuration."""
        s = self._spins(x)
        return sum(jnp.sum(s * jnp.roll(s, -1, axis=a)) for a in range(s.ndim))

    def log_prob_unnormalized(self, x: jax.Array) -> jax.Array:
        """``log pi~(s) = beta (J bond_sum(s) + h sum_i s_i)`` of one configuration of +-1 spins.

        Args:
          x: spins in ``{-1, +1}``, shape ``shape`` or ``(D,)``.

        Returns:
          A scalar.
        """
        s = self._spins(x)
        return self.beta * (self.coupling * self.bond_sum(s) + self.field * jnp.sum(s))


def tokens_to_spins(tokens: jax.Array) -> jax.Array:
    """Maps tokens ``{0, 1}`` to spins ``{-1, +1}``."""
    return (2 * jnp.asarray(tokens) - 1).astype(jnp.result_type(float))


def all_states(num_sites: int) -> jax.Array:
    """All ``2^D`` configurations as +-1 spins, shape ``(2^D, D)`` (site 0 is the top bit)."""
    if num_sites > MAX_ENUMERATION_SITES:
        raise ValueError(f"enumeration of 2^{num_sites} states is too large "
                         f"(at most {MAX_ENUMERATION_SITES} sites)")
    bits = (jnp.arange(2 ** num_sites)[:, None] >> jnp.arange(num_sites - 1, -1, -1)) & 1
    return tokens_to_spins(bits)


def enumerate_exact(model: Ising) -> dict[str, jax.Array]:
    """Exact ``log_z``, ``abs_magnetization``, ``magnetization_sq``, ``nn_correlation``.

    Sums over all ``2^D`` states (cost ``O(2^D D)``); ``D <= 20``.

    Args:
      model: the Ising model.

    Returns:
      A dict of scalars; the expectations are under ``pi = pi~ / Z``.
    """
    states = all_states(model.num_sites)
    log_p = jax.vmap(model.log_prob_unnormalized)(states)
    log_z = jax.nn.logsumexp(log_p)
    p = jnp.exp(log_p - log_z)
    m = jnp.mean(states, axis=1)
    bonds = jax.vmap(model.bond_sum)(states) / model.num_bonds
    return {"log_z": log_z, "abs_magnetization": jnp.sum(p * jnp.abs(m)),
            "magnetization_sq": jnp.sum(p * m ** 2), "nn_correlation": jnp.sum(p * bonds)}


def _transfer_log_z(shape: tuple[int, ...], beta, coupling, field) -> jax.Array:
    if len(shape) == 1:
        length, width = shape[0], 1
    else:
        length, width = shape
    rows = all_states(width)  # (2^W, W)
    intra = (jnp.sum(rows * jnp.roll(rows, -1, axis=1), axis=1) if len(shape) == 2
             else jnp.zeros(rows.shape[0]))
    row_energy = coupling * intra + field * jnp.sum(rows, axis=1)  # (2^W,)
    inter = coupling * rows @ rows.T  # vertical bonds between consecutive rows
    log_t = beta * (row_energy[:, None] + inter)
    # log tr T^L by repeated products, renormalized after each one for stability.
    shift = jnp.max(log_t)
    t = jnp.exp(log_t - shift)
    power, log_scale = t, length * shift
    for _ in range(length - 1):
        power = power @ t
        norm = jnp.max(power)
        power, log_scale = power / norm, log_scale + jnp.log(norm)
    return jnp.log(jnp.trace(power)) + log_scale


def transfer_matrix_exact(model: Ising) -> dict[str, jax.Array]:
    """Exact ``log_z``, ``nn_correlation`` and (at ``h = 0``) ``magnetization_sq``.

    ``log Z = log tr T^L1`` with ``T[a, b] = exp(beta (J intra(a) + h sum a + J a.b))``
    over the ``2^L2`` row states (a 1D chain is the width-1 case without intra-row
    bonds). Cost ``O(L1 8^L2)``; ``L2 <= 12``.

    Args:
      model: the Ising model.

    Returns:
      A dict of scalars.
    """
    width = model.shape[-1] if len(model.shape) == 2 else 1
    if width > MAX_TRANSFER_WIDTH:
        raise ValueError(f"transfer matrix over 2^{width} row states is too large "
                         f"(width at most {MAX_TRANSFER_WIDTH})")

    def log_z(coupling, field):
        return _transfer_log_z(model.shape, model.beta, coupling, field)

    value, d_coupling = jax.value_and_grad(log_z)(model.coupling, model.field)
    out = {"log_z": value, "nn_correlation": d_coupling / (model.beta * model.num_bonds)}
    if model.field == 0.0:
        d2_field = jax.grad(jax.grad(log_z, argnums=1), argnums=1)(model.coupling, 0.0)
        out["magnetization_sq"] = d2_field / (model.beta * model.num_sites) ** 2
    return out


def load_sampler_rows(name: str, data_dir: str | None = None, num_train: int = 256,
                      num_test: int = 1000) -> data_lib.Dataset:
    """Registered as ``ising``: placeholder rows for a sampler that draws its own batches.

    A neural sampler of an Ising model (MDNS) reads no data: each training step draws fresh
    configurations from the model. The loop still iterates over a dataset, so this one has
    ``num_train`` and ``num_test`` rows of zeros ``x: (N, 1)`` (one training batch and one
    evaluation batch: set them to ``batch_size`` and ``eval_batch_size``). ``data_dir`` is
    ignored.

    Raises:
      ValueError: a count below 1.
    """
    del data_dir
    for field, value in (("num_train", num_train), ("num_test", num_test)):
        if int(value) < 1:
            raise ValueError(f"{field} must be >= 1, got {value}")
    info = data_lib.DatasetInfo(kind="continuous", event_shape=(1,),
                                description="placeholder rows: the sampler draws its own batches")
    return data_lib.Dataset(name, {"x": np.zeros((int(num_train), 1), np.float32)},
                            {"x": np.zeros((int(num_test), 1), np.float32)}, info)
