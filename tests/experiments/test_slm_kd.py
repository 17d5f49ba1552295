"""SALT [P153]: the schedule, w = 0 is CE exactly, the KD term is the analytic KL, the selection
rule on a hand-built case; the harness (tests/test_experiments_e2e.py) runs the
teacher-then-student runlocal and calls check_runlocal."""

import math
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.slm_kd.experiment import (
    SmallLMAssisted,
    kd_weight,
    salt_sequence_scores,
    select_top_fraction,
    steps_to_target,
)
from likelihood_jax.main import load_config
from likelihood_jax.sequence import distillation as kd
from likelihood_jax.train.checkpoints import Checkpoints
from likelihood_jax.train.optimizers import make_optimizer
from likelihood_jax.train.state import TrainState
from tests.clitools import REPO, eval_lines, train_lines

CONFIG = os.path.join(REPO, "experiments", "slm_kd", "configs", "markov.py")


def get_config(mode="runlocal"):
    return load_config(f"{CONFIG}:{mode}")


@pytest.fixture(scope="module")
def teacher_dir(tmp_path_factory):
    """A checkpoint of the runlocal SLM as the loop writes it (random, sharpened parameters)."""
    config = get_config()
    config.role = "teacher"
    experiment = SmallLMAssisted(config)
    params = experiment.init_params(jax.random.key(3), experiment.dataset.train)
    params = jax.tree.map(lambda p: 4.0 * p, params)
    state = TrainState.create(params, make_optimizer(config.optim, config.total_steps),
                              jax.random.key(0))
    workdir = str(tmp_path_factory.mktemp("slm"))
    checkpoints = Checkpoints(os.path.join(workdir, "checkpoints"))
    checkpoints.save(state)
    checkpoints.close()
    return workdir


def student(teacher_dir, **objective):
    config = get_config()
    config.objective.update(objective)
    config.teacher.workdir = teacher_dir
    return config


def test_kd_weight_schedules():
    args = dict(weight=0.4, kd_steps=10)
    for step in (0, 9, 10, 50):
        assert float(kd_weight(step, objective="ce", **args)) == 0.0
        assert float(kd_weight(step, objective="kd", **args)) == pytest.approx(0.4)
    assert [float(kd_weight(s, objective="salt", **args)) for s in (0, 9, 10, 11)] == \
        pytest.approx([0.4, 0.4, 0.0, 0.0])
    linear = [float(kd_weight(s, objective="salt_ds", transition="linear", **args))
              for s in (0, 5, 10, 20)]
    assert linear == pytest.approx([0.4, 0.2, 0.0, 0.0])
    with pytest.raises(ValueError, match="transition"):
        kd_weight(0, objective="salt", transition="cosine", **args)


def test_weight_zero_reproduces_the_ce_baseline_exactly(teacher_dir):
    salt = SmallLMAssisted(student(teacher_dir, name="salt", weight=0.7, kd_steps=5))
    ce = SmallLMAssisted(student(teacher_dir, name="ce"))
    batch = {"x": jnp.asarray(salt.dataset.train["x"][:16])}
    params = jax.jit(salt.init_params)(jax.random.key(0), batch)

    def value_and_grad(experiment):  # one compilation per experiment; the step is traced
        def objective(p, step):
            loss, _ = experiment.loss_fn(p, batch, jax.random.key(1), step)
            return jnp.mean(loss)
        return jax.jit(jax.value_and_grad(objective))

    salt_value_and_grad = value_and_grad(salt)
    ce_value, ce_grad = value_and_grad(ce)(params, jnp.int32(0))
    for step in (5, 100):  # after the KD stage: w = 0
        value, grad = salt_value_and_grad(params, jnp.int32(step))
        # Equal up to float32 rounding: XLA compiles the two graphs separately and may fuse
        # (or contract to FMA) the w = 0 mixture differently, so the float32 means can differ
        # in the last places (one ulp on a fresh machine; up to 2.1 eps relative over five
        # batches here). A few ulps: rtol = 8 * 2**-23, about 9.5e-7.
        np.testing.assert_allclose(value, ce_value, rtol=8 * np.finfo(np.float32).eps, atol=0)
        for a, b in zip(jax.tree.leaves(grad), jax.tree.leaves(ce_grad)):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9)
    value, _ = salt_value_and_grad(params, jnp.int32(0))  # during the KD stage it differs
    assert abs(float(value) - float(ce_value)) > 1e-3


