"""Checkpoints: orbax behind a small interface.

``Checkpoints(directory)`` saves the training state every ``checkpoint_every``
steps, at the end, and on SIGTERM/SIGINT, and restores the newest checkpoint
that restores *cleanly*: a checkpoint that fails to read, or whose restored
values do not match the fingerprint written beside them, is reported and the
next older one is tried. A step that did not restore is replaced by the next save
(of any step; the bad ones are deleted first), so a rerun heals a corrupt workdir.
Orbax writes each checkpoint into a temporary folder and renames it when complete, so
a run killed mid-save leaves no half checkpoint behind; saves are asynchronous (the loop
continues while the files are written) and :meth:`Checkpoints.close` waits for them.

Each checkpoint records the hash of the config that wrote it
(:func:`likelihood_jax.train.workdir.config_hash`); given the hash of the current
config, restoring refuses a checkpoint of another config (:class:`ConfigMismatchError`)
instead of resuming it.

On disk the state is packed into one flat array per dtype (``pack``): orbax's
cost is per array, and a flow's optimizer state has hundreds of small leaves,
so packing makes a save about ten times cheaper. The parameters are replicated
in this library's data-parallel loop, so packing moves no data between hosts.
Restoring unpacks with the structure of a template state.

The state's non-parameter part ``TrainState.extra`` (when it has leaves) is packed
and fingerprinted as an item of its own, so that another run can restore the
parameters alone (:func:`load_final_params`) without knowing the structure of this
run's ``extra``.
"""

from __future__ import annotations

import hashlib
import logging
import os
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp

from likelihood_jax.train.workdir import read_record

log = logging.getLogger(__name__)


class ConfigMismatchError(ValueError):
    """A checkpoint was written by another config (its config hash differs)."""


def _dtype_groups(leaves: list[Any]) -> dict[str, list[int]]:
    groups: dict[str, list[int]] = {}
    for i, leaf in enumerate(leaves):
        groups.setdefault(jnp.dtype(leaf.dtype).name, []).append(i)
    return groups


def pack(tree: Any) -> dict[str, jax.Array]:
    """Concatenates the raveled leaves of ``tree`` into one array per dtype."""
    leaves = jax.tree.leaves(tree)
    return {dtype: jnp.concatenate([jnp.ravel(leaves[i]) for i in idx])
            for dtype, idx in _dtype_groups(leaves).items()}


def unpack(packed: dict[str, Any], template: Any) -> Any:
    """Inverse of :func:`pack`, given a tree of the same structure, shapes and dtypes."""
    leaves, treedef = jax.tree.flatten(template)
    out = [None] * len(leaves)
    for dtype, idx in _dtype_groups(leaves).items():
        sizes = [int(np.prod(leaves[i].shape)) for i in idx]
        flat = packed[dtype]
        if flat.shape != (sum(sizes),):
            raise ValueError(f"packed {dtype} array has shape {flat.shape}, expected "
                             f"({sum(sizes)},): the checkpoint is of another model")
        if getattr(flat, "is_fully_addressable", True):  # sliced on the host: no compilation
            parts = [jnp.asarray(p) for p in np.split(np.asarray(flat), np.cumsum(sizes)[:-1])]
        else:  # a global array of a multi-host run
            parts = jnp.split(flat, np.cumsum(sizes)[:-1])
        for i, part in zip(idx, parts):
            out[i] = part.reshape(leaves[i].shape)
    return jax.tree.unflatten(treedef, out)


def fingerprint(tree: Any) -> str:
    """A sha256 over the bytes of every leaf, in tree order (host-side)."""
    digest = hashlib.sha256()
    for leaf in jax.tree.leaves(jax.device_get(tree)):
        arr = np.ascontiguousarray(np.asarray(leaf))
        digest.update(str(arr.dtype).encode())
        digest.update(str(arr.shape).encode())
        digest.update(arr.tobytes())
    return digest.hexdigest()


def _split_extra(state: Any) -> tuple[Any, Any]:
    """``(state without extra, extra)``; extra is None when the state has no extra leaves."""
    extra = getattr(state, "extra", None)
    if extra is None or not jax.tree.leaves(extra):
        return state, None
    return state.replace(extra={}), extra


def _abstract(tree: Any) -> Any:
    return jax.tree.map(ocp.utils.to_shape_dtype_struct, pack(tree))


