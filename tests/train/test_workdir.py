"""``train.workdir``: the config hash and the workdir lock."""

import json
import os
import socket

import pytest

from likelihood_jax.train import workdir as workdir_lib
from likelihood_jax.train.config import base_config


def test_config_hash_ignores_only_resumable_and_eval_fields():
    config = base_config("toy", dataset="moons")
    record = json.loads(json.dumps(workdir_lib.as_dict(config)))  # as read from config.json
    assert workdir_lib.config_hash(record) == workdir_lib.config_hash(config)
    for field in workdir_lib.RESUMABLE_FIELDS + workdir_lib.EVAL_FIELDS:
        assert workdir_lib.config_hash({**record, field: 123}) == workdir_lib.config_hash(record)
    for field, value in [("seed", 1), ("total_steps", 7)]:
        assert workdir_lib.config_hash({**record, field: value}) != \
            workdir_lib.config_hash(record)
    other = json.loads(json.dumps(record))
    other["optim"]["lr"] = 0.5
    assert workdir_lib.config_hash(other) != workdir_lib.config_hash(record)


def _write_lock(folder, holder):
    with open(folder / workdir_lib.LOCK_FILE, "w") as f:
        f.write(holder if isinstance(holder, str) else json.dumps(holder))


@pytest.mark.parametrize("stale", ["torn", "pid reused"])
def test_a_stale_lock_is_taken_over(tmp_path, stale):
    if stale == "torn":  # not JSON: no process could have written it (locks appear whole)
        _write_lock(tmp_path, '{"pid": 12')
    else:  # the parent process lives, but started at another time than the lock's writer
        _write_lock(tmp_path, {"pid": os.getppid(), "host": socket.gethostname(),
                               "start": "0"})
    assert workdir_lib.acquire_lock(str(tmp_path)) is True
    assert workdir_lib.lock_holder(str(tmp_path))["pid"] == os.getpid()
    assert workdir_lib.acquire_lock(str(tmp_path)) is False  # re-entrant: already ours
    workdir_lib.release_lock(str(tmp_path))
    assert workdir_lib.lock_holder(str(tmp_path)) is None
    assert sorted(os.listdir(tmp_path)) == []  # no temporary files left behind


def test_a_lock_of_another_host_is_respected(tmp_path):
    _write_lock(tmp_path, {"pid": 1, "host": "another-host", "start": None})
    with pytest.raises(workdir_lib.WorkdirError, match="in use by process 1 on another-host"):
        workdir_lib.acquire_lock(str(tmp_path))
    workdir_lib.release_lock(str(tmp_path))  # not ours: kept
    assert workdir_lib.lock_holder(str(tmp_path))["host"] == "another-host"
