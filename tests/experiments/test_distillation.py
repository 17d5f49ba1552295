"""Distillation [P125, P007]: the student's objective against an independent computation,
neutral settings, bad configs; checks on the harness's teacher-then-student runlocal chain
(``check_runlocal``), and both configs' chains end to end (nightly)."""

import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.distillation.experiment import Distillation
from likelihood_jax import main
from likelihood_jax.main import load_config
from likelihood_jax.sequence import distillation as kd
from likelihood_jax.train.checkpoints import Checkpoints
from likelihood_jax.train.optimizers import make_optimizer
from likelihood_jax.train.state import TrainState
from tests.clitools import REPO, checkpoint_steps, eval_lines, train_lines

CONFIGS = os.path.join(REPO, "experiments", "distillation", "configs")


def get_config(name="synthetic", mode="runlocal"):
    return load_config(os.path.join(CONFIGS, f"{name}.py:{mode}"))


def transformer_config():
    """``synthetic.py:runlocal`` with transformers (its runlocal trains GRUs) for the math
    checks: teacher dropout needs a transformer teacher."""
    config = get_config()
    config.model.kind = config.teacher.model.kind = "transformer"
    return config


@pytest.fixture(scope="module")
def teachers(tmp_path_factory):
    """Checkpoints of two teachers of the synthetic runlocal config, written as the training
    loop writes them (random parameters, sharpened; the end-to-end test trains real ones)."""
    out = []
    for seed in (0, 1):
        config = transformer_config()
        config.role = "teacher"
        experiment = Distillation(config)
        params = experiment.init_params(jax.random.key(seed), experiment.dataset.train)
        params = jax.tree.map(lambda p: 3.0 * p, params)
        state = TrainState.create(params, make_optimizer(config.optim, config.total_steps),
                                  jax.random.key(seed))
        workdir = str(tmp_path_factory.mktemp(f"teacher{seed}"))
        checkpoints = Checkpoints(os.path.join(workdir, "checkpoints"))
        checkpoints.save(state)
        checkpoints.close()
        out.append(workdir)
    return out


def student(teacher_dirs, **objective):
    config = transformer_config()
    config.objective.update(objective)
    config.teacher.workdirs = ",".join(teacher_dirs)
    return config


def test_teacher_role_trains_the_teacher_model(teachers):
    config = get_config()
    config.role = "teacher"
    experiment = Distillation(config)
    assert experiment.model.width == config.teacher.model.width != config.model.width


def test_student_loss_equals_independent_kd_on_the_ensemble(teachers):
    config = student(teachers, alpha=0.7, temperature=3.0)
    experiment = Distillation(config)
    assert experiment.num_teachers == 2
    batch = {"x": jnp.asarray(experiment.dataset.train["x"][:8])}
    params = jax.jit(experiment.init_params)(jax.random.key(0), batch)
    loss, metrics = jax.jit(experiment.loss_fn)(params, batch, jax.random.key(1), jnp.int32(0))
    # Independent: restore each teacher through a fresh teacher-role experiment's model and
    # average probabilities in numpy.
    inputs, targets = experiment.inputs_and_targets(batch["x"])
    probs = []
    for i in range(2):
        p = jax.tree.map(lambda a, i=i: a[i], experiment.teacher_params)
        z = np.asarray(experiment.teacher_model.apply({"params": p}, inputs), np.float64) / 3.0
        e = np.exp(z - z.max(-1, keepdims=True))
        probs.append(e / e.sum(-1, keepdims=True))
    p = np.mean(probs, 0)
    s = np.asarray(experiment.logits(params, inputs), np.float64)
    log_q_t = s / 3.0 - np.log(np.exp(s / 3.0).sum(-1, keepdims=True))
    log_q = s - np.log(np.exp(s).sum(-1, keepdims=True))
    kl = (p * (np.log(p) - log_q_t)).sum(-1)
    ce = -np.take_along_axis(log_q, np.asarray(targets)[..., None], -1)[..., 0]
    ref = (0.7 * 9.0 * kl + 0.3 * ce).mean(-1)
    np.testing.assert_allclose(loss, ref, rtol=2e-4)
    np.testing.assert_allclose(metrics["nll"], ce.mean(-1), rtol=2e-4)


def test_alpha_zero_student_is_mle_and_bad_configs_are_refused(teachers):
    config = student(teachers[:1], alpha=0.0)
    experiment = Distillation(config)
    batch = {"x": jnp.asarray(experiment.dataset.train["x"][:8])}
    params = jax.jit(experiment.init_params)(jax.random.key(0), batch)
    loss, metrics = jax.jit(experiment.loss_fn)(params, batch, jax.random.key(1), jnp.int32(0))
    np.testing.assert_allclose(loss, metrics["nll"], rtol=1e-6)
    for key, value, match in [("name", "bogus", "objective"), ("alpha", 1.5, "alpha"),
                              ("temperature", 0.0, "temperature")]:
        bad = student(teachers[:1], **{key: value})
        with pytest.raises(ValueError, match=match):
            Distillation(bad)
    bad = student([])
    with pytest.raises(ValueError, match="teacher.workdirs"):
        Distillation(bad)
    bad = get_config()
    bad.role = "boss"
    with pytest.raises(ValueError, match="role"):
        Distillation(bad)


