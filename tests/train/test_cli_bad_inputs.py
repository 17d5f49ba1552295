"""The command line and the workdir: bad inputs, and a torn or corrupt workdir that heals.

Everything runs ``likelihood_jax.main.main`` in-process on the tiny toy experiment
(``tests/train/toys.py``). The table of bad inputs checks, for each: a non-zero exit
status, exactly one non-empty line on stderr, starting with ``error:`` and naming the
field, file or flag at fault, and, where the case says so, that nothing was deleted or
created. The next tests copy one finished run, damage it as a kill or a disk would, and
run again: nothing is lost, nothing is logged twice, and the numbers are the same. The
last ones check two pieces directly: a damaged ``stage_done.json``, ``num_plot_samples=0``.
"""

import json
import os
import shutil
import subprocess
import sys
from types import SimpleNamespace

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from likelihood_jax import main
from likelihood_jax.train import loop, stages
from likelihood_jax.train import workdir as workdir_lib
from tests.clitools import REPO, checkpoint_steps, corrupt_checkpoint, eval_lines, train_lines
from tests.train import toys

UNWRITABLE = "/sys/likelihood_jax_test_unwritable"  # EPERM/EACCES even for root on Linux
# Evaluated at steps 4, 8 and 12, checkpointed at the same steps.
CONFIG = "toys.base(eval_every=4)"


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished 12-step toy run and its config file."""
    root = tmp_path_factory.mktemp("finished")
    config = toys.write_config(root / "toy.py", CONFIG)
    with pytest.MonkeyPatch.context() as monkeypatch:
        toys.register(monkeypatch)
        assert main.main(["--config", config, "--workdir", str(root / "run")]) == 0
    return root / "run", config


@pytest.fixture
def copy(finished, tmp_path, monkeypatch):
    """A copy of the finished run (toys registered): ``(workdir, config file)``."""
    toys.register(monkeypatch)
    shutil.copytree(finished[0], tmp_path / "run")
    return tmp_path / "run", finished[1]


def _unwritable_or_skip(path: str) -> str:
    try:
        os.makedirs(path)
    except OSError:
        return path
    os.rmdir(path)
    pytest.skip(f"{path} is writable here")


@pytest.fixture
def lock_holder():
    """Starts a process that holds a workdir's lock until the test ends."""
    procs = []

    def hold(workdir):
        code = ("import sys; from likelihood_jax.train import workdir; "
                "workdir.acquire_lock(sys.argv[1]); print('locked', flush=True); "
                "sys.stdin.read()")
        proc = subprocess.Popen([sys.executable, "-c", code, str(workdir)], cwd=REPO,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        procs.append(proc)
        assert proc.stdout.readline().strip() == "locked"
        return proc

    yield hold
    for proc in procs:
        proc.stdin.close()
        proc.wait(timeout=30)


def _copy(finished, tmp_path):
    shutil.copytree(finished[0], tmp_path / "run")
    return tmp_path / "run", finished[1]


# Each case: (tmp_path, finished, monkeypatch, lock_holder) -> (argv, culprit, check or None).


def _field(override, culprit):
    def case(tmp_path, finished, *_):
        return ["--config", finished[1], "--workdir", str(tmp_path / "w"), override], \
            culprit, lambda: not (tmp_path / "w").exists()  # refused before the workdir
    return case


def _workdir_is_a_file(tmp_path, finished, *_):
    (tmp_path / "w").write_text("my notes")
    return ["--config", finished[1], "--workdir", str(tmp_path / "w")], str(tmp_path / "w"), \
        lambda: (tmp_path / "w").read_text() == "my notes"


def _workdir_under_a_file(tmp_path, finished, *_):
    (tmp_path / "f").write_text("my notes")
    return ["--config", finished[1], "--workdir", str(tmp_path / "f" / "w")], \
        str(tmp_path / "f"), None


def _unwritable_workdir(tmp_path, finished, *_):
    path = _unwritable_or_skip(UNWRITABLE)
    return ["--config", finished[1], "--workdir", path], path, None


def _unwritable_data_dir(tmp_path, finished, monkeypatch, _):
    path = _unwritable_or_skip(UNWRITABLE + "_data")
    monkeypatch.setenv("LIKELIHOOD_JAX_DATA_DIR", path)
    return ["--config", finished[1], "--workdir", str(tmp_path / "w")], path, None


def _catalog_dataset_offline(tmp_path, finished, monkeypatch, _):
    monkeypatch.setattr(main, "_network_error", lambda: "gaierror: no network in this test")
    return ["--config", finished[1], "--workdir", str(tmp_path / "w"),
            "--config.dataset.name=mnist"], "'mnist'", None


def _bad_config_record(tmp_path, finished, *_):
    run, config = _copy(finished, tmp_path)
    (run / "config.json").write_text('{"experiment": ')
    return ["--config", config, "--workdir", str(run)], str(run / "config.json"), None


def _overwrite_of_an_unmarked_folder(tmp_path, finished, *_):
    folder = tmp_path / "thesis"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"experiment": "mine"}))
    (folder / "thesis.tex").write_text("\\documentclass{article}")
    return ["--config", finished[1], "--workdir", str(folder), "--overwrite"], \
        "config.json", lambda: (folder / "thesis.tex").exists()


