r"""Command line: train or evaluate an experiment from its config.

Usage::

    python -m likelihood_jax.main --config experiments/mle_flow/configs/toy2d.py:runlocal \\
        --workdir runs/toy [--mode train|eval] [--config.total_steps=400 ...] [--overwrite] \\
        [--seeds 3]

``--config FILE[:ARG]`` loads ``get_config(ARG)`` from FILE (ARG is a mode such
as ``runlocal`` or ``full``); any field can be overridden with
``--config.<field>=<value>``. ``--mode eval`` restores the newest good
checkpoint in the workdir and evaluates it on the test split; it refuses a config
that differs from the run's ``config.json`` (except in the fields that change only
what is logged or how it is evaluated). A workdir that holds a run of a different config
is refused unless ``--overwrite``, which deletes only a folder marked as a run of this
project (:mod:`likelihood_jax.train.workdir`). A second run in a workdir that a live
process is training in is refused (a lock file). ``--seeds 3`` (or ``--seeds 0,4,7``) runs
the config once per seed in ``WORKDIR/seed<s>/`` and writes ``WORKDIR/seeds.json`` and
``WORKDIR/seeds.md``: mean, standard deviation and 95% interval of every test metric
(:mod:`likelihood_jax.train.seeds`).

Every problem with the command line, the config or the workdir is one line
``error: ...`` on stderr naming the flag, field or file, and exit status 2.

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
import sys

import ml_collections

from likelihood_jax.train import workdir as workdir_lib
from likelihood_jax.train.workdir import CONFIG_RECORD, EVAL_FIELDS, RESUMABLE_FIELDS

USAGE = """\
usage: python -m likelihood_jax.main --config FILE[:MODE] --workdir DIR
           [--mode train|eval] [--config.FIELD=VALUE ...] [--overwrite] [--seeds N|S,S,...]

  --config FILE[:MODE]  a config file; MODE (runlocal, full, ...) is passed to its get_config
  --workdir DIR         checkpoints, metrics.jsonl and plots; the same command resumes a run
  --mode train|eval     train (the default), or evaluate the newest good checkpoint in DIR
                        with the config the run was trained with
  --config.FIELD=VALUE  overrides a config field, e.g. --config.optim.lr=3e-4
  --overwrite           deletes the run in DIR first (only a folder marked as a run)
  --seeds N|S,S,...     runs seeds 0..N-1 (or the listed ones), each in DIR/seed<s>, and writes
                        DIR/seeds.json and DIR/seeds.md (mean, std, 95% interval per metric)
  -h, --help            prints this message"""


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


def _check_checkpoints_config(config: ml_collections.ConfigDict, workdir: str) -> None:
    """Refuses checkpoints in ``workdir`` written by another config (no ``config.json``)."""
    from likelihood_jax.train.checkpoints import Checkpoints
    from likelihood_jax.train.loop import CHECKPOINT_DIR

    folder = os.path.join(workdir, CHECKPOINT_DIR)
    if not os.path.isdir(folder):
        return
    checkpoints = Checkpoints(folder)
    try:
        written = [h for _, h in sorted(checkpoints.config_hashes().items()) if h]
    finally:
        checkpoints.close()
    expected = workdir_lib.config_hash(config)
    if written and written[-1] != expected:
        raise UsageError(
            f"workdir {workdir} has no {CONFIG_RECORD}, and its checkpoints were written by "
            f"another config (config hash {written[-1]}; this config's is {expected}); run "
            f"with that config or choose another --workdir")


def guard_workdir(config: ml_collections.ConfigDict, workdir: str, overwrite: bool) -> None:
    """Checks that ``workdir`` may hold ``config``'s run, then records the config there.

    Refused: a workdir that is a file or cannot be written; one whose ``config.json``
    (or, without one, whose checkpoints) belong to another config, unless ``overwrite``;
    with ``overwrite``, one that holds a ``config.json`` but not the marker of a run of
    this project (``overwrite`` never deletes a folder this project did not make).

    Process 0 wipes a marked run (``overwrite``: everything but the lock) and writes the
    marker and ``config.json``; every process then waits at a barrier, so no process
    writes into the workdir before it is wiped.
    """
    import jax  # after the distributed set-up of ``run``; not at import time (see the top)

    if os.path.exists(workdir) and not os.path.isdir(workdir):
        raise UsageError(f"workdir {workdir} is a file, not a folder; choose another "
                         f"--workdir")
    record = workdir_lib.read_record(workdir)
    marked = workdir_lib.is_marked_run(workdir)
    if overwrite and record is not None and not marked:
        raise UsageError(
            f"workdir {workdir} holds a {CONFIG_RECORD} but no {workdir_lib.MARKER_FILE} "
            f"marker: it is not a run that likelihood_jax started, and it is never deleted; "
            f"choose another --workdir")
    wipe = overwrite and marked
    if record is not None and not wipe:
        differ = workdir_lib.differing_fields(record, config)
        if differ:
            remedy = ("pass --overwrite to replace it or choose another --workdir" if marked
                      else "choose another --workdir")
            raise UsageError(f"workdir {workdir} holds a run of a different config (differs "
                             f"in: {workdir_lib.describe_fields(differ)}); {remedy}")
    if record is None and not wipe:
        _check_checkpoints_config(config, workdir)
    if jax.process_index() == 0:  # one writer; the other processes only check
        try:
            if wipe:
                workdir_lib.wipe(workdir)
            workdir_lib.make_writable(workdir)
            workdir_lib.mark_run(workdir)
            # Written to a temporary name and renamed (atomic): a concurrent reader (another
            # process of the same run checking the workdir) never sees a half-written record.
            workdir_lib.write_json_atomically(os.path.join(workdir, CONFIG_RECORD),
                                              workdir_lib.as_dict(config))
        except OSError as err:
            raise UsageError(f"cannot write in workdir {workdir}: {err}") from None
    _barrier(f"guard_workdir {os.path.abspath(workdir)}")
    os.makedirs(workdir, exist_ok=True)


def _check_eval_workdir(config: ml_collections.ConfigDict, workdir: str) -> None:
    """Refuses ``--mode eval`` of a missing workdir, or with a config other than the run's."""
    if not os.path.isdir(workdir):
        raise UsageError(f"no run to evaluate: workdir {workdir} does not exist")
    record = workdir_lib.read_record(workdir)
    if record is None:
        return  # the checkpoints' config hash is checked when they are restored
    differ = workdir_lib.differing_fields(record, config, RESUMABLE_FIELDS + EVAL_FIELDS)
    if differ:
        raise UsageError(
            f"workdir {workdir} holds a run of a different config (differs in: "
            f"{workdir_lib.describe_fields(differ)}); evaluate it with the config (file, mode "
            f"and overrides) it was trained with")


