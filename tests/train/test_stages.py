"""Multi-stage runs: a chain in one command, the one parameter hand-over, kill and resume."""

import contextlib
import json
import os

import numpy as np
import pytest

from likelihood_jax import main
from likelihood_jax.train import loop, stages
from likelihood_jax.train.config import base_config
from tests.clitools import checkpoint_steps, eval_lines
from tests.train import toys

CHAIN = ("toys.base(total_steps=8, stages=stages_config("
         "('teacher', {'optim': {'lr': 0.2}}), "
         "('student', {'seed': 1, 'teacher': {'from_stage': 'teacher'}}), "
         f"('report', {{'experiment': '{toys.NAME}:Report', "
         "'teacher': {'from_stage': 'student'}})))")


def run_chain(tmp_path, workdir, *args):
    config = toys.write_config(tmp_path / "chain.py", CHAIN)
    return main.main(["--config", config, "--workdir", str(workdir), *args])


def test_stage_configs_override_leaves_and_keep_the_order():
    config = toys.base(stages=stages.stages_config(("b", {"seed": 4}),
                                                   ("a", {"teacher": {"from_stage": "b"}})))
    assert stages.stage_names(config) == ("b", "a")
    a = stages.stage_config(config, "a", "/runs/x")
    assert "stages" not in a and a.teacher.from_stage == "b" and a.seed == 0
    assert stages.workdir_of(a, "b") == os.path.join("/runs/x", "b")
    bad = toys.base(stages=stages.stages_config(("a", {"teacher": {"typo": 1}})))
    with pytest.raises(KeyError, match="stage 'a'.*teacher.typo"):
        stages.stage_config(bad, "a", "/runs/x")
    with pytest.raises(ValueError, match="not a stage"):
        stages.workdir_of(base_config("x", "moons"), "teacher")
    with pytest.raises(ValueError, match="distinct"):
        stages.stages_config(("a", {}), ("a", {}))
    config.stages.order = ("a", "c")
    with pytest.raises(ValueError, match="must name stages of"):
        stages.stage_names(config)
    config.stages.order = ()
    assert stages.stage_names(config) == ()  # a single run of the parent config


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The chain run uninterrupted (module-scoped: its experiments are registered per test)."""
    return tmp_path_factory.mktemp("reference")


def test_chain_runs_in_one_command_and_hands_parameters_over(tmp_path, reference, monkeypatch,
                                                             capsys):
    toys.register(monkeypatch)
    assert run_chain(tmp_path, reference) == 0
    out = capsys.readouterr().out
    assert out.index("stage teacher") < out.index("stage student") < out.index("stage report")
    teacher, student, report = (eval_lines(reference / s)[-1]
                                for s in ("teacher", "student", "report"))
    assert checkpoint_steps(reference / "student") == [4, 8]
    # The report stage read the student's final parameters (through stage_params).
    assert report["w0"] == pytest.approx(student["w0"], abs=1e-7)
    # The student started from the teacher's final w (read through stage_params).
    assert student["start_w0"] == pytest.approx(teacher["w0"], abs=1e-7)
    with open(reference / "student" / "config.json") as f:
        assert json.load(f)["teacher"]["from_stage"] == "teacher"
    assert f"test w0: {report['w0']:.6g}" in out
    # Re-running the finished chain runs nothing again.
    assert run_chain(tmp_path, reference) == 0
    assert capsys.readouterr().out.count("finished earlier, skipped") == 3
    assert len(eval_lines(reference / "teacher")) == 1


def test_chain_killed_in_the_second_stage_resumes_to_the_same_result(
        tmp_path, reference, monkeypatch, capsys):
    toys.register(monkeypatch)
    if not (reference / "report").exists():
        assert run_chain(tmp_path, reference) == 0
    workdir = tmp_path / "killed"
    # The teacher stage runs through; the student stage gets SIGTERM after 5 steps.
    stops = iter([[], toys.StopAfter(4)])
    monkeypatch.setattr(loop, "_stop_requests", lambda: contextlib.nullcontext(next(stops)))
    assert run_chain(tmp_path, workdir) == 128 + 15
    assert checkpoint_steps(workdir / "teacher")[-1] == 8
    assert checkpoint_steps(workdir / "student")[-1] == 5
    assert not (workdir / "report").exists()
    capsys.readouterr()
    monkeypatch.undo()
    toys.register(monkeypatch)
    assert run_chain(tmp_path, workdir) == 0
    out = capsys.readouterr().out
    assert "stage teacher: finished earlier, skipped" in out
    assert "resuming from the checkpoint at step 5" in out + capsys.readouterr().err
    for stage in ("teacher", "student", "report"):
        a, b = eval_lines(reference / stage)[-1], eval_lines(workdir / stage)[-1]
        keys = [k for k in sorted(a) if k not in ("step", "split")]
        np.testing.assert_allclose([b[k] for k in keys], [a[k] for k in keys], rtol=1e-6)