class Checkpoints:
    """Saves and restores :class:`~likelihood_jax.train.state.TrainState` pytrees.

    Args:
      directory: where checkpoints live (one sub-folder per step).
      max_to_keep: how many of the newest checkpoints to keep on disk.
      config_hash: the hash of the run's config
        (:func:`likelihood_jax.train.workdir.config_hash`): written with every save, and
        compared on restore. None: not written, not compared.
    """

    def __init__(self, directory: str, max_to_keep: int = 3, config_hash: str | None = None):
        self.directory = os.path.abspath(directory)
        self.config_hash = config_hash
        self._bad_steps: set[int] = set()  # on disk, but did not restore
        self._manager = ocp.CheckpointManager(
            self.directory,
            options=ocp.CheckpointManagerOptions(
                max_to_keep=max_to_keep, create=True, enable_async_checkpointing=True),
        )

    def steps(self) -> list[int]:
        """Steps that have a complete checkpoint on disk, oldest first."""
        self._manager.reload()
        return sorted(self._manager.all_steps())

    def save(self, state: Any) -> None:
        """Starts writing ``state`` under its own step.

        A no-op if that step is on disk and restored (or was not tried); the steps that
        :meth:`restore_latest` found corrupt are deleted first, so they are replaced.
        """
        step = int(jax.device_get(state.step))
        for bad in sorted(self._bad_steps & set(self._manager.all_steps())):
            log.warning("deleting the checkpoint at step %d in %s (it does not restore)",
                        bad, self.directory)
            self._manager.delete(bad)
        self._bad_steps.clear()
        if step in self._manager.all_steps():
            return
        core, extra = _split_extra(state)
        meta = {"step": step, "fingerprint": fingerprint(core)}
        if self.config_hash is not None:
            meta["config_hash"] = self.config_hash
        items = {"state": ocp.args.StandardSave(pack(core))}
        if extra is not None:
            meta["extra_fingerprint"] = fingerprint(extra)
            items["extra"] = ocp.args.StandardSave(pack(extra))
        self._manager.save(step, args=ocp.args.Composite(meta=ocp.args.JsonSave(meta), **items),
                           force=True)

    def config_hashes(self) -> dict[int, str | None]:
        """``{step: hash of the config that wrote it}`` (None: unreadable or not recorded)."""
        return {step: self.metadata(step).get("config_hash") for step in self.steps()}

    def metadata(self, step: int) -> dict:
        """The JSON saved with ``step``: ``step``, ``fingerprint``, ``config_hash`` ({}: unread)."""
        try:
            return self._manager.restore(
                step, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))["meta"] or {}
        except Exception:  # noqa: BLE001 (an unreadable checkpoint has no meta)
            return {}

    def _check_config(self, step: int) -> None:
        """Raises ConfigMismatchError if ``step`` was written by another config."""
        written = self.metadata(step).get("config_hash")
        if self.config_hash is not None and written not in (None, self.config_hash):
            raise ConfigMismatchError(
                f"the checkpoint at step {step} in {self.directory} was written by another "
                f"config (config hash {written}; this config's is {self.config_hash}); "
                f"run with that run's config, or choose another --workdir")

    def restore_latest(self, template: Any) -> Any | None:
        """The newest checkpoint that restores cleanly, or None if there is none.

        Args:
          template: a state with the right structure, shapes, dtypes and
            shardings (e.g. the freshly initialized state).

        Raises:
          ConfigMismatchError: the newest readable checkpoint was written by another
            config (with ``config_hash`` given).
        """
        core_template, extra_template = _split_extra(template)
        items = {"state": ocp.args.StandardRestore(_abstract(core_template))}
        if extra_template is not None:
            items["extra"] = ocp.args.StandardRestore(_abstract(extra_template))
        for step in reversed(self.steps()):
            self._check_config(step)
            try:
                restored = self._manager.restore(
                    step, args=ocp.args.Composite(meta=ocp.args.JsonRestore(), **items))
                state, meta = unpack(restored["state"], core_template), restored["meta"]
                if meta.get("fingerprint") != fingerprint(state):
                    raise ValueError("restored values do not match the saved fingerprint")
                if extra_template is not None:
                    extra = unpack(restored["extra"], extra_template)
                    if meta.get("extra_fingerprint") != fingerprint(extra):
                        raise ValueError("restored extra state does not match its fingerprint")
                    state = state.replace(extra=extra)
            except Exception as err:  # noqa: BLE001 (any failure means: try an older one)
                log.warning("checkpoint at step %d in %s does not restore cleanly (%s: %s); "
                            "falling back to the previous checkpoint",
                            step, self.directory, type(err).__name__, str(err)[:200])
                self._bad_steps.add(step)
                continue
            return jax.tree.map(lambda a, t: jax.device_put(a, t.sharding), state, template)
        return None

    def close(self) -> None:
        """Waits for pending writes and releases resources."""
        self._manager.wait_until_finished()
        self._manager.close()


def load_final_params(workdir: str, template_params, optim_config, total_steps: int):
    """Parameters (EMA if used) of the newest good checkpoint of another run in ``workdir``.

    For fine-tuning from, or distilling, a finished run (experiments call it through
    :func:`likelihood_jax.train.stages.stage_params`). The run's ``TrainState.extra``
    is stored apart from its parameters and is not read. The run's own ``config.json``
    (written by the command line) supplies its optimizer, whose state is part of the saved
    pytree; without it the current ``optim_config`` is assumed to have the same structure.

    Args:
      workdir: the other run's workdir.
      template_params: parameters of the same model (their structure and shapes).
      optim_config: the optimizer config to assume when ``config.json`` is missing.
      total_steps: likewise, for the learning-rate schedule.

    Returns:
      The restored (EMA) parameters on the host.

    Raises:
      ValueError: no checkpoint of this model restores cleanly.
    """
    from likelihood_jax.train.optimizers import make_optimizer
    from likelihood_jax.train.state import TrainState

    record = read_record(workdir)  # a bad config.json raises naming the file
    if record is not None:
        import ml_collections
        saved = ml_collections.ConfigDict(record)
        optim_config, total_steps = saved.optim, saved.total_steps
    template = TrainState.create(template_params, make_optimizer(optim_config, total_steps),
                                 jax.random.key(0))
    checkpoints = Checkpoints(os.path.join(workdir, "checkpoints"))
    try:
        state = checkpoints.restore_latest(template)
    finally:
        checkpoints.close()
    if state is None:
        raise ValueError(f"{workdir!r} holds no checkpoint of this model "
                         f"(same config.model) that restores cleanly")
    return jax.device_get(state.ema_params)