def _barrier(name: str) -> None:
    """Waits until every process of a multi-process run gets here (no-op with one)."""
    import jax

    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices(name)


def _network_error(host: str = "storage.googleapis.com", port: int = 443) -> str | None:
    """Why ``host`` cannot be reached (None: it can), within a few seconds."""
    import socket

    try:
        socket.create_connection((host, port), timeout=3).close()
    except OSError as err:
        return f"{type(err).__name__}: {err}"
    return None


def _check_dataset(config: ml_collections.ConfigDict) -> None:
    """Fails fast on ``config.dataset.name`` when it cannot be loaded offline.

    An unknown name fails in ``data.load_dataset`` (naming the known ones). A
    tensorflow-datasets catalog name that is not prepared in the data directory needs
    the network; without one it is refused here, instead of after minutes of retries.
    """
    group = config.get("dataset", None)
    name = group.get("name", None) if isinstance(group, ml_collections.ConfigDict) else None
    from likelihood_jax import data

    if not isinstance(name, str) or name in data.list_datasets():
        return
    import tensorflow_datasets as tfds

    if name.split(":", 1)[0].split("/", 1)[0] not in tfds.list_builders(
            with_community_datasets=False):
        return
    data_dir = data.resolve_data_dir()
    if tfds.builder(name, data_dir=data_dir).is_prepared():
        return
    reason = _network_error()
    if reason is not None:
        raise UsageError(
            f"dataset {name!r} (config.dataset.name) is a tensorflow-datasets catalog "
            f"dataset not prepared in {data_dir}, and the network is unreachable ({reason}); "
            f"the offline datasets are: {', '.join(data.list_datasets())}")


def _check_config(config: ml_collections.ConfigDict, config_path: str | None) -> None:
    """Checks what can be checked before the workdir is touched (each stage's, in a chain)."""
    from likelihood_jax.train import loop, stages
    from likelihood_jax.train.experiment import Experiment

    names = stages.stage_names(config)
    try:
        configs = [stages.stage_config(config, n, "/") for n in names] if names else [config]
    except KeyError as err:  # an override naming no field
        raise UsageError(f"config.stages: {err.args[0]}") from None
    for one in configs:
        cls = experiment_class(one.experiment, config_path)
        if isinstance(cls, type) and issubclass(cls, Experiment):
            loop.check_config(one)
        _check_dataset(one)


def run(config: ml_collections.ConfigDict, workdir: str, mode: str = "train",
        overwrite: bool = False, config_path: str | None = None) -> dict[str, float]:
    """Trains or evaluates the experiment named by ``config.experiment`` (or its stages).

    Training holds the workdir's lock (:func:`likelihood_jax.train.workdir.locked`,
    process 0) for the whole run.
    """
    return _checked_run(config, workdir, mode, overwrite, config_path)[0]


