"""MCMI [P034]: the teacher's objective against an independent numpy computation, the student's
transfer sets, bad configs; checks on the harness's teacher-then-student runlocal chain
(``check_runlocal``); nightly: the sweep at runlocal."""

import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.mcmi import sweep
from experiments.mcmi.experiment import MCMIDistillation, student_subset
from likelihood_jax import main
from likelihood_jax.data import load_dataset
from likelihood_jax.main import load_config
from tests.clitools import REPO, checkpoint_steps, eval_lines, train_lines

CONFIG = os.path.join(REPO, "experiments", "mcmi", "configs", "digits.py")


def get_config(mode="runlocal"):
    return load_config(f"{CONFIG}:{mode}")


def np_log_softmax(z):
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def test_teacher_loss_is_ce_minus_lambda_kl_to_the_batch_class_centroids():
    config = get_config()
    config.role = "teacher"
    config.teacher.cmi_weight = 0.3
    experiment = MCMIDistillation(config)
    assert experiment.config.total_steps == config.teacher.total_steps
    batch = {k: jnp.asarray(v[:40]) for k, v in experiment.dataset.train.items()}
    params = experiment.init_params(jax.random.key(0), batch)
    params = jax.tree.map(lambda p: 4.0 * p, params)  # sharper, more distinct predictions
    loss, metrics = jax.jit(experiment.loss_fn)(params, batch, jax.random.key(1), jnp.int32(0))
    # Independent: numpy forward pass of the MLP, loops over classes for the centroids.
    log_p = np_log_softmax(np.asarray(experiment.logits(params, batch["x"]), np.float64))
    p, y = np.exp(log_p), np.asarray(batch["label"])
    ce = -log_p[np.arange(len(y)), y]
    kl = np.zeros(len(y))
    for c in np.unique(y):
        sel = y == c
        centroid = p[sel].mean(0)
        kl[sel] = (p[sel] * (log_p[sel] - np.log(centroid))).sum(-1)
    assert kl.mean() > 1e-3
    np.testing.assert_allclose(loss, ce - 0.3 * kl, rtol=2e-4, atol=2e-5)
    np.testing.assert_allclose(metrics["cmi"], kl, rtol=2e-3, atol=2e-5)


def test_student_subsets_are_stratified_and_omit_a_class():
    digits = load_dataset("digits")
    few = student_subset(digits, 0.05, -1, seed=0)
    counts = np.bincount(few.train["label"], minlength=10)
    full_counts = np.bincount(digits.train["label"], minlength=10)
    np.testing.assert_array_equal(counts, np.round(0.05 * full_counts).astype(int))
    omit = student_subset(digits, 1.0, 3, seed=0)
    assert 3 not in omit.train["label"] and len(omit.train["label"]) == 1500 - full_counts[3]
    assert omit.test is digits.test
    assert few.train["x"].shape[1:] == digits.train["x"].shape[1:]
    with pytest.raises(ValueError, match="train_fraction"):
        student_subset(digits, 0.0, -1, 0)
    with pytest.raises(ValueError, match="omit_class"):
        student_subset(digits, 1.0, 10, 0)


def test_bad_configs_are_refused():
    for field, value, match in [("role", "boss", "role"), ("objective.name", "mse", "objective"),
                                ("teacher.cmi_weight", -0.1, "cmi_weight"),
                                ("objective.alpha", 1.5, "alpha")]:
        config = get_config()
        config.objective.name = "ce"
        group, _, key = field.rpartition(".")
        (config[group] if group else config)[key] = value
        with pytest.raises(ValueError, match=match):
            MCMIDistillation(config)
    config = get_config()  # kd without a teacher
    with pytest.raises(ValueError, match="teacher.workdir"):
        MCMIDistillation(config)
    config = get_config()
    config.objective.name = "ce"
    config.data.train_fraction = 0.01
    with pytest.raises(ValueError, match="batch_size"):
        MCMIDistillation(config).dataset  # noqa: B018 (the data are built when first read)


def check_runlocal(workdir: str) -> None:
    """The harness's run of the config's stages: an MCMI teacher (``teacher.cmi_weight=0.2``),
    then a student without class 3 (``data.omit_class=3``) distilled from it."""
    teacher_dir, student_dir = os.path.join(workdir, "teacher"), os.path.join(workdir, "student")
    train = train_lines(teacher_dir)
    assert train[-1]["loss"] < train[0]["loss"] and "cmi" in train[-1]
    teacher_metrics = eval_lines(teacher_dir)[-1]
    assert teacher_metrics["accuracy"] > 0.2
    # A fine-tuning teacher (teacher.init_from) starts from that run's final parameters.
    config = get_config()
    config.role = "teacher"
    config.teacher.init_from = teacher_dir
    finetune = MCMIDistillation(config)
    test = finetune.dataset.test
    params = finetune.init_params(jax.random.key(5), finetune.dataset.train)
    pred = np.asarray(jnp.argmax(finetune.logits(params, jnp.asarray(test["x"])), -1))
    assert np.mean(pred == test["label"]) == pytest.approx(teacher_metrics["accuracy"])
    config = get_config()
    assert config.data.omit_class == 3 and config.teacher.cmi_weight == 0.2
    config.teacher.from_stage, config.stage_root = "teacher", workdir
    assert 3 not in MCMIDistillation(config).dataset.train["label"]
    train = train_lines(student_dir)
    assert train[-1]["loss"] < train[0]["loss"]
    assert train[-1]["soft_kl"] < train[0]["soft_kl"]
    assert checkpoint_steps(student_dir)[-1] == config.total_steps
    assert os.path.exists(os.path.join(student_dir, "loss.png"))
    metrics = eval_lines(student_dir)[-1]
    assert 0.0 <= metrics["accuracy_omitted"] <= 1.0 and metrics["cmi"] >= 0.0


@pytest.mark.nightly
def test_sweep_runs_the_table_at_runlocal_as_one_procedure(tmp_path):
    """configs/sweep.py:runlocal, one seed, the fewshot setting: MLE teacher, CE and KD students."""
    sweep_config = os.path.join(REPO, "experiments", "mcmi", "configs", "sweep.py")
    metrics = main.run(load_config(f"{sweep_config}:runlocal"), str(tmp_path))
    with open(tmp_path / "results.json") as f:
        records = json.load(f)
    assert [(r["role"], r.get("student")) for r in records] == [
        ("teacher", None), ("student", "ce"), ("student", "kd_lam0")]
    assert metrics["fewshot_kd_lam0_accuracy"] == pytest.approx(records[2]["accuracy"])
    assert metrics["best_student_accuracy"] == pytest.approx(
        max(records[1]["accuracy"], records[2]["accuracy"]))
    # The runs are digits.py's runlocal runs: the student ran its total_steps.
    assert checkpoint_steps(tmp_path / "seed0" / "fewshot_kd_lam0")[-1] == 60
    assert eval_lines(tmp_path)[-1]["best_student_accuracy"] == pytest.approx(
        metrics["best_student_accuracy"])
    text = sweep.table(records)
    assert "| fewshot | kd_lam0 |" in text and "| teacher | lam0 |" in text
    assert (tmp_path / "table.md").read_text().strip() == text
    with pytest.raises(ValueError, match="settings"):
        sweep.run_table(get_config(), str(tmp_path / "bad"), [0], [], ["most"], 3)
