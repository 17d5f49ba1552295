"""The command line end to end: artifacts, overrides, eval mode, bad input."""

import os

import pytest

from tests.clitools import TOY2D, checkpoint_steps, eval_lines, run_main, train_lines

FAST = ("--config.total_steps=120", "--config.log_every=20", "--config.checkpoint_every=40",
        "--config.checkpoints_to_keep=3")


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("toy")
    proc = run_main(TOY2D + ":runlocal", workdir, *FAST)
    assert proc.returncode == 0, proc.stderr
    return workdir, proc


def test_run_leaves_metrics_checkpoints_and_plots(finished_run):
    workdir, proc = finished_run
    train = train_lines(workdir)
    assert [m["step"] for m in train] == [20, 40, 60, 80, 100, 120]
    assert all("loss" in m for m in train)
    assert train[-1]["loss"] < train[0]["loss"]
    test = eval_lines(workdir)
    assert test and test[-1]["step"] == 120 and "nll" in test[-1]
    assert checkpoint_steps(workdir) == [40, 80, 120]
    for png in ("samples.png", "density.png", "loss.png"):
        assert os.path.getsize(os.path.join(workdir, png)) > 1000
    assert os.listdir(os.path.join(workdir, "tensorboard"))
    assert f"test nll: {test[-1]['nll']:.6g}" in proc.stdout


def test_eval_mode_restores_and_reports(finished_run):
    workdir, _ = finished_run
    before = eval_lines(workdir)[-1]["nll"]
    proc = run_main(TOY2D + ":runlocal", workdir, *FAST, "--mode", "eval")
    assert proc.returncode == 0, proc.stderr
    after = eval_lines(workdir)
    assert after[-1]["step"] == 120
    assert after[-1]["nll"] == pytest.approx(before, rel=1e-6)
    assert "test nll:" in proc.stdout


def test_workdir_of_another_config_is_refused(finished_run, tmp_path):
    workdir, _ = finished_run
    proc = run_main(TOY2D + ":runlocal", workdir, *FAST, "--config.model.num_layers=2")
    assert proc.returncode != 0
    assert "different config" in proc.stderr and "model.num_layers" in proc.stderr


def test_overwrite_replaces_the_run(tmp_path):
    workdir = tmp_path / "w"
    assert run_main(TOY2D + ":runlocal", workdir, "--config.total_steps=20",
                    "--config.log_every=10").returncode == 0
    proc = run_main(TOY2D + ":runlocal", workdir, "--config.total_steps=30",
                    "--config.log_every=10", "--overwrite")
    assert proc.returncode == 0, proc.stderr
    assert [m["step"] for m in train_lines(workdir)] == [10, 20, 30]


@pytest.mark.parametrize("args, culprit", [
    ((TOY2D + ":runlocal", "--config.no_such_field=1"), "config.no_such_field"),
    ((TOY2D + ":runlocal", "--config.model.nope=1"), "config.model.nope"),
    (("experiments/mle_flow/configs/missing.py",), "missing.py"),
    ((TOY2D + ":runlocal", "--config.experiment=no_such_experiment"), "no_such_experiment"),
    ((TOY2D + ":runlocal", "--config.dataset.name=no_such_dataset"), "no_such_dataset"),
    ((TOY2D + ":runlocal", "--config.dataset.name=digits"), "(8, 8, 1)"),
    ((TOY2D + ":no_such_mode",), "no_such_mode"),
    ((TOY2D + ":runlocal", "--config.total_steps=many"), "config.total_steps"),
    (("experiments/gan/configs/eight_gaussians.py:runlocal",
      "--config.optim.groups.discriminator.updates_per_step=0"),
     "optim.groups.discriminator.updates_per_step (a GAN's n_critic)"),
])
def test_bad_input_is_one_line_naming_the_culprit(tmp_path, args, culprit):
    config, *rest = args
    proc = run_main(config, tmp_path / "w", *rest, timeout=120)
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error:") and culprit in lines[0], lines[0]
