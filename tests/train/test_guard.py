"""``guard_workdir --overwrite`` in a multi-process run: process 0 wipes, then a barrier."""

import json
import os

import jax
import pytest

from likelihood_jax import main
from likelihood_jax.train import workdir as workdir_lib
from likelihood_jax.train.config import base_config


@pytest.fixture
def old_run(tmp_path):
    workdir = tmp_path / "w"
    os.makedirs(workdir / "checkpoints")
    with open(workdir / main.CONFIG_RECORD, "w") as f:
        json.dump({"experiment": "old"}, f)
    workdir_lib.mark_run(str(workdir))  # a run this project started: --overwrite may wipe it
    return workdir


@pytest.mark.parametrize("process", [0, 1])
def test_only_process_0_wipes_and_every_process_waits(old_run, monkeypatch, process):
    barriers = []
    monkeypatch.setattr(jax, "process_index", lambda: process)
    monkeypatch.setattr(main, "_barrier", barriers.append)
    config = base_config("new", dataset="moons")
    main.guard_workdir(config, str(old_run), overwrite=True)
    assert barriers == [f"guard_workdir {os.path.abspath(old_run)}"]
    assert os.path.isdir(old_run / "checkpoints") == (process != 0)
    with open(old_run / main.CONFIG_RECORD) as f:
        assert json.load(f)["experiment"] == ("new" if process == 0 else "old")


def test_without_overwrite_another_config_is_refused_before_the_barrier(old_run, monkeypatch):
    monkeypatch.setattr(main, "_barrier", lambda name: pytest.fail("barrier reached"))
    with pytest.raises(main.UsageError, match="different config"):
        main.guard_workdir(base_config("new", dataset="moons"), str(old_run), overwrite=False)
