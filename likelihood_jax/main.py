r"""Command line: train or evaluate an experiment from its config.

Usage::

    python -m likelihood_jax.main --config experiments/mle_flow/configs/toy2d.py:runlocal \\
        --workdir runs/toy [--mode train|eval] [--config.total_steps=400 ...] [--overwrite]

``--config FILE[:ARG]`` loads ``get_config(ARG)`` from FILE (ARG is a mode such
as ``runlocal`` or ``full``); any field can be overridden with
``--config.<field>=<value>``. ``--mode eval`` restores the newest good
checkpoint in the workdir and evaluates it on the test split. A workdir that
holds a run of a different config is refused unless ``--overwrite``.

``config.experiment`` names ``experiments/<name>/experiment.py``, whose ``EXPERIMENT``
is trained by the shared loop when it is an :class:`~likelihood_jax.train.Experiment`
and run once when it is a :class:`~likelihood_jax.train.procedure.Procedure` (a study
that trains nothing); ``"<name>:<Attr>"`` picks another class of that module. A config
with ``stages`` runs each stage in ``WORKDIR/<stage>/`` in order, skipping the stages a
previous (killed) run finished (:mod:`likelihood_jax.train.stages`); ``--mode eval``
evaluates its last stage.

Multi-host (TPU pods, GPU clusters): start the same command on every host with
``JAX_COORDINATOR_ADDRESS``, ``JAX_NUM_PROCESSES`` and ``JAX_PROCESS_ID`` set
(or ``LIKELIHOOD_JAX_DISTRIBUTED=1`` where JAX detects the cluster itself).
"""

from __future__ import annotations

import os

# jaxlib's CPU LAPACK kernels (the LU behind slogdet/solve) run on OpenBLAS, whose
# spin-waiting worker threads made those steps 10-40x slower on a loaded 2-core machine
# (experiments/ebflow/README.md, "Notes"). Must be set before numpy is imported; an
# explicit OPENBLAS_NUM_THREADS in the environment wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import ast
import contextlib
import importlib
import importlib.util
import json
import shutil
import sys

import ml_collections

CONFIG_RECORD = "config.json"
# Fields that may differ when a run is resumed: they change what is logged, not
# what is computed.
RESUMABLE_FIELDS = ("log_every", "eval_every", "checkpoint_every", "num_plot_samples",
                    "stage_root")


class UsageError(Exception):
    """A problem with the command line or config, reported as one line."""


def _repo_root_of(config_path: str | None) -> str | None:
    """The folder holding ``experiments/`` above a config file, if any."""
    if not config_path:
        return None
    path = os.path.abspath(config_path.split(":")[0])
    while path != os.path.dirname(path):
        path = os.path.dirname(path)
        if os.path.basename(path) == "experiments":
            return os.path.dirname(path)
    return None


def known_experiments(root: str | None = None) -> list[str]:
    """Names of the experiment folders under ``experiments/``."""
    roots = [root] if root else [p for p in sys.path if p]
    names = set()
    for r in roots:
        folder = os.path.join(r or ".", "experiments")
        if os.path.isdir(folder):
            names.update(n for n in os.listdir(folder)
                         if os.path.isfile(os.path.join(folder, n, "experiment.py")))
    return sorted(names)


def experiment_class(name: str, config_path: str | None = None):
    """The Experiment (or Procedure) class of ``experiments/<name>/experiment.py``.

    ``name`` is ``<folder>`` (the module's ``EXPERIMENT``) or ``<folder>:<Attr>`` (the
    module's class ``Attr``, e.g. the Procedure stage of a chain).
    """
    name, _, attr = name.partition(":")
    root = _repo_root_of(config_path)
    if root and root not in sys.path:
        sys.path.insert(0, root)
    try:
        module = importlib.import_module(f"experiments.{name}.experiment")
    except ModuleNotFoundError as err:
        if err.name not in (f"experiments.{name}", f"experiments.{name}.experiment",
                            "experiments"):
            raise
        raise UsageError(f"unknown experiment {name!r} (config.experiment); known: "
                         f"{', '.join(known_experiments(root)) or 'none found'}") from None
    attr = attr or "EXPERIMENT"
    if not hasattr(module, attr):
        raise UsageError(f"experiments/{name}/experiment.py defines no {attr} "
                         f"(config.experiment)")
    return getattr(module, attr)


