"""Every experiment end to end: its primary ``runlocal`` config through the command line's path.

One case per folder under ``experiments/`` (``tests/discovery.py`` reads the declaration in
``experiments/<slug>/configs/__init__.py``: ``PRIMARY``, and optionally ``ARTIFACTS`` and
``PROGRESS``). Each case runs ``likelihood_jax.main.main`` in-process, exactly as
``python -m likelihood_jax.main --config experiments/<slug>/configs/<PRIMARY>.py:runlocal``
would (stages and procedures included), and asserts the contract of every run:

* the command exits 0;
* every trained run (each stage of a chain) lowered its training metric (``loss`` unless
  ``PROGRESS`` names another, or None): the last logged value is below the first;
* every trained run holds a checkpoint at its last step, its ``loss.png`` and the
  ``timing.json`` of its first step;
* the run (the last stage of a chain) wrote a ``"split": "test"`` line whose headline
  metric is finite, and printed it;
* the files of ``ARTIFACTS`` exist and are not empty;
* the experiment's own checks on the run's outputs, when
  ``tests/experiments/test_<slug>.py`` defines ``check_runlocal(workdir)``.

Each case is timed: it fails when the run takes more than ``LIMIT_S`` CPU seconds of the
worker process (compilation included; the dataset is loaded once before the clock starts,
so a first build of the data directory is not counted). CPU time, not wall time, so that
other load on the machine does not fail the suite. The timings go to
``.e2e/timings-<session>.jsonl``; ``tests/conftest.py`` writes the report
(``.e2e/report.txt``: per-family totals, the ten slowest) at the end of the session and
fails the session when the median of a complete harness run is above ``MEDIAN_LIMIT_S``.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import math
import os
import time

import pytest

from likelihood_jax import data
from likelihood_jax import main as cli
from likelihood_jax.train import plots, stages
from likelihood_jax.train.loop import CHECKPOINT_DIR, TIMING_FILE
from likelihood_jax.train.procedure import Procedure
from tests.conftest import e2e_timings_file
from tests.discovery import EndToEnd, end_to_end, family_of, slugs_on_disk

LIMIT_S = float(os.environ.get("LIKELIHOOD_JAX_E2E_LIMIT_S", 20.0))
MEDIAN_LIMIT_S = 6.0


def _runs(spec: EndToEnd, config, workdir: str) -> list[tuple[str, object, str]]:
    """``(name, config, workdir)`` of each run of the command: its stages, or itself."""
    names = stages.stage_names(config)
    if not names:
        return [("", config, workdir)]
    return [(name, stages.stage_config(config, name, workdir), os.path.join(workdir, name))
            for name in names]


def _is_procedure(run_config, spec: EndToEnd) -> bool:
    cls = cli.experiment_class(run_config.experiment, spec.config_spec)
    return isinstance(cls, type) and issubclass(cls, Procedure)


def _warm_datasets(runs) -> None:
    """Loads each run's dataset once, untimed (a fresh data directory builds it here)."""
    for _, run_config, _ in runs:
        options = dict(run_config.get("dataset", {}) or {})
        name = options.pop("name", None)
        if isinstance(name, str) and name in data.list_datasets():
            try:
                data.load_dataset(name, **options)
            except (TypeError, ValueError):  # options the experiment reads itself
                pass


def _metrics(workdir: str) -> list[dict]:
    path = os.path.join(workdir, "metrics.jsonl")
    assert os.path.isfile(path), f"no metrics.jsonl in {workdir}"
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def _check_trained_run(name: str, run_config, workdir: str, metric: str | None) -> None:
    where = f"run {name!r}" if name else "the run"
    lines = [m for m in _metrics(workdir) if "split" not in m]
    assert lines, f"{where} logged no training line"
    if metric is not None:
        values = [m[metric] for m in lines if metric in m]
        assert len(values) >= 2, (f"{where} logged {metric!r} {len(values)} time(s); the "
                                  f"runlocal preset logs about ten times")
        assert values[-1] < values[0], (f"{where}: training {metric!r} did not go down "
                                        f"(first {values[0]:.5g}, last {values[-1]:.5g})")
    steps = os.listdir(os.path.join(workdir, CHECKPOINT_DIR))
    assert str(run_config.total_steps) in steps, (
        f"{where}: no checkpoint at the last step {run_config.total_steps} (found {steps})")
    for artifact in ("loss.png", TIMING_FILE):
        assert os.path.isfile(os.path.join(workdir, artifact)), f"{where} wrote no {artifact}"


