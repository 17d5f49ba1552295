"""Kill-and-resume, corrupted checkpoints, NaN losses, several devices and processes."""

import os
import signal
import socket
import subprocess
import time

import numpy as np
import pytest

from tests.clitools import (
    REPO,
    TOY2D,
    checkpoint_steps,
    corrupt_checkpoint,
    env,
    eval_lines,
    main_command,
    run_main,
    train_lines,
)

LONG = ("--config.total_steps=1500", "--config.log_every=50", "--config.checkpoint_every=100")


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory):
    """An uninterrupted run of the config the kill test interrupts."""
    workdir = tmp_path_factory.mktemp("reference")
    proc = run_main(TOY2D + ":runlocal", workdir, *LONG)
    assert proc.returncode == 0, proc.stderr
    return workdir


def _final(workdir):
    return train_lines(workdir)[-1], eval_lines(workdir)[-1]


def test_kill_9_then_rerun_resumes_and_matches_uninterrupted(reference_run, tmp_path):
    workdir = tmp_path / "killed"
    proc = subprocess.Popen(main_command(TOY2D + ":runlocal", workdir, *LONG), cwd=REPO,
                            env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and not [s for s in checkpoint_steps(workdir) if s >= 300]:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = max(checkpoint_steps(workdir))
    assert 300 <= killed_at < 1500, "the run was not killed in the middle"
    resumed = run_main(TOY2D + ":runlocal", workdir, *LONG)
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming from the checkpoint at step" in resumed.stdout + resumed.stderr
    (train_a, test_a), (train_b, test_b) = _final(reference_run), _final(workdir)
    assert train_b["step"] == train_a["step"] == 1500
    assert train_b["loss"] == pytest.approx(train_a["loss"], rel=1e-6, abs=1e-6)
    assert test_b["nll"] == pytest.approx(test_a["nll"], rel=1e-6, abs=1e-6)
    steps = [m["step"] for m in train_lines(workdir)]
    assert steps == sorted(set(steps)), "metrics.jsonl has duplicated steps after resuming"


def test_corrupted_newest_checkpoint_falls_back_to_previous(tmp_path):
    workdir = tmp_path / "w"
    args = ("--config.total_steps=300", "--config.checkpoint_every=100",
            "--config.checkpoints_to_keep=3")
    assert run_main(TOY2D + ":runlocal", workdir, *args).returncode == 0
    final_loss = train_lines(workdir)[-1]["loss"]
    assert checkpoint_steps(workdir) == [100, 200, 300]
    corrupt_checkpoint(os.path.join(workdir, "checkpoints", "300"))
    proc = run_main(TOY2D + ":runlocal", workdir, *args)
    assert proc.returncode == 0, proc.stderr
    output = proc.stdout + proc.stderr
    assert "checkpoint at step 300" in output and "falling back" in output
    assert "resuming from the checkpoint at step 200" in output
    assert train_lines(workdir)[-1]["loss"] == pytest.approx(final_loss, rel=1e-6)


def test_nan_loss_stops_naming_step_and_metric_and_keeps_last_good_checkpoint(tmp_path):
    from experiments.mle_flow.experiment import MLEFlow
    from likelihood_jax import data
    from likelihood_jax.main import load_config
    from likelihood_jax.train import NonFiniteLossError, train_and_evaluate

    config = load_config(TOY2D + ":runlocal")
    config.total_steps, config.checkpoint_every, config.log_every = 100, 20, 10
    config.checkpoints_to_keep = 3
    clean = data.load_dataset("checkerboard")
    train = {k: v.copy() for k, v in clean.train.items()}
    # Poison the first example that step 57 (0-based) draws: step 58 is the first bad one.
    bad = data.batch_at_step({"i": np.arange(len(train["x"]))}, config.batch_size,
                             config.seed, 57)["i"][0]
    assert not np.isin(bad, np.concatenate([
        data.batch_at_step({"i": np.arange(len(train["x"]))}, config.batch_size, config.seed,
                           s)["i"] for s in range(57)]))
    train["x"][bad] = np.nan
    poisoned = data.Dataset(clean.name, train, clean.test, clean.info)
    with pytest.raises(NonFiniteLossError, match=r"'loss'.* at step 58"):
        train_and_evaluate(MLEFlow(config, dataset=poisoned), str(tmp_path))
    assert checkpoint_steps(tmp_path) == [20, 40]


def _free_port():
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


SHORT = ("--config.total_steps=60", "--config.log_every=10", "--config.checkpoint_every=30",
         "--config.batch_size=64")


@pytest.fixture(scope="module")
def one_device_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("one_device")
    proc = run_main(TOY2D + ":runlocal", workdir, *SHORT)
    assert proc.returncode == 0, proc.stderr
    return workdir


def _assert_same_training(workdir_a, workdir_b):
    a, b = train_lines(workdir_a), train_lines(workdir_b)
    assert [m["step"] for m in a] == [m["step"] for m in b]
    np.testing.assert_allclose([m["loss"] for m in a], [m["loss"] for m in b], rtol=1e-4)
    np.testing.assert_allclose(eval_lines(workdir_a)[-1]["nll"], eval_lines(workdir_b)[-1]["nll"],
                               rtol=1e-4)


def test_two_devices_train_like_one(one_device_run, tmp_path):
    proc = run_main(TOY2D + ":runlocal", tmp_path, *SHORT,
                    extra_env={"XLA_FLAGS": "--xla_force_host_platform_device_count=2 "
                                         "--xla_backend_optimization_level=0"})
    assert proc.returncode == 0, proc.stderr
    _assert_same_training(one_device_run, tmp_path)


@pytest.mark.nightly  # two subprocesses and a gloo rendezvous, ~13 s (two devices: default tier)
def test_two_processes_with_gloo_train_like_one(one_device_run, tmp_path):
    # The workdir holds another config's run: --overwrite wipes it once (process 0), and the
    # barrier after the wipe keeps process 1 from writing into it before.
    (tmp_path / "config.json").write_text('{"experiment": "another"}')
    (tmp_path / ".likelihood_jax_run").write_text("a run id\n")  # the marker of a run
    (tmp_path / "stale.txt").write_text("from the run that --overwrite replaces")
    port = _free_port()
    procs = [subprocess.Popen(
        main_command(TOY2D + ":runlocal", tmp_path, *SHORT, "--overwrite"), cwd=REPO,
        # The topology exchange waits for the slower process; with the test suite's other
        # workers on the same cores JAX's default 2 minutes was once too short in CI.
        env=env(JAX_COORDINATOR_ADDRESS=f"localhost:{port}", JAX_NUM_PROCESSES="2",
                JAX_PROCESS_ID=str(i), JAX_CPU_GET_LOCAL_TOPOLOGY_TIMEOUT_MINUTES="5",
                JAX_CPU_GET_GLOBAL_TOPOLOGY_TIMEOUT_MINUTES="6"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(2)]
    outputs = [p.communicate(timeout=480) for p in procs]
    for p, (_, err) in zip(procs, outputs):
        assert p.returncode == 0, err
    assert not (tmp_path / "stale.txt").exists()
    _assert_same_training(one_device_run, tmp_path)


@pytest.mark.parametrize("sig", [signal.SIGTERM,
                                 pytest.param(signal.SIGINT, marks=pytest.mark.nightly)])
def test_signal_saves_a_checkpoint_then_rerun_finishes(reference_run, tmp_path, sig):
    workdir = tmp_path / "signalled"
    proc = subprocess.Popen(main_command(TOY2D + ":runlocal", workdir, *LONG), cwd=REPO,
                            env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and not checkpoint_steps(workdir):
        time.sleep(0.01)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + sig, err
    assert "checkpoint saved" in err
    stopped_at = int(err.split(" at step ")[1].split(";")[0])
    assert stopped_at in checkpoint_steps(workdir)
    assert stopped_at < 1500
    resumed = run_main(TOY2D + ":runlocal", workdir, *LONG)
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming from the checkpoint at step {stopped_at}" in resumed.stdout
    assert train_lines(workdir)[-1]["loss"] == pytest.approx(
        train_lines(reference_run)[-1]["loss"], rel=1e-6, abs=1e-6)