def _flatten(config: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in config.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def guard_workdir(config: ml_collections.ConfigDict, workdir: str, overwrite: bool) -> None:
    """Refuses a workdir that holds another config's run (or wipes it with ``overwrite``).

    In a multi-process run only process 0 wipes and writes the record; every process
    then waits at a barrier, so no process writes into the workdir before it is wiped.
    """
    import jax  # after the distributed set-up of ``run``; not at import time (see the top)

    record = os.path.join(workdir, CONFIG_RECORD)
    current = json.loads(config.to_json_best_effort())
    if os.path.exists(record):
        if overwrite:
            if jax.process_index() == 0:
                shutil.rmtree(workdir)
        else:
            with open(record) as f:
                saved = json.load(f)
            old, new = _flatten(saved), _flatten(current)
            differ = sorted(k for k in set(old) | set(new)
                            if old.get(k) != new.get(k) and k not in RESUMABLE_FIELDS)
            if differ:
                raise UsageError(
                    f"workdir {workdir} holds a run of a different config (differs in: "
                    f"{', '.join(differ[:6])}{' ...' if len(differ) > 6 else ''}); "
                    f"pass --overwrite to replace it or choose another --workdir")
    if jax.process_index() == 0:  # one writer; the other processes only check
        os.makedirs(workdir, exist_ok=True)
        # Written to a temporary name and renamed (atomic): a concurrent reader (another
        # process of the same run checking the workdir) never sees a half-written record.
        partial = f"{record}.tmp{os.getpid()}"
        with open(partial, "w") as f:
            json.dump(current, f, indent=1)
        os.replace(partial, record)
    _barrier(f"guard_workdir {os.path.abspath(workdir)}")
    os.makedirs(workdir, exist_ok=True)


def _barrier(name: str) -> None:
    """Waits until every process of a multi-process run gets here (no-op with one)."""
    import jax

    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices(name)


def run(config: ml_collections.ConfigDict, workdir: str, mode: str = "train",
        overwrite: bool = False, config_path: str | None = None) -> dict[str, float]:
    """Trains or evaluates the experiment named by ``config.experiment`` (or its stages)."""
    from likelihood_jax.train import parallel, stages

    parallel.maybe_initialize_distributed()
    if mode not in ("train", "eval"):
        raise UsageError(f"unknown --mode {mode!r}; choose train or eval")
    names = stages.stage_names(config)
    if not names:
        metrics, headline = _run_one(config, workdir, mode, overwrite, config_path)
    elif mode == "eval":  # the chain's result is its last stage
        last = stages.stage_config(config, names[-1], workdir)
        metrics, headline = _run_one(last, os.path.join(workdir, names[-1]), mode, False,
                                     config_path)
    else:
        guard_workdir(config, workdir, overwrite)
        headlines = {}

        def run_stage(stage_config, stage_workdir):
            out, headlines[stage_config.experiment] = _run_one(
                stage_config, stage_workdir, mode, False, config_path)
            return out

        results = stages.run_chain(config, workdir, run_stage,
                                   log=lambda m: print(m, flush=True))
        metrics = results[names[-1]]
        last = stages.stage_config(config, names[-1], workdir).experiment
        headline = headlines.get(last) or experiment_class(last, config_path).headline_metric
    print(f"test {headline}: {metrics.get(headline, float('nan')):.6g}", flush=True)
    return metrics


def _run_one(config: ml_collections.ConfigDict, workdir: str, mode: str, overwrite: bool,
             config_path: str | None) -> tuple[dict[str, float], str]:
    """One run (an Experiment trained or evaluated, or a Procedure); (metrics, headline)."""
    from likelihood_jax.train import loop
    from likelihood_jax.train.procedure import Procedure, run_procedure

    cls = experiment_class(config.experiment, config_path)
    if isinstance(cls, type) and issubclass(cls, Procedure):
        if mode != "train":
            raise UsageError(f"{config.experiment} is a Procedure: it has no checkpoint to "
                             f"evaluate; run it without --mode eval")
        guard_workdir(config, workdir, overwrite)
        runner = cls(config)
        metrics = run_procedure(runner, workdir)
    elif mode == "train":
        guard_workdir(config, workdir, overwrite)
        runner = cls(config)
        metrics = loop.train_and_evaluate(runner, workdir)
    else:
        runner = cls(config)
        metrics = loop.evaluate_checkpoint(runner, workdir)
    return metrics, runner.headline_metric


def load_config(spec: str) -> ml_collections.ConfigDict:
    """``get_config(ARG)`` of the config file ``FILE[:ARG]``."""
    path, _, arg = spec.partition(":")
    if not os.path.isfile(path):
        raise UsageError(f"config file not found: {path}")
    root = _repo_root_of(path)  # configs may import sibling configs (experiments.<x>.configs)
    if root and root not in sys.path:
        sys.path.insert(0, root)
    name = "_likelihood_jax_config_" + os.path.splitext(os.path.basename(path))[0]
    module_spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    if not hasattr(module, "get_config"):
        raise UsageError(f"config file {path} defines no get_config()")
    return module.get_config(arg or None)


def apply_override(config: ml_collections.ConfigDict, field: str, text: str) -> None:
    """Sets ``config.<field>`` from command-line text, keeping the field's type."""
    *parents, leaf = field.split(".")
    node = config
    for i, part in enumerate(parents):
        if not isinstance(node, ml_collections.ConfigDict) or part not in node:
            raise UsageError(f"unknown config field config.{'.'.join(parents[:i + 1])}")
        node = node[part]
    if not isinstance(node, ml_collections.ConfigDict) or leaf not in node:
        raise UsageError(f"unknown config field config.{field}")
    old = node[leaf]
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        value = text
    if isinstance(old, bool):
        if str(text).lower() not in ("true", "false", "1", "0"):
            raise UsageError(f"config.{field} is a bool; got {text!r}")
        value = str(text).lower() in ("true", "1")
    elif isinstance(old, float) and isinstance(value, int):
        value = float(value)
    elif isinstance(old, tuple) and isinstance(value, list):
        value = tuple(value)
    elif old is not None and not isinstance(value, type(old)):
        raise UsageError(f"config.{field} expects {type(old).__name__}; got {text!r}")
    with node.unlocked() if hasattr(node, "unlocked") else contextlib.nullcontext():
        node[leaf] = value


def parse_args(argv: list[str]) -> dict:
    """Parses the command line into config, workdir, mode and overwrite."""
    opts = {"config": None, "workdir": None, "mode": "train", "overwrite": False}
    overrides: list[tuple[str, str]] = []
    args = list(argv)
    while args:
        arg = args.pop(0)
        if not arg.startswith("--"):
            raise UsageError(f"unexpected argument {arg!r}")
        name, has_value, value = arg[2:].partition("=")
        if name in ("overwrite", "nooverwrite"):
            opts["overwrite"] = name == "overwrite"
            continue
        if not has_value:
            if not args:
                raise UsageError(f"--{name} needs a value")
            value = args.pop(0)
        if name.startswith("config."):
            overrides.append((name[len("config."):], value))
        elif name in opts:
            opts[name] = value
        else:
            raise UsageError(f"unknown flag --{name}; flags: --config, --workdir, --mode, "
                             f"--overwrite, --config.<field>=<value>")
    if opts["config"] is None or opts["workdir"] is None:
        raise UsageError("--config and --workdir are required")
    if opts["mode"] not in ("train", "eval"):
        raise UsageError(f"unknown --mode {opts['mode']!r}; choose train or eval")
    config = load_config(opts["config"])
    for field, value in overrides:
        apply_override(config, field, value)
    opts["config_path"], opts["config"] = opts["config"], config
    return opts


def main(argv: list[str] | None = None) -> int:
    """Runs the command line; returns the process exit code."""
    argv = sys.argv[1:] if argv is None else argv
    try:
        opts = parse_args(argv)
        from likelihood_jax.train.loop import Interrupted, NonFiniteLossError
        try:
            run(opts["config"], opts["workdir"], opts["mode"], opts["overwrite"],
                config_path=opts["config_path"])
        except (NonFiniteLossError, Interrupted) as err:
            print(f"error: {err}", file=sys.stderr, flush=True)
            return 128 + err.signum if isinstance(err, Interrupted) else 1
    except (UsageError, ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr, flush=True)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
