"""``--seeds``: one config over several seeds, summarized with intervals."""

from __future__ import annotations

import json
import math

import pytest

from likelihood_jax import main as cli
from likelihood_jax import metrics
from likelihood_jax.train import seeds
from tests import clitools


@pytest.mark.parametrize("text, expected", [("3", (0, 1, 2)), ("0,4,7", (0, 4, 7)),
                                            (" 2 ", (0, 1))])
def test_parse_seeds(text, expected):
    assert seeds.parse_seeds(text) == expected


@pytest.mark.parametrize("text", ["1", "x", "0,0", "-1,2", "1.5", ""])
def test_parse_seeds_refuses_what_gives_no_interval(text):
    with pytest.raises(ValueError, match="--seeds"):
        seeds.parse_seeds(text)


def test_summary_flags_a_metric_missing_or_nan_on_some_seed():
    per_seed = {0: {"nll": 1.0, "acc": 0.5}, 1: {"nll": 2.0, "acc": math.nan},
                2: {"nll": 3.0}}
    summary = seeds.summarize(per_seed)
    assert summary["nll"]["mean"] == pytest.approx(2.0)
    assert summary["nll"]["std"] == pytest.approx(1.0)
    assert summary["_incomplete"] == {"metrics": ["acc"]}
    table = seeds.markdown_table(summary, "nll")
    assert table.splitlines()[2].startswith("| nll | 2 +- 2.484 | 1 | 3 |")
    assert "acc" in table.splitlines()[-1]


def test_cli_runs_each_seed_and_writes_the_interval(tmp_path, capsys):
    workdir = tmp_path / "sweep"
    code = cli.main(["--config", f"{clitools.TOY2D}:runlocal", "--workdir", str(workdir),
                     "--seeds", "2", "--config.total_steps=4", "--config.eval_every=4",
                     "--config.checkpoint_every=4", "--config.log_every=2"])
    assert code == 0
    finals = [clitools.eval_lines(workdir / f"seed{s}")[-1]["nll"] for s in (0, 1)]
    assert finals[0] != finals[1]  # the seed reached the runs
    record = json.loads((workdir / "seeds.json").read_text())
    assert record["seeds"] == [0, 1] and record["headline"] == "nll"
    mean, half = metrics.mean_confidence_interval(finals)
    assert record["summary"]["nll"]["mean"] == pytest.approx(mean, rel=1e-6)
    assert record["summary"]["nll"]["half_width_95"] == pytest.approx(half, rel=1e-6)
    assert "| nll |" in (workdir / "seeds.md").read_text()
    assert "(95% interval, n=2 seeds)" in capsys.readouterr().out


def test_cli_names_a_bad_seeds_flag(tmp_path, capsys):
    code = cli.main(["--config", f"{clitools.TOY2D}:runlocal", "--workdir", str(tmp_path),
                     "--seeds", "1"])
    assert code == 2
    assert "error: --seeds needs at least two" in capsys.readouterr().err