def test_kd_term_equals_the_analytic_kl_on_a_toy_distribution():
    p = np.array([0.7, 0.2, 0.1])
    q = np.array([0.2, 0.5, 0.3])
    kl = sum(pi * math.log(pi / qi) for pi, qi in zip(p, q))
    logits = jnp.log(jnp.asarray(q))[None, None]
    teacher = jnp.log(jnp.asarray(p))[None, None]
    target = jnp.array([[1]])
    for w in (0.0, 0.3, 1.0):
        loss = kd.knowledge_distillation(logits, teacher, target, alpha=w, temperature=1.0)
        expected = (1 - w) * -math.log(q[1]) + w * kl
        assert float(loss[0, 0]) == pytest.approx(expected, rel=1e-5)


def test_student_loss_equals_an_independent_numpy_computation(teacher_dir):
    w = 0.6
    experiment = SmallLMAssisted(student(teacher_dir, name="kd", weight=w, temperature=2.0))
    batch = {"x": jnp.asarray(experiment.dataset.train["x"][:8])}
    params = jax.jit(experiment.init_params)(jax.random.key(0), batch)
    loss, metrics = jax.jit(experiment.loss_fn)(params, batch, jax.random.key(1), jnp.int32(7))
    inputs, targets = experiment.inputs_and_targets(batch["x"])

    def log_softmax(z):
        z = np.asarray(z, np.float64)
        return z - np.log(np.exp(z - z.max(-1, keepdims=True)).sum(-1, keepdims=True)) \
            - z.max(-1, keepdims=True)

    teacher_logits = experiment.teacher_model.apply({"params": experiment.teacher_params},
                                                    inputs)
    log_p = log_softmax(np.asarray(teacher_logits) / 2.0)
    s = np.asarray(experiment.logits(params, inputs))
    kl = (np.exp(log_p) * (log_p - log_softmax(s / 2.0))).sum(-1)
    ce = -np.take_along_axis(log_softmax(s), np.asarray(targets)[..., None], -1)[..., 0]
    ref = (w * 4.0 * kl + (1 - w) * ce).mean(-1)
    np.testing.assert_allclose(loss, ref, rtol=2e-4)
    np.testing.assert_allclose(metrics["nll"], ce.mean(-1), rtol=2e-4)
    np.testing.assert_allclose(metrics["kd_weight"], w)


def test_selection_rule_picks_challenging_but_learnable_sequences():
    # V = 4 tokens, 3 positions; the same SLM distribution at every position.
    probs = np.array([0.5, 0.3, 0.15, 0.05])  # ranks 0, 1, 2, 3
    log_p = jnp.asarray(np.broadcast_to(np.log(probs), (4, 3, 4)), jnp.float32)
    targets = jnp.array([
        [0, 0, 0],  # easy: every token the SLM's top-1
        [1, 1, 0],  # challenging and learnable: rank-1 tokens
        [3, 3, 3],  # hardest, but no token in the SLM's top-2: unlearnable (noise)
        [1, 3, 3],  # one learnable token of rank 1, two unlearnable
    ])
    scores = np.asarray(salt_sequence_scores(log_p, targets, top_k=2))
    l0, l1 = -math.log(0.5), -math.log(0.3)
    np.testing.assert_allclose(scores[[0, 1, 3]], [l0, l1, l1], rtol=1e-6)
    assert scores[2] == -np.inf
    np.testing.assert_array_equal(select_top_fraction(scores, 0.5), [1, 3])
    np.testing.assert_array_equal(select_top_fraction(scores, 0.75), [0, 1, 3])
    # With top_k = 4 every token is learnable and the noisy sequence scores highest.
    wide = np.asarray(salt_sequence_scores(log_p, targets, top_k=4))
    assert np.argmax(wide) == 2
    with pytest.raises(ValueError, match="top_k"):
        salt_sequence_scores(log_p, targets, top_k=0)
    with pytest.raises(ValueError, match="fraction"):
        select_top_fraction(scores, 0.0)