def _checked_run(config: ml_collections.ConfigDict, workdir: str, mode: str, overwrite: bool,
                 config_path: str | None) -> tuple[dict[str, float], str]:
    """:func:`run`: checks, the lock, the run and its ``test`` line; (metrics, headline)."""
    import jax

    from likelihood_jax.train import parallel

    parallel.maybe_initialize_distributed()
    if mode not in ("train", "eval"):
        raise UsageError(f"unknown --mode {mode!r}; choose train or eval")
    _check_config(config, config_path)
    if mode == "train" and jax.process_index() == 0:
        with workdir_lib.locked(workdir):
            metrics, headline = _run(config, workdir, mode, overwrite, config_path)
    else:
        metrics, headline = _run(config, workdir, mode, overwrite, config_path)
    print(f"test {headline}: {metrics.get(headline, float('nan')):.6g}", flush=True)
    return metrics, headline


def run_seeds(config: ml_collections.ConfigDict, workdir: str, seeds, mode: str = "train",
              overwrite: bool = False, config_path: str | None = None
              ) -> dict[str, dict[str, float]]:
    """:func:`run` once per seed in ``workdir/seed<s>/``; writes and returns the summary.

    Each seed's run is a complete run of its own (lock, resume, ``--overwrite``); a
    killed sweep resumes seed by seed with the same command. The summary
    (:func:`likelihood_jax.train.seeds.write_summary`) holds mean, standard deviation and
    95% interval of every test metric over the seeds.
    """
    import jax

    from likelihood_jax.train import seeds as seeds_lib

    per_seed, headline = {}, None
    for seed, one in seeds_lib.per_seed_configs(config, seeds):
        print(f"seed {seed}: {seeds_lib.seed_workdir(workdir, seed)}", flush=True)
        per_seed[seed], headline = _checked_run(one, seeds_lib.seed_workdir(workdir, seed),
                                                mode, overwrite, config_path)
    if jax.process_index() != 0:
        return seeds_lib.summarize(per_seed)
    summary = seeds_lib.write_summary(workdir, per_seed, headline)
    print(seeds_lib.headline_line(summary, headline), flush=True)
    return summary


def _run(config: ml_collections.ConfigDict, workdir: str, mode: str, overwrite: bool,
         config_path: str | None) -> tuple[dict[str, float], str]:
    """:func:`run` after its checks: one run, or a chain's stages, or its last for eval.

    Returns the test metrics and the name of the headline metric.
    """
    from likelihood_jax.train import stages

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
    return metrics, headline


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
        metrics = loop.train_and_evaluate(runner, workdir,
                                          config_hash=workdir_lib.config_hash(config))
    else:
        _check_eval_workdir(config, workdir)
        runner = cls(config)
        metrics = loop.evaluate_checkpoint(runner, workdir,
                                           config_hash=workdir_lib.config_hash(config))
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
    """Parses the command line into config, workdir, mode, overwrite and seeds."""
    opts = {"config": None, "workdir": None, "mode": "train", "overwrite": False,
            "seeds": None}
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
                             f"--overwrite, --seeds, --config.<field>=<value> (see --help)")
    if opts["config"] is None or opts["workdir"] is None:
        raise UsageError("--config and --workdir are required (see --help)")
    if opts["mode"] not in ("train", "eval"):
        raise UsageError(f"unknown --mode {opts['mode']!r}; choose train or eval")
    if opts["seeds"] is not None:
        from likelihood_jax.train import seeds as seeds_lib

        try:
            opts["seeds"] = seeds_lib.parse_seeds(opts["seeds"])
        except ValueError as err:
            raise UsageError(str(err)) from None
    config = load_config(opts["config"])
    for field, value in overrides:
        apply_override(config, field, value)
    opts["config_path"], opts["config"] = opts["config"], config
    return opts


def main(argv: list[str] | None = None) -> int:
    """Runs the command line; returns the process exit code."""
    argv = sys.argv[1:] if argv is None else argv
    if any(arg in ("-h", "--help") for arg in argv):
        print(USAGE, flush=True)
        return 0
    try:
        opts = parse_args(argv)
        from likelihood_jax.train.loop import Interrupted, NonFiniteLossError
        try:
            if opts["seeds"] is None:
                run(opts["config"], opts["workdir"], opts["mode"], opts["overwrite"],
                    config_path=opts["config_path"])
            else:
                run_seeds(opts["config"], opts["workdir"], opts["seeds"], opts["mode"],
                          opts["overwrite"], config_path=opts["config_path"])
        except (NonFiniteLossError, Interrupted) as err:
            print(f"error: {err}", file=sys.stderr, flush=True)
            return 128 + err.signum if isinstance(err, Interrupted) else 1
    except (UsageError, ValueError, OSError) as err:  # OSError: a path that cannot be used
        print(f"error: {err}", file=sys.stderr, flush=True)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
