"""``Procedure``: a study with no training loop, run by the command line like an experiment."""

import os

import numpy as np
import pytest

from likelihood_jax import data, main
from tests.clitools import eval_lines
from tests.train import toys


def test_closed_form_fit_runs_through_main_and_logs_its_headline(tmp_path, monkeypatch, capsys):
    toys.register(monkeypatch)
    config = toys.write_config(tmp_path / "fit.py",
                               f"toys.base(experiment='{toys.NAME}:GaussianFit')")
    workdir = tmp_path / "w"
    assert main.main(["--config", config, "--workdir", str(workdir)]) == 0
    moons = data.load_dataset("moons")
    mean, var = moons.train["x"].mean(0), moons.train["x"].var(0)
    expected = np.mean(0.5 * np.sum((moons.test["x"] - mean) ** 2 / var
                                    + np.log(2 * np.pi * var), -1))
    (line,) = eval_lines(workdir)
    assert line["nll"] == pytest.approx(expected, rel=1e-6)
    assert f"test nll: {line['nll']:.6g}" in capsys.readouterr().out
    assert os.path.exists(workdir / "fit.txt") and os.path.exists(workdir / "config.json")
    # The config record guard and the eval mode apply as to any run.
    assert main.main(["--config", config, "--workdir", str(workdir),
                      "--config.seed=3"]) == 2
    assert "different config" in capsys.readouterr().err
    assert main.main(["--config", config, "--workdir", str(workdir), "--mode", "eval"]) == 2
    assert "Procedure" in capsys.readouterr().err


def test_missing_headline_is_a_clear_error(tmp_path, monkeypatch):
    from likelihood_jax.train.procedure import run_procedure

    procedure = toys.GaussianFit(toys.base())
    monkeypatch.setattr(type(procedure), "headline_metric", "bits")
    with pytest.raises(ValueError, match=r"no 'bits' \(its headline_metric\).*'nll'"):
        run_procedure(procedure, str(tmp_path))