def test_salt_ds_selects_the_highest_scoring_training_sequences(teacher_dir):
    experiment = SmallLMAssisted(student(teacher_dir, name="salt_ds", select_fraction=0.25,
                                         select_top_k=3))
    x = np.asarray(experiment.dataset.train["x"])
    inputs, targets = experiment.inputs_and_targets(jnp.asarray(x))
    logits = experiment.teacher_model.apply({"params": experiment.teacher_params}, inputs)
    scores = np.asarray(salt_sequence_scores(jax.nn.log_softmax(logits), targets, 3))
    chosen = experiment.selected_index
    assert len(chosen) == math.ceil(0.25 * len(x))
    rest = np.setdiff1d(np.arange(len(x)), chosen)
    assert scores[chosen].min() >= scores[rest].max() - 1e-6
    np.testing.assert_array_equal(experiment.selected, x[chosen])
    # During the KD stage every row of the batch comes from the selected subset.
    batch = {"x": jnp.asarray(x[rest[:8]])}
    params = jax.jit(experiment.init_params)(jax.random.key(0), batch)
    _, m0 = experiment.loss_fn(params, batch, jax.random.key(2), jnp.int32(0))
    _, m1 = experiment.loss_fn(params, batch, jax.random.key(2),
                               jnp.int32(experiment.kd_steps))
    _, ce = SmallLMAssisted(student(teacher_dir, name="ce")).loss_fn(
        params, batch, jax.random.key(2), jnp.int32(0))
    np.testing.assert_allclose(m1["nll"], ce["nll"], rtol=1e-6)
    assert not np.allclose(m0["nll"], ce["nll"])


def test_steps_to_target_and_bad_configs(teacher_dir):
    lines = [{"step": 30, "fwd_ce": 1.5}, {"step": 10, "fwd_ce": 2.0},
             {"step": 20, "fwd_ce": 1.7}]
    assert steps_to_target(lines, "fwd_ce", 1.75) == 20
    assert steps_to_target(lines, "fwd_ce", 1.0) is None
    for key, value, match in [("name", "bogus", "objective"), ("weight", 1.5, "weight"),
                              ("temperature", 0.0, "temperature"),
                              ("transition", "cosine", "transition"),
                              ("kd_steps", 0, "kd_steps")]:
        with pytest.raises(ValueError, match=match):
            SmallLMAssisted(student(teacher_dir, **{key: value}))
    no_teacher = SmallLMAssisted(student("", name="salt"))  # constructing reads no run
    assert no_teacher._dataset is None and "teacher_params" not in vars(no_teacher)
    with pytest.raises(ValueError, match="teacher.workdir"):
        _ = no_teacher.teacher_params
    bad = get_config()
    bad.role = "boss"
    with pytest.raises(ValueError, match="role"):
        SmallLMAssisted(bad)


def check_runlocal(workdir: str) -> None:
    """The harness's SLM -> SALT student run: the KD weight schedule and the held-out NLL."""
    config = get_config()
    student_dir = os.path.join(workdir, "student")
    train = train_lines(student_dir)
    assert train[0]["kd_weight"] == pytest.approx(config.objective.weight)
    assert train[-1]["kd_weight"] == 0.0
    final = eval_lines(student_dir)[-1]
    assert final["fwd_ce"] < math.log(config.dataset.vocab_size) + 0.5


def test_summarize_reads_steps_to_target_best_and_final(tmp_path, capsys):
    import json

    from experiments.slm_kd import summarize
    lines = [{"step": 10, "loss": 3.0}, {"step": 50, "split": "test", "fwd_ce": 2.2, "tv": 0.5},
             {"step": 100, "split": "test", "fwd_ce": 1.9, "tv": 0.3},
             {"step": 150, "split": "test", "fwd_ce": 2.0, "tv": 0.4}]
    (tmp_path / "metrics.jsonl").write_text("\n".join(json.dumps(m) for m in lines))
    out = summarize.summarize(str(tmp_path), 2.05)
    assert out == {"steps_to_target": 100, "best": 1.9, "best_step": 100, "final": 2.0,
                   "final_tv": 0.4}
    summarize.main(["--target", "2.05", str(tmp_path)])
    assert "| 100 | 1.9000 (100) | 2.0000 | 0.4000 |" in capsys.readouterr().out
