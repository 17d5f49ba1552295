"""``kill -9`` at random points of ten runs of three families, then the same command again.

Each run is killed (SIGKILL: no checkpoint, no clean-up; possibly while a checkpoint, a
metrics line, a plot or the lock is being written) at a time drawn from a seeded
generator over the span its reference run spent after its first step (compilation and
start-up are not where a run spends its life), then rerun to the end. Its
``metrics.jsonl`` (every training and test line) and the fingerprint of its final state
must equal those of an uninterrupted run of the same command.
"""

import os
import pathlib
import signal
import subprocess
import time

import numpy as np
import pytest

from likelihood_jax.train.checkpoints import Checkpoints
from likelihood_jax.train.loop import TIMING_FILE
from tests.clitools import REPO, checkpoint_steps, env, main_command, metrics, run_main

# Checkpoints at multiples of log_every, so that a resumed run logs the windows of the
# uninterrupted one; evaluations between checkpoints and at them.
FAMILIES = {
    "flows (mle_flow)": ("experiments/mle_flow/configs/toy2d.py:runlocal", (
        "--config.total_steps=300", "--config.log_every=25", "--config.checkpoint_every=50",
        "--config.eval_every=75", "--config.checkpoints_to_keep=2")),
    "continuous time (ot_cfm)": ("experiments/ot_cfm/configs/toy2d.py:runlocal", (
        "--config.total_steps=300", "--config.log_every=15", "--config.checkpoint_every=30",
        "--config.eval_every=60", "--config.checkpoints_to_keep=2")),
    "sequence (mixce)": ("experiments/mixce/configs/synthetic.py:runlocal", (
        "--config.total_steps=120", "--config.log_every=6", "--config.checkpoint_every=12",
        "--config.eval_every=18", "--config.checkpoints_to_keep=2")),
}
RUNS = ["flows (mle_flow)"] * 4 + ["continuous time (ot_cfm)"] * 3 + ["sequence (mixce)"] * 3


def _final_fingerprint(workdir) -> str:
    checkpoints = Checkpoints(os.path.join(workdir, "checkpoints"))
    try:
        return checkpoints.metadata(max(checkpoints.steps()))["fingerprint"]
    finally:
        checkpoints.close()


def _start(config, workdir, overrides) -> tuple[subprocess.Popen, float]:
    """Starts the command; returns it and the time its first step ended (timing.json).

    Its stderr goes to ``<workdir>.stderr``.
    """
    with open(f"{workdir}.stderr", "w") as err:
        proc = subprocess.Popen(main_command(os.path.join(REPO, config), workdir, *overrides),
                                cwd=REPO, env=env(), stdout=subprocess.DEVNULL, stderr=err)
    deadline = time.monotonic() + 300
    while not os.path.exists(os.path.join(workdir, TIMING_FILE)) and proc.poll() is None \
            and time.monotonic() < deadline:
        time.sleep(0.005)
    return proc, time.monotonic()


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """``reference(family)``: (seconds after the first step, metrics lines, final state's
    fingerprint) of an uninterrupted run, run once per family."""
    done = {}

    def get(family):
        if family not in done:
            config, overrides = FAMILIES[family]
            workdir = tmp_path_factory.mktemp("reference")
            proc, first_step = _start(config, workdir, overrides)
            assert proc.wait(timeout=600) == 0, pathlib.Path(f"{workdir}.stderr").read_text()
            done[family] = (time.monotonic() - first_step, metrics(workdir),
                            _final_fingerprint(workdir))
        return done[family]

    return get


@pytest.mark.nightly
@pytest.mark.timeout(900)  # a reference run and a killed one, on a loaded machine
@pytest.mark.parametrize("run", range(len(RUNS)))
def test_kill_9_at_a_random_point_then_rerun_matches_the_uninterrupted_run(reference, tmp_path,
                                                                           run):
    family = RUNS[run]
    config, overrides = FAMILIES[family]
    seconds, lines, fingerprint = reference(family)
    delay = float(np.random.default_rng([20240613, run]).uniform(0.0, seconds))
    proc, _ = _start(config, tmp_path, overrides)
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    where = (f"{family} killed {delay:.2f} s after its first step (exit {proc.returncode}), "
             f"at checkpoints {checkpoint_steps(tmp_path)}")
    resumed = run_main(os.path.join(REPO, config), tmp_path, *overrides)
    assert resumed.returncode == 0, f"{where}: {resumed.stderr}"
    assert metrics(tmp_path) == lines, where
    assert _final_fingerprint(tmp_path) == fingerprint, where