def _another_config_in_an_unmarked_folder(tmp_path, finished, *_):
    folder = tmp_path / "legacy"  # e.g. a run made before runs were marked
    folder.mkdir()
    record = json.loads((finished[0] / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**record, "seed": 7}))
    return ["--config", finished[1], "--workdir", str(folder)], "differs in: seed)", None


def _torn_line_inside_metrics(tmp_path, finished, *_):
    run, config = _copy(finished, tmp_path)
    lines = (run / "metrics.jsonl").read_text().splitlines(keepends=True)
    lines[1] = lines[1][:10] + "\n"
    (run / "metrics.jsonl").write_text("".join(lines))
    return ["--config", config, "--workdir", str(run)], "metrics.jsonl, line 2", None


def _eval_of_a_missing_workdir(tmp_path, finished, *_):
    return ["--config", finished[1], "--workdir", str(tmp_path / "none"), "--mode", "eval"], \
        str(tmp_path / "none"), lambda: not (tmp_path / "none").exists()


def _eval_with_another_dataset(tmp_path, finished, *_):
    run, config = _copy(finished, tmp_path)
    return ["--config", config, "--workdir", str(run), "--mode", "eval",
            "--config.dataset.name=checkerboard"], "dataset.name", \
        lambda: "checkerboard" not in (run / "metrics.jsonl").read_text()


def _locked_by_a_live_run(tmp_path, finished, _, lock_holder):
    run, config = _copy(finished, tmp_path)
    holder = lock_holder(run)
    return ["--config", config, "--workdir", str(run)], f"in use by process {holder.pid}", None


def _checkpoints_of_another_config(tmp_path, finished, *_):
    run, config = _copy(finished, tmp_path)
    os.remove(run / "config.json")
    return ["--config", config, "--workdir", str(run), "--config.seed=1"], "config hash", \
        lambda: not (run / "config.json").exists()