def test_train_noise_corrupts_only_the_training_split():
    config = get_config("synthetic_noisy")
    config.objective.name = "ce"
    clean = get_config("synthetic_noisy")
    clean.objective.name = "ce"
    clean.dataset.train_noise = 0.0
    noisy_data, clean_data = Distillation(config).dataset, Distillation(clean).dataset
    flipped = np.mean(noisy_data.train["x"] != clean_data.train["x"])
    rate, vocab = config.dataset.train_noise, config.dataset.vocab_size
    assert abs(flipped - rate * (1 - 1 / vocab)) < 0.03
    np.testing.assert_array_equal(noisy_data.test["x"], clean_data.test["x"])


def _check_chain(name: str, workdir: str) -> None:
    """A finished teacher-then-student chain of ``configs/<name>.py:runlocal``."""
    teacher_dir, student_dir = os.path.join(workdir, "teacher"), os.path.join(workdir, "student")
    total = get_config(name).total_steps
    assert checkpoint_steps(teacher_dir)[-1] == checkpoint_steps(student_dir)[-1] == total
    train = train_lines(student_dir)
    assert "soft_kl" in train[-1] and train[-1]["soft_kl"] < train[0]["soft_kl"]
    assert "soft_kl" not in train_lines(teacher_dir)[-1]  # the teacher trains by MLE
    metrics = eval_lines(student_dir)[-1]
    assert 0.0 <= metrics["tv"] < 1.0
    # The student read the teacher stage's final parameters.
    student_config = get_config(name)
    student_config.teacher.from_stage = "teacher"
    student_config.stage_root = workdir
    restored = Distillation(student_config).teacher_params
    with open(os.path.join(teacher_dir, "config.json")) as f:
        assert json.load(f)["role"] == "teacher"
    checkpoints = Checkpoints(os.path.join(teacher_dir, "checkpoints"))
    try:
        template = TrainState.create(jax.tree.map(lambda p: jnp.asarray(p[0]), restored),
                                     make_optimizer(student_config.optim, total),
                                     jax.random.key(0))
        final = jax.device_get(checkpoints.restore_latest(template).params)
    finally:
        checkpoints.close()
    for a, b in zip(jax.tree.leaves(final), jax.tree.leaves(restored)):
        np.testing.assert_array_equal(a, b[0])


def check_runlocal(workdir: str) -> None:
    """The end-to-end harness's run of ``synthetic.py:runlocal`` (teacher, then student)."""
    _check_chain("synthetic", workdir)


@pytest.mark.nightly
@pytest.mark.parametrize("name", ["synthetic", "synthetic_noisy"])
def test_runlocal_teacher_then_student_in_one_command(name, tmp_path):
    """The config's stages: the teacher, then the student distilled from that stage."""
    config = os.path.join(CONFIGS, f"{name}.py:runlocal")
    assert main.main(["--config", config, "--workdir", str(tmp_path)]) == 0
    _check_chain(name, str(tmp_path))
    # Re-running the finished chain trains nothing.
    assert main.main(["--config", config, "--workdir", str(tmp_path)]) == 0
    assert len(eval_lines(os.path.join(tmp_path, "student"))) == 1


@pytest.mark.nightly  # trains its teachers in the fixture: ~19 s with setup
def test_noisy_kd_injects_teacher_and_student_noise_and_is_plain_self_kd_without(teachers):
    quiet = Distillation(student(teachers[:1], name="noisy_kd", alpha=0.5, temperature=3.0))
    assert quiet.temperature == 1.0  # P007 distills at temperature 1
    batch = {"x": jnp.asarray(quiet.dataset.train["x"][:8])}
    params = jax.jit(quiet.init_params)(jax.random.key(0), batch)
    inputs, targets = quiet.inputs_and_targets(batch["x"])
    k1, k2 = jax.random.key(1), jax.random.key(2)
    loss_fn = jax.jit(quiet.loss_fn)
    loss1, _ = loss_fn(params, batch, k1, 0)
    loss2, _ = loss_fn(params, batch, k2, 0)
    np.testing.assert_allclose(loss1, loss2, rtol=1e-6)  # no noise: deterministic
    # Without noise it is plain self-KD at temperature 1 on the clean inputs.
    ref = jnp.mean(kd.noisy_self_distillation(quiet.logits(params, inputs),
                                              quiet.teacher_log_probs(inputs, k1), targets,
                                              alpha=0.5), -1)
    np.testing.assert_allclose(loss1, ref, rtol=1e-5)
    noisy = Distillation(student(teachers[:1], name="noisy_kd", alpha=0.5, teacher_dropout=0.3,
                                 replace_rate=0.5))
    teacher = jax.jit(noisy.teacher_log_probs)
    t1, t2 = teacher(inputs, k1), teacher(inputs, k2)
    assert float(jnp.max(jnp.abs(t1 - t2))) > 1e-3
    quiet_teacher = jax.jit(quiet.teacher_log_probs)
    np.testing.assert_allclose(quiet_teacher(inputs, k1), quiet_teacher(inputs, k2))
    loss_noisy, _ = jax.jit(noisy.loss_fn)(params, batch, k1, 0)
    assert float(jnp.max(jnp.abs(loss_noisy - loss1))) > 1e-4