def _check_headline(run_config, workdir: str, spec: EndToEnd, printed: str) -> None:
    cls = cli.experiment_class(run_config.experiment, spec.config_spec)
    tests = [m for m in _metrics(workdir) if m.get("split") == "test"]
    assert tests, f"no 'split': 'test' line in {workdir}/metrics.jsonl"
    values = [v for v in tests[-1].values() if isinstance(v, (int, float))]
    assert values and all(math.isfinite(v) for v in values), tests[-1]
    assert "test " in printed, "the command printed no 'test <headline>: <value>' line"
    headline = printed.rsplit("test ", 1)[1].split(":", 1)[0].strip()
    assert headline in tests[-1], (f"headline {headline!r} missing from the test line "
                                   f"{sorted(tests[-1])} ({cls})")
    assert math.isfinite(tests[-1][headline]), f"headline {headline} = {tests[-1][headline]}"


def _record(spec: EndToEnd, cpu: float, wall: float, workdir: str, runs) -> None:
    first_steps = []
    for _, _, run_workdir in runs:
        path = os.path.join(run_workdir, TIMING_FILE)
        if os.path.isfile(path):
            with open(path) as f:
                first_steps.append(json.load(f)["first_step_seconds"])
    timings = e2e_timings_file()
    timings.parent.mkdir(exist_ok=True)
    line = {"slug": spec.slug, "config": spec.config, "family": family_of(spec.slug),
            "cpu_s": round(cpu, 2), "wall_s": round(wall, 2),
            "first_step_s": round(sum(first_steps), 2)}
    with open(timings, "a") as f:  # one short line per write: appends do not interleave
        f.write(json.dumps(line) + "\n")


@pytest.mark.parametrize("slug", slugs_on_disk())
def test_primary_runlocal_end_to_end(slug, tmp_path, capsys):
    spec = end_to_end(slug)
    config = cli.load_config(spec.config_spec)
    workdir = str(tmp_path / "run")
    runs = _runs(spec, config, workdir)
    _warm_datasets(runs)
    plots._pyplot()  # matplotlib's import is the process's, not this run's

    cpu, wall = time.process_time(), time.perf_counter()
    code = cli.main(["--config", spec.config_spec, "--workdir", workdir])
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    out, err = capsys.readouterr()
    assert code == 0, f"exit {code}:\n{err[-3000:]}"
    _record(spec, cpu, wall, workdir, runs)

    for name, run_config, run_workdir in runs:
        if not _is_procedure(run_config, spec):
            _check_trained_run(name, run_config, run_workdir, spec.progress_metric(name))
    _check_headline(runs[-1][1], runs[-1][2], spec, out)
    for artifact in spec.artifacts:
        path = os.path.join(workdir, artifact)
        assert os.path.isfile(path) and os.path.getsize(path) > 0, f"no artifact {artifact}"
    module = f"tests.experiments.test_{slug}"
    if importlib.util.find_spec(module) is not None:
        check = getattr(importlib.import_module(module), "check_runlocal", None)
        if check is not None:
            check(workdir)
    assert cpu <= LIMIT_S, (f"{slug} runlocal took {cpu:.1f} CPU s (wall {wall:.1f} s), above "
                            f"the {LIMIT_S:.0f} s budget: shrink its runlocal mode "
                            f"(likelihood_jax.train.config.runlocal)")
