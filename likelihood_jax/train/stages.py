"""Multi-stage runs: a chain of named sub-runs (teacher, then student) in one command.

A config with a ``stages`` group runs each stage in ``workdir/<stage>/`` in order::

    config.stages = stages_config(
        ("teacher", {"role": "teacher"}),
        ("student", {"teacher": {"from_stage": "teacher"}}),
    )

Each stage's config is the parent config without ``stages``, with the stage's
overrides applied leaf by leaf (nested dicts; every leaf must name an existing
field, a typo raises) and ``stage_root`` set to the chain's workdir. A stage may
name another ``experiment`` (e.g. ``"uno:Unlearning"``, a
:class:`~likelihood_jax.train.procedure.Procedure` of the same module).

A later stage reads an earlier stage's final parameters through ONE function,
:func:`stage_params` (on :func:`likelihood_jax.train.checkpoints.load_final_params`),
given the earlier stage's workdir :func:`workdir_of` ``(config, name)``; which stage
is named in the stage's config (e.g. ``teacher.from_stage = "teacher"``).

``--config.stages.order="()"`` runs the config itself, as a single run (e.g. one
more teacher, or a student of teachers trained elsewhere).

Re-running the same command after a kill skips the finished stages and resumes the
unfinished one from its own checkpoints. A stage is finished when its run returned:
the loop saved its final checkpoint (at the step count the experiment trains to,
which need not be the config's ``total_steps``, e.g. MCMI's ``teacher.total_steps``)
and evaluated it; the chain then writes :data:`DONE_FILE` with the final metrics
into the stage's workdir.

This module imports no jax at import time (configs import :func:`stages_config`).
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import ml_collections

from likelihood_jax.train.config import set_fields
from likelihood_jax.train.workdir import write_json_atomically

ORDER = "order"
DONE_FILE = "stage_done.json"
STAGE_ROOT = "stage_root"
T = TypeVar("T")


def stages_config(*stages: tuple[str, Mapping[str, Any]]) -> ml_collections.ConfigDict:
    """The ``config.stages`` group of ``(name, overrides)`` pairs, in running order.

    ConfigDict sorts its keys, so the order is kept in the group's ``order`` field.

    Raises:
      ValueError: a repeated or reserved stage name.
    """
    names = tuple(name for name, _ in stages)
    if len(set(names)) != len(names):
        raise ValueError(f"stage names must be distinct, got {names}")
    if ORDER in names or STAGE_ROOT in names:
        raise ValueError(f"{ORDER!r} and {STAGE_ROOT!r} are not stage names")
    group = ml_collections.ConfigDict({ORDER: names})
    for name, overrides in stages:
        group[name] = ml_collections.ConfigDict(dict(overrides))
    return group


def stage_names(config: ml_collections.ConfigDict) -> tuple[str, ...]:
    """The stages of ``config`` to run, in order: ``config.stages.order``.

    ``()`` (no ``stages``, or ``--config.stages.order="()"``) means a single run of the
    config itself; an order that leaves a stage out does not run it.

    Raises:
      ValueError: ``stages.order`` names a stage that has no group, or one twice.
    """
    stages = config.get("stages", None)
    if not stages:
        return ()
    order = tuple(stages.get(ORDER, ()))
    groups = sorted(k for k in stages.keys() if k != ORDER)
    unknown = [name for name in order if name not in groups]
    if unknown or len(set(order)) != len(order):
        raise ValueError(f"config.stages.order {order} must name stages of {groups}, "
                         f"each at most once")
    return order


def _leaves(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out = {}
    for key, value in tree.items():
        if isinstance(value, Mapping | ml_collections.ConfigDict):
            out.update(_leaves(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def stage_config(config: ml_collections.ConfigDict, name: str,
                 root: str) -> ml_collections.ConfigDict:
    """The config of stage ``name``: the parent's, overridden, with ``stage_root = root``.

    Raises:
      KeyError: an override names a field the parent config does not have.
    """
    if name not in stage_names(config):
        raise ValueError(f"no stage {name!r}; stages: {stage_names(config)}")
    out = copy.deepcopy(config)
    with out.unlocked():
        overrides = out.stages[name]
        del out["stages"]
        out[STAGE_ROOT] = os.path.abspath(root)
    try:
        set_fields(out, _leaves(overrides))
    except KeyError as err:
        raise KeyError(f"stage {name!r}: {err.args[0]}") from None
    return out


def workdir_of(config: ml_collections.ConfigDict, name: str) -> str:
    """The workdir of stage ``name`` of the chain that ``config`` (a stage's) belongs to.

    Raises:
      ValueError: ``config`` is not the config of a stage (it has no ``stage_root``).
    """
    root = config.get(STAGE_ROOT, None)
    if not root:
        raise ValueError(f"a run reads stage {name!r} but is not a stage of a chain "
                         f"(config.stages); run the chain's config, or name a workdir instead")
    return os.path.join(root, name)


def resolve_workdir(config: ml_collections.ConfigDict, stage: str = "",
                    workdir: str = "") -> str:
    """The workdir of a run that ``config``'s run reads (a teacher, a pretrained model).

    The stage ``stage`` of this chain when named (:func:`workdir_of`), else ``workdir``;
    ``""`` when neither is set.
    """
    stage = str(stage or "").strip()
    return workdir_of(config, stage) if stage else str(workdir or "").strip()


def stage_params(workdir: str, template: Any, *, optim: Any = None,
                 total_steps: int | None = None) -> Any:
    """The final parameters (EMA if used) of the finished run in ``workdir``.

    The one way a run reads another run's parameters (a teacher, a pretrained model):
    ``workdir`` is a stage's (:func:`workdir_of`) or any finished run's. Its
    ``config.json`` supplies the optimizer whose state shares the checkpoint (the run's
    ``TrainState.extra`` is stored apart and not read); a run
    without one (e.g. trained by ``train_and_evaluate`` in a test) needs ``optim`` and
    ``total_steps``.

    Args:
      workdir: the run's workdir.
      template: parameters of the same model, or their ``jax.ShapeDtypeStruct``s (only
        the structure, shapes and dtypes are read).
      optim: the run's ``config.optim`` when ``workdir`` has no ``config.json``.
      total_steps: likewise, its ``total_steps``.

    Returns:
      The parameters, on the host.

    Raises:
      ValueError: no checkpoint restores, or neither ``config.json`` nor ``optim``.
    """
    import jax
    import jax.numpy as jnp

    from likelihood_jax.train.checkpoints import load_final_params

    if not os.path.isdir(workdir):
        raise ValueError(f"no run in {workdir!r} (the folder does not exist)")
    if optim is None and not os.path.exists(os.path.join(workdir, "config.json")):
        raise ValueError(f"{workdir!r} has no config.json; pass the run's optim and "
                         f"total_steps")
    # Only shapes and dtypes are read; evaluated eagerly, so that the first use of a lazily
    # loaded teacher may happen inside a jitted function.
    with jax.ensure_compile_time_eval():
        template = jax.tree.map(lambda t: jnp.zeros(t.shape, t.dtype), template)
        return load_final_params(workdir, template, optim, total_steps)


def finished_metrics(workdir: str) -> dict | None:
    """The final test metrics of a finished stage (its :data:`DONE_FILE`), else None.

    An unreadable file counts as not finished: the stage runs again, which resumes its
    final checkpoint and returns its logged metrics without training.
    """
    path = os.path.join(workdir, DONE_FILE)
    try:
        with open(path) as f:
            return dict(json.load(f)["metrics"])
    except (FileNotFoundError, ValueError, KeyError, TypeError):  # absent, or damaged
        return None


def _mark_done(workdir: str, metrics: Any) -> None:
    import jax

    if jax.process_index() != 0:
        return
    write_json_atomically(os.path.join(workdir, DONE_FILE),
                          {"metrics": {k: float(v) for k, v in dict(metrics).items()}})


def run_chain(config: ml_collections.ConfigDict, workdir: str,
              run_stage: Callable[[ml_collections.ConfigDict, str], T],
              log: Callable[[str], None] = print) -> dict[str, T | dict]:
    """Runs every stage of ``config`` in ``workdir/<stage>``, skipping finished ones.

    Args:
      config: a config with ``stages``.
      workdir: the chain's workdir.
      run_stage: runs one stage: ``run_stage(stage_config, stage_workdir) -> metrics``
        (the command line passes its guard-and-dispatch).
      log: where the one-line progress messages go.

    Returns:
      ``{stage: its final test metrics}`` in running order.
    """
    results = {}
    for name in stage_names(config):
        sub_config = stage_config(config, name, workdir)
        sub = os.path.join(workdir, name)
        done = finished_metrics(sub)
        if done is not None:
            log(f"stage {name}: finished earlier, skipped ({sub})")
            results[name] = done
            continue
        log(f"stage {name}: running in {sub}")
        results[name] = run_stage(sub_config, sub)
        _mark_done(sub, results[name])
    return results
