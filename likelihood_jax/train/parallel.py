"""Devices, processes and the data-parallel mesh.

One code path for every machine: a ``jax.sharding.Mesh`` over all devices of all
processes with a single ``"data"`` axis; batches are sharded along it and
parameters replicated. On a TPU pod slice or a GPU cluster each process feeds
its own contiguous share of the global batch
(:func:`likelihood_jax.data.batch_at_step` with ``process_index``), and
:func:`global_batch` assembles the global array without moving data between
hosts.

Multi-host runs call :func:`maybe_initialize_distributed` first. It calls
``jax.distributed.initialize()`` when the standard environment is present:
either a cluster JAX auto-detects (TPU pods, SLURM, Open MPI) signalled by
``LIKELIHOOD_JAX_DISTRIBUTED=1``, or the explicit triple
``JAX_COORDINATOR_ADDRESS``, ``JAX_NUM_PROCESSES``, ``JAX_PROCESS_ID``. On CPU
the collectives go through gloo.
"""

from __future__ import annotations

import os
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

DATA_AXIS = "data"


def maybe_initialize_distributed() -> bool:
    """Starts multi-process JAX when the environment asks for it.

    Returns:
      True when ``jax.distributed.initialize`` was called.
    """
    if jax.distributed.is_initialized():
        return True
    address = os.environ.get("JAX_COORDINATOR_ADDRESS")
    if address:
        # Cross-process collectives for CPU devices (ignored by GPU and TPU backends).
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
        jax.distributed.initialize(
            coordinator_address=address,
            num_processes=int(os.environ["JAX_NUM_PROCESSES"]),
            process_id=int(os.environ["JAX_PROCESS_ID"]),
        )
        return True
    if os.environ.get("LIKELIHOOD_JAX_DISTRIBUTED") == "1":
        jax.distributed.initialize()
        return True
    return False


def make_mesh() -> Mesh:
    """A one-axis data-parallel mesh over every device of every process."""
    return Mesh(np.asarray(jax.devices()), (DATA_AXIS,))


def replicated(mesh: Mesh) -> NamedSharding:
    """Sharding that keeps a full copy on every device."""
    return NamedSharding(mesh, PartitionSpec())


def batch_sharded(mesh: Mesh) -> NamedSharding:
    """Sharding that splits the leading (batch) axis over the data axis."""
    return NamedSharding(mesh, PartitionSpec(DATA_AXIS))


def check_batch_size(batch_size: int, mesh: Mesh) -> None:
    """Raises a clear error when the global batch cannot be split evenly."""
    if batch_size % mesh.size:
        raise ValueError(
            f"batch_size {batch_size} is not divisible by the number of devices {mesh.size}")
    if batch_size % jax.process_count():
        raise ValueError(
            f"batch_size {batch_size} is not divisible by the number of processes "
            f"{jax.process_count()}")


def global_batch(local_batch: dict[str, np.ndarray], mesh: Mesh) -> dict[str, jax.Array]:
    """Assembles this process's share of the batch into global sharded arrays."""
    sharding = batch_sharded(mesh)
    if jax.process_count() == 1:  # one transfer call for the whole batch
        return jax.device_put(dict(local_batch), sharding)
    return {k: jax.make_array_from_process_local_data(sharding, np.asarray(v))
            for k, v in local_batch.items()}


def replicate(tree: Any, mesh: Mesh) -> Any:
    """Places a pytree of host values on every device of the mesh."""
    return jax.device_put(tree, replicated(mesh))
