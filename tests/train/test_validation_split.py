"""Validation splits: held out of train, evaluated during training, test seen at the end."""

from __future__ import annotations

import numpy as np
import pytest

from likelihood_jax import data as data_lib
from likelihood_jax import main as cli
from tests import clitools


def _toy(n=50):
    x = np.arange(2 * n, dtype=np.float32).reshape(n, 2)
    label = np.arange(n) % 3
    info = data_lib.DatasetInfo(kind="continuous", event_shape=(2,))
    return data_lib.Dataset("toy", {"x": x, "label": label}, {"x": x[:5]}, info)


def test_hold_out_is_a_fixed_partition_of_train_rows():
    full = _toy()
    split = data_lib.hold_out_validation(full, 0.2)
    assert len(split.validation["x"]) == 10 and len(split.train["x"]) == 40
    rows = np.concatenate([split.train["x"][:, 0], split.validation["x"][:, 0]]) / 2
    np.testing.assert_array_equal(np.sort(rows), np.arange(50))  # a partition
    np.testing.assert_array_equal(split.validation["label"], split.validation["x"][:, 0] / 2 % 3)
    again = data_lib.hold_out_validation(full, 0.2)  # independent of anything but the seed
    np.testing.assert_array_equal(again.validation["x"], split.validation["x"])
    assert split.test is full.test
    assert "validation={" in repr(split)


@pytest.mark.parametrize("fraction, match", [(0.0, r"in \(0, 1\)"), (1.0, r"in \(0, 1\)"),
                                             (0.001, "empty split")])
def test_bad_fractions_are_named(fraction, match):
    with pytest.raises(ValueError, match=match):
        data_lib.hold_out_validation(_toy(), fraction)


def test_a_second_hold_out_is_refused():
    with pytest.raises(ValueError, match="already has a validation split"):
        data_lib.hold_out_validation(data_lib.hold_out_validation(_toy(), 0.2), 0.2)


def test_training_evaluates_validation_and_sees_test_once_at_the_end(tmp_path):
    config = cli.load_config(f"{clitools.TOY2D}:runlocal")
    with config.unlocked():
        config.dataset.validation_fraction = 0.25
        config.total_steps, config.eval_every, config.checkpoint_every = 6, 2, 2
    workdir = tmp_path / "val"
    metrics = cli.run(config, str(workdir))
    lines = clitools.metrics(workdir)
    splits = [(m["step"], m["split"]) for m in lines if "split" in m]
    assert splits == [(2, "validation"), (4, "validation"), (6, "validation"), (6, "test")]
    assert metrics["validation_nll"] == pytest.approx(lines[-2]["nll"], rel=1e-6)
    assert metrics["nll"] == pytest.approx(lines[-1]["nll"], rel=1e-6)
    assert metrics["validation_nll"] != metrics["nll"]
    # A finished run is not evaluated again; it returns the same metrics.
    assert cli.run(config, str(workdir)) == pytest.approx(metrics)
    assert len(clitools.metrics(workdir)) == len(lines)