CASES = {
    "checkpoint_every=0": _field("--config.checkpoint_every=0", "config.checkpoint_every"),
    "log_every=0": _field("--config.log_every=0", "config.log_every"),
    "negative total_steps": _field("--config.total_steps=-3", "config.total_steps"),
    "negative eval_every": _field("--config.eval_every=-1", "config.eval_every"),
    "negative num_plot_samples": _field("--config.num_plot_samples=-1",
                                        "config.num_plot_samples"),
    "unknown flag": _field("--steps=3", "--steps"),
    "workdir is a file": _workdir_is_a_file,
    "workdir under a file": _workdir_under_a_file,
    "unwritable workdir": _unwritable_workdir,
    "unwritable data dir": _unwritable_data_dir,
    "catalog dataset offline": _catalog_dataset_offline,
    "bad config.json": _bad_config_record,
    "--overwrite of an unmarked folder": _overwrite_of_an_unmarked_folder,
    "another config, unmarked folder": _another_config_in_an_unmarked_folder,
    "torn line inside metrics.jsonl": _torn_line_inside_metrics,
    "eval of a missing workdir": _eval_of_a_missing_workdir,
    "eval with another dataset": _eval_with_another_dataset,
    "workdir locked by a live run": _locked_by_a_live_run,
    "checkpoints of another config": _checkpoints_of_another_config,
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_one_line_naming_the_culprit(case, finished, tmp_path, monkeypatch,
                                                  lock_holder, capsys):
    toys.register(monkeypatch)
    argv, culprit, check = CASES[case](tmp_path, finished, monkeypatch, lock_holder)
    capsys.readouterr()
    assert main.main(argv) != 0
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert lines[0].startswith("error:") and culprit in lines[0], lines[0]
    if case.startswith("--overwrite") or "unmarked" in case:
        assert "--overwrite" not in lines[0]  # never suggested for a folder it cannot wipe
    if case == "catalog dataset offline":
        assert "moons" in lines[0]  # the offline datasets are named
    if check is not None:
        assert check(), f"{case}: the refusal changed the workdir"


def test_help_prints_the_usage(capsys):
    assert main.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: python -m likelihood_jax.main")
    for flag in ("--config", "--workdir", "--mode", "--overwrite", "--config.FIELD=VALUE"):
        assert flag in out


def test_readme_eval_line_names_the_config_of_its_train_line():
    with open(os.path.join(REPO, "README.md")) as f:
        text = f.read().replace("\\\n", " ")
    commands = [line.split() for line in text.splitlines()
                if line.startswith("python -m likelihood_jax.main")]
    (evaluation,) = [c for c in commands if "eval" in c]
    trained = [c for c in commands if "eval" not in c and c[c.index("--workdir") + 1]
               == evaluation[evaluation.index("--workdir") + 1]]
    assert trained, "the README evaluates a workdir that no README command trains"

    def config_args(command):  # the config file and every override that eval compares
        fields = workdir_lib.RESUMABLE_FIELDS + workdir_lib.EVAL_FIELDS
        return sorted(a for a in command[command.index("--config"):]
                      if a == command[command.index("--config") + 1]
                      or (a.startswith("--config.") and a[9:].split("=")[0] not in fields))

    assert config_args(evaluation) == config_args(trained[-1])


# -- A torn or corrupt workdir heals ------------------------------------------------------


def _values(line):
    return {k: v for k, v in line.items() if k not in ("step", "split")}


def test_kill_between_a_checkpoint_and_its_evaluation_runs_it_on_resume(finished, copy,
                                                                        capsys):
    run, config = copy
    # What a kill after the checkpoint of step 8 and before its evaluation leaves behind.
    shutil.rmtree(run / "checkpoints" / "12")
    kept = [m for m in train_lines(run) if m["step"] <= 8] + eval_lines(run)[:1]
    (run / "metrics.jsonl").write_text("".join(json.dumps(m) + "\n" for m in kept))
    assert main.main(["--config", config, "--workdir", str(run)]) == 0
    assert "step 8: running the evaluation the stopped run did not log" in capsys.readouterr().out
    assert eval_lines(run) == eval_lines(finished[0])
    assert train_lines(run) == train_lines(finished[0])
    # A kill while the final test line was written: the partial line is dropped (and
    # reported), the evaluation runs again, and the file is as before.
    text = (run / "metrics.jsonl").read_text()
    (run / "metrics.jsonl").write_text(text[:-20])
    assert main.main(["--config", config, "--workdir", str(run)]) == 0
    assert f"{run / 'metrics.jsonl'}: dropped a partial last line" in capsys.readouterr().out
    assert (run / "metrics.jsonl").read_text() == text


def test_rerun_of_a_finished_run_takes_a_dead_lock_over_and_logs_no_second_test_line(
        finished, copy, capsys):
    run, config = copy
    code = "import sys; from likelihood_jax.train import workdir; workdir.acquire_lock(sys.argv[1])"
    subprocess.run([sys.executable, "-c", code, str(run)], cwd=REPO, check=True)
    with pytest.raises(ProcessLookupError):  # the lock names a process that has ended
        os.kill(workdir_lib.lock_holder(str(run))["pid"], 0)
    assert main.main(["--config", config, "--workdir", str(run)]) == 0
    assert not (run / workdir_lib.LOCK_FILE).exists()  # taken over, released at the end
    assert eval_lines(run) == eval_lines(finished[0])
    assert f"test loss: {eval_lines(run)[-1]['loss']:.6g}" in capsys.readouterr().out


@pytest.mark.parametrize("corrupt", [
    "the final checkpoint",
    pytest.param("every checkpoint", marks=pytest.mark.nightly),  # Checkpoints' own test
])
def test_corrupt_checkpoints_are_replaced_by_the_rerun(finished, copy, corrupt, capsys):
    run, config = copy
    corrupt_checkpoint(run / "checkpoints" / ("12" if corrupt == "the final checkpoint" else ""))
    # Eval reports the newest good step, with the hash of the config it ran under (here
    # on one test batch: eval_batches may differ from the run's config).
    assert main.main(["--config", config, "--workdir", str(run), "--mode", "eval",
                      "--config.eval_batches=1"]) == (0 if corrupt != "every checkpoint" else 2)
    if corrupt == "the final checkpoint":
        line = eval_lines(run)[-1]
        assert line["step"] == 8 and line["mode"] == "eval"
        record = json.loads((run / "config.json").read_text())
        assert line["config_hash"] == workdir_lib.config_hash(record)
        assert line["loss"] != eval_lines(finished[0])[1]["loss"]  # one batch, not the split
    capsys.readouterr()
    assert main.main(["--config", config, "--workdir", str(run)]) == 0
    out = capsys.readouterr().out
    assert ("resuming from the checkpoint at step 8" in out) == (corrupt != "every checkpoint")
    assert checkpoint_steps(run) == [4, 8, 12]
    assert train_lines(run)[-1] == train_lines(finished[0])[-1]
    # The bad steps were saved again: eval restores the final one.
    assert main.main(["--config", config, "--workdir", str(run), "--mode", "eval"]) == 0
    assert eval_lines(run)[-1]["step"] == 12
    assert eval_lines(run)[-1]["loss"] == eval_lines(finished[0])[-1]["loss"]


def test_overwrite_wipes_a_marked_run(copy):
    run, config = copy
    (run / "notes.txt").write_text("written into the run")
    first_id = (run / workdir_lib.MARKER_FILE).read_text()
    assert main.main(["--config", config, "--workdir", str(run), "--config.total_steps=0",
                      "--overwrite"]) == 0
    assert not (run / "notes.txt").exists() and not checkpoint_steps(run)[1:]
    assert (run / workdir_lib.MARKER_FILE).read_text() != first_id
    assert [m["step"] for m in eval_lines(run)] == [0]


@pytest.mark.parametrize("text, finished_metrics", [
    ('{"metrics": {"nll": 1.5}}', {"nll": 1.5}), ('{"metrics": {"nll"', None), ("[]", None)])
def test_a_damaged_stage_done_file_counts_as_unfinished(tmp_path, text, finished_metrics):
    (tmp_path / stages.DONE_FILE).write_text(text)
    assert stages.finished_metrics(str(tmp_path)) == finished_metrics


@pytest.mark.parametrize("num", [0, 3])
def test_num_plot_samples_0_draws_and_plots_no_samples(tmp_path, num):
    experiment = SimpleNamespace(
        config={"num_plot_samples": num}, sample_fn=lambda params, key, n: jnp.zeros((n, 2)),
        dataset=SimpleNamespace(train={"x": np.ones((8, 2), np.float32)}),
        write_artifacts=lambda params, workdir: None, log_prob_fn=None)
    loop.write_plots(SimpleNamespace(experiment=experiment, base_key=jax.random.key(0)), {},
                     str(tmp_path))
    assert (tmp_path / "samples.png").exists() == (num > 0)
