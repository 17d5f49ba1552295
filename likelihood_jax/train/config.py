"""The fields every experiment config has, with their defaults.

Experiment configs start from :func:`base_config` and set what is theirs::

    config = base_config("mle_flow", dataset="checkerboard")
    config.model = ml_collections.ConfigDict({...})

Top-level fields the tools rely on: ``experiment``, ``seed``, ``total_steps``,
``batch_size``, ``log_every``, ``eval_every``, ``checkpoint_every`` and the
groups ``dataset``, ``model``, ``optim``. Optional: ``eval_batch_size``,
``ema_decay`` (``d``: evaluation uses the EMA with warm-up of the parameters, i.e. the
average of the parameters after steps ``1..t`` weighted by ``d^(t-s)`` and normalized, as
in Adam's bias correction; 0 disables EMA and evaluation uses the raw parameters),
``eval_batches`` (evaluate only the first N test batches; 0: the whole split),
``checkpoints_to_keep``, ``num_plot_samples``, the optimizer groups of several
players (``optim.groups``, :mod:`likelihood_jax.train.optimizers`) and ``stages``
(a chain of runs in one command, :mod:`likelihood_jax.train.stages`; set by the
chain on each stage: ``stage_root``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import ml_collections

MODES = ("runlocal", "default", "full")


def base_config(experiment: str, dataset: str) -> ml_collections.ConfigDict:
    """A config with every shared field set to its default."""
    config = ml_collections.ConfigDict()
    config.experiment = experiment
    config.seed = 0
    config.total_steps = 1000
    config.batch_size = 256
    config.eval_batch_size = 1000
    config.log_every = 50
    config.eval_every = 0  # 0: evaluate only at the end
    config.eval_batches = 0  # 0: the whole test split; N: its first N batches
    config.checkpoint_every = 500
    config.checkpoints_to_keep = 3
    config.ema_decay = 0.0
    config.num_plot_samples = 1000
    config.dataset = ml_collections.ConfigDict({"name": dataset})
    config.model = ml_collections.ConfigDict()
    config.optim = ml_collections.ConfigDict({
        "name": "adam", "lr": 1e-3, "schedule": "constant", "warmup_steps": 0,
        "weight_decay": 0.0, "weight_decay_mask": "all", "grad_clip_norm": 0.0,
        "b1": 0.9, "b2": 0.999, "microbatches": 1,
    })
    return config


def runlocal(total_steps: int, fields: Mapping[str, Any] | None = None,
             **more: Any) -> dict[str, Any]:
    """The shared ``runlocal`` block: what the end-to-end test harness needs, and no more.

    ``total_steps`` steps logged about ten times, one evaluation batch at the end (no
    evaluation during training), one checkpoint (at the last step, the only one kept)
    and 256 plot samples. ``fields`` (dotted keys, e.g. ``{"model.hidden": 16}``) and
    ``more`` (top-level fields, e.g. ``batch_size=32``) are added and win::

        apply_mode(config, arg, {"runlocal": runlocal(60, {"optim.lr": 3e-3}, batch_size=32)})

    The harness (``tests/test_experiments_e2e.py``) times every experiment's primary
    ``runlocal`` run: at most 20 s each, median at most 6 s, compilation included.
    """
    block = {"total_steps": total_steps, "log_every": max(1, total_steps // 10),
             "eval_every": 0, "eval_batches": 1, "checkpoint_every": total_steps,
             "checkpoints_to_keep": 1, "num_plot_samples": 256}
    block.update(fields or {})
    block.update(more)
    return block


def check_mode(arg: str | None, modes: tuple[str, ...] = MODES) -> str:
    """The config mode named by ``arg`` (None means "default"); unknown modes raise."""
    mode = arg or "default"
    if mode not in modes:
        raise ValueError(f"unknown config mode {mode!r}; choose one of {modes}")
    return mode


def set_fields(config: ml_collections.ConfigDict, fields: Mapping[str, Any]) -> None:
    """Sets ``config.<dotted key> = value`` for each item; every key must name a field.

    A value that is a dict replaces the field with a ``ConfigDict``; a key whose last
    part is new to an existing group raises (a typo would otherwise be ignored
    silently). Add new fields to the base config, not in a mode.
    """
    for dotted, value in fields.items():
        *parents, leaf = dotted.split(".")
        node = config
        for i, part in enumerate(parents):
            if not isinstance(node, ml_collections.ConfigDict) or part not in node:
                raise KeyError(f"config has no group {'.'.join(parents[:i + 1])!r} "
                               f"(setting {dotted!r})")
            node = node[part]
        if not isinstance(node, ml_collections.ConfigDict) or leaf not in node:
            raise KeyError(f"config has no field {dotted!r}; add it to the base config first")
        if isinstance(value, Mapping):
            value = ml_collections.ConfigDict(dict(value))
        with node.ignore_type():
            node[leaf] = value


def apply_mode(config: ml_collections.ConfigDict, arg: str | None,
               *modes: Mapping[str, Mapping[str, Any]]) -> str:
    """Applies the overrides of the mode named by ``arg`` and returns the mode.

    Each of ``modes`` maps a mode name (``runlocal``, ``default``, ``full``; a missing
    one changes nothing) to dotted-key overrides of ``config``; several are applied in
    order, so a family preset's modes come first and the experiment's own win::

        def get_config(arg=None):
            config = base_config("mle_flow", dataset="checkerboard")
            ...  # the default (small-scale reproduction) settings
            apply_mode(config, arg, {
                "runlocal": {"total_steps": 300, "model.hidden_dims": (32, 32)},
                "full": {"total_steps": 50000, "batch_size": 1024},
            })
            return config

    Args:
      config: the config, changed in place.
      arg: the mode from the command line (``FILE:ARG``); None means ``default``.
      *modes: overrides per mode, as :func:`set_fields` takes them (e.g. a family
        preset's ``presets.masked_lm_modes()``, then the experiment's own).

    Returns:
      The mode's name.

    Raises:
      ValueError: an unknown mode (in ``arg`` or as a key of ``modes``).
      KeyError: an override names a field the config does not have.
    """
    mode = check_mode(arg)
    unknown = sorted({name for block in modes for name in block} - set(MODES))
    if unknown:
        raise ValueError(f"unknown config mode(s) {unknown}; modes are {MODES}")
    for block in modes:
        set_fields(config, block.get(mode, {}))
    return mode
