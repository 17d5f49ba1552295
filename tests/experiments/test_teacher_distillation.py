"""Teacher distillation and domain alignment [P193]: the synthetic instruction data, the exact
response metrics, the KD / DAE objectives against independent computations; the harness
(tests/test_experiments_e2e.py) runs teacher -> KD student -> expert -> DAE and calls
check_runlocal."""

import math
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.teacher_distillation.experiment import (
    InstructionDistillation,
    true_response_log_probs,
)
from likelihood_jax import data as data_lib
from likelihood_jax.data.synthetic.instructions import TASKS, instruction_data, task_response
from likelihood_jax.main import load_config
from likelihood_jax.sequence import decoding
from likelihood_jax.train.checkpoints import Checkpoints
from likelihood_jax.train.optimizers import make_optimizer
from likelihood_jax.train.state import TrainState
from tests.clitools import REPO, eval_lines, train_lines

CONFIG = os.path.join(REPO, "experiments", "teacher_distillation", "configs", "instructions.py")


def get_config(mode="runlocal"):
    return load_config(f"{CONFIG}:{mode}")


def save_random_run(tmp_path_factory, role, seed):
    config = get_config()
    config.role = role
    config.objective.name = "ce"
    experiment = InstructionDistillation(config)
    params = experiment.init_params(jax.random.key(seed), experiment.dataset.train)
    params = jax.tree.map(lambda p: 4.0 * p, params)
    state = TrainState.create(params, make_optimizer(config.optim, config.total_steps),
                              jax.random.key(0))
    workdir = str(tmp_path_factory.mktemp(role))
    checkpoints = Checkpoints(os.path.join(workdir, "checkpoints"))
    checkpoints.save(state)
    checkpoints.close()
    return workdir


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Checkpoints (random, sharpened parameters) of a teacher, an expert and a student."""
    return {role: save_random_run(tmp_path_factory, role, seed)
            for seed, role in enumerate(("teacher", "expert", "student"))}


def student(runs, **objective):
    config = get_config()
    config.objective.update(objective)
    config.teacher.workdir = runs["teacher"]
    config.teacher.expert_workdir = runs["expert"]
    if config.objective.name == "dae":
        config.objective.init_from = runs["student"]
    return config


def log_softmax(z):
    z = np.asarray(z, np.float64)
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def test_instruction_data_layout_tasks_and_noise():
    V, m = 7, 5
    data = instruction_data(TASKS, 3000, vocab_size=V, prompt_len=m, noise=0.0, seed=0)
    x, clean, task = data["x"], data["clean"], data["task"]
    assert x.shape == (3000, 2 * m + 2)
    np.testing.assert_array_equal(x[:, 0], V + task)
    np.testing.assert_array_equal(x[:, m + 1], V + len(TASKS))
    np.testing.assert_array_equal(x[:, m + 2:], clean)
    prompt = x[:, 1:m + 1]
    i = np.flatnonzero(task == TASKS.index("reverse"))[0]
    np.testing.assert_array_equal(clean[i], prompt[i][::-1])
    i = np.flatnonzero(task == TASKS.index("cumsum"))[0]
    np.testing.assert_array_equal(clean[i], np.cumsum(prompt[i]) % V)
    i = np.flatnonzero(task == TASKS.index("sort"))[0]
    assert list(clean[i]) == sorted(prompt[i])
    np.testing.assert_array_equal(task_response("shift", np.array([[0, 6]]), V), [[1, 0]])
    noisy = instruction_data(TASKS, 3000, vocab_size=V, prompt_len=m, noise=0.3, seed=0)
    flipped = np.mean(noisy["x"][:, m + 2:] != noisy["clean"])
    assert abs(flipped - 0.3 * (1 - 1 / V)) < 0.02
    with pytest.raises(ValueError, match="task"):
        instruction_data(("copy", "fly"), 4, vocab_size=V, prompt_len=m, noise=0.0, seed=0)


def test_exact_response_metrics_against_numpy_and_greedy_decoding(runs):
    experiment = InstructionDistillation(student(runs, name="ce"))
    data = experiment.test_sets["general"]
    x, clean = jnp.asarray(data["x"]), jnp.asarray(data["clean"])
    params = jax.jit(experiment.init_params)(jax.random.key(5), {"x": x})
    params = jax.tree.map(lambda p: 4.0 * p, params)
    metrics = jax.jit(lambda p: experiment.eval_fn(p, {"x": x, "clean": clean}, None))(params)
    V, m, eps = experiment.vocab_size, experiment.prompt_len, experiment.noise
    log_p = np.asarray(true_response_log_probs(clean, V, eps), np.float64)
    np.testing.assert_allclose(np.exp(log_p).sum(-1), 1.0, rtol=1e-6)
    entropy = -(np.exp(log_p[0, 0]) * log_p[0, 0]).sum()
    assert experiment.entropy == pytest.approx(entropy, rel=1e-6)
    log_q = log_softmax(experiment.model.apply({"params": params}, x[:, :-1]))[:, m + 1:2 * m + 1]
    ce = -(np.exp(log_p) * log_q).sum(-1).mean(-1)
    np.testing.assert_allclose(metrics["resp_ce"], ce, rtol=1e-4)
    np.testing.assert_allclose(metrics["resp_kl"], ce - entropy, rtol=1e-4, atol=1e-5)
    assert np.all(np.asarray(metrics["resp_kl"]) > -1e-5)
    # Exact match = greedy decoding from [TAG, prompt, SEP] reproduces f(prompt).
    greedy = np.asarray(decoding.greedy(experiment.model, params, x[:, :m + 2], m))
    np.testing.assert_array_equal(np.asarray(metrics["exact_match"]),
                                  np.all(greedy == np.asarray(clean), -1))
    # The first response token is predicted from [TAG, prompt, SEP] alone: token_acc there.
    first = np.asarray(jnp.argmax(experiment.response_logits(experiment.model, params, x), -1))
    np.testing.assert_array_equal(first[:, 0], greedy[:, 0])
    assert np.mean(greedy[:, 0] == np.asarray(clean)[:, 0]) > 0  # not a vacuous comparison


def test_kd_loss_is_the_analytic_kl_and_alpha_zero_is_ce(runs):
    kd_exp = InstructionDistillation(student(runs, name="kd", alpha=1.0, temperature=1.0))
    batch = {k: jnp.asarray(v[:8]) for k, v in kd_exp.dataset.train.items()}
    params = jax.jit(kd_exp.init_params)(jax.random.key(0), batch)
    loss, metrics = jax.jit(kd_exp.loss_fn)(params, batch, jax.random.key(1), jnp.int32(0))
    m = kd_exp.prompt_len
    log_p = log_softmax(kd_exp.teacher_model.apply({"params": kd_exp.teacher_params},
                                                   batch["x"][:, :-1]))[:, m + 1:2 * m + 1]
    log_q = log_softmax(kd_exp.model.apply({"params": params}, batch["x"][:, :-1]))[
        :, m + 1:2 * m + 1]
    kl = (np.exp(log_p) * (log_p - log_q)).sum(-1).mean(-1)
    np.testing.assert_allclose(loss, kl, rtol=2e-4)
    targets = np.asarray(batch["x"][:, m + 2:])
    nll = -np.take_along_axis(log_q, targets[..., None], -1)[..., 0].mean(-1)
    np.testing.assert_allclose(metrics["nll"], nll, rtol=2e-4)
    # alpha = 0: the CE student, value and gradient.
    zero = InstructionDistillation(student(runs, name="kd", alpha=0.0))
    ce = InstructionDistillation(student(runs, name="ce"))

    def value_and_grad(experiment):
        return jax.jit(jax.value_and_grad(lambda p: jnp.mean(
            experiment.loss_fn(p, batch, jax.random.key(1), jnp.int32(0))[0])))(params)

    (v0, g0), (v1, g1) = value_and_grad(zero), value_and_grad(ce)
    np.testing.assert_allclose(v0, v1, rtol=1e-7)
    for a, b in zip(jax.tree.leaves(g0), jax.tree.leaves(g1)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9)


def test_dae_distills_domain_rows_from_the_expert_and_the_rest_from_the_teacher(runs):
    experiment = InstructionDistillation(student(runs, name="dae", domain_fraction=0.25))
    batch = {k: jnp.asarray(v[:8]) for k, v in experiment.dataset.train.items()}
    params = jax.jit(experiment.init_params)(jax.random.key(0), batch)
    # It starts from the init_from run's parameters.
    first = jax.tree.leaves(params)[0]
    np.testing.assert_allclose(first, jax.tree.leaves(experiment.pretrained)[0])
    key = jax.random.key(4)
    loss, _ = jax.jit(experiment.loss_fn)(params, batch, key, jnp.int32(0))
    domain_x = experiment.domain_train["x"]
    idx = np.asarray(jax.random.randint(key, (2,), 0, len(domain_x)))
    x = np.array(batch["x"])
    x[:2] = domain_x[idx]
    m = experiment.prompt_len

    def response_log_probs(model, p):
        return log_softmax(model.apply({"params": p}, jnp.asarray(x[:, :-1])))[:, m + 1:2 * m + 1]

    expert = response_log_probs(experiment.teacher_model, experiment.expert_params)
    teacher = response_log_probs(experiment.teacher_model, experiment.teacher_params)
    log_p = np.concatenate([expert[:2], teacher[2:]])
    log_q = response_log_probs(experiment.model, params)
    kl = (np.exp(log_p) * (log_p - log_q)).sum(-1).mean(-1)
    np.testing.assert_allclose(loss, kl, rtol=2e-4)
    assert np.all(x[:2, 0] == experiment.vocab_size + TASKS.index("cumsum"))


def test_bad_configs_are_refused(runs):
    for key, value, match in [("name", "bogus", "objective"), ("alpha", 1.5, "alpha"),
                              ("temperature", 0.0, "temperature")]:
        with pytest.raises(ValueError, match=match):
            InstructionDistillation(student(runs, **{key: value}))
    bad = student(runs, name="kd")
    bad.teacher.workdir = ""
    experiment = InstructionDistillation(bad)  # constructing reads no run: the teacher is lazy
    with pytest.raises(ValueError, match="teacher.workdir"):
        _ = experiment.teacher_params
    bad = student(runs, name="dae")
    bad.objective.init_from = ""
    with pytest.raises(ValueError, match="init_from"):
        _ = InstructionDistillation(bad).pretrained
    bad = get_config()
    bad.instructions.domain_task = "copy"
    with pytest.raises(ValueError, match="domain_task"):
        InstructionDistillation(bad)
    bad = get_config()
    bad.role = "boss"
    with pytest.raises(ValueError, match="role"):
        InstructionDistillation(bad)


def test_construction_does_no_work_and_the_data_come_from_the_registry(runs):
    experiment = InstructionDistillation(student(runs, name="dae"))
    assert experiment._dataset is None and experiment._model is None
    assert "teacher_params" not in vars(experiment) and "pretrained" not in vars(experiment)
    opts = experiment.config.instructions
    draw = dict(vocab_size=opts.vocab_size, prompt_len=opts.prompt_len, noise=opts.noise)
    general = instruction_data(("copy", "reverse", "shift", "sort"), opts.teacher_num_train,
                               seed=opts.data_seed, **draw)
    domain = instruction_data(("cumsum",), opts.teacher_num_train, seed=opts.data_seed + 1,
                              **draw)
    # The student sees the first num_train general examples; DAE the first domain ones.
    for k in ("x", "clean", "task"):
        np.testing.assert_array_equal(experiment.dataset.train[k],
                                      general[k][:opts.num_train])
        np.testing.assert_array_equal(experiment.domain_train[k],
                                      domain[k][:opts.num_domain_train])
    test = instruction_data(("cumsum",), opts.num_test, seed=opts.data_seed + 3, **draw)
    np.testing.assert_array_equal(experiment.test_sets["domain"]["x"], test["x"])
    registered = data_lib.load_dataset("instructions", tasks="cumsum", num_drawn=8, num_train=3,
                                       num_test=2, seed=5)
    np.testing.assert_array_equal(
        registered.train["x"],
        instruction_data(("cumsum",), 8, vocab_size=10, prompt_len=6, noise=0.1, seed=5)["x"][:3])
    with pytest.raises(ValueError, match="num_train"):
        data_lib.load_dataset("instructions", num_drawn=8, num_train=9)


def check_runlocal(workdir: str) -> None:
    """The harness's run of the four stages: per-task metrics, and DAE logs its KD term."""
    kd_dir, dae_dir = os.path.join(workdir, "student"), os.path.join(workdir, "dae")
    final = eval_lines(kd_dir)[-1]
    assert {"em_domain", "em_general", "em_cumsum", "kl_copy"} <= set(final)
    assert 0.0 <= final["exact_match"] <= 1.0
    config = get_config()
    # Below the uniform predictor's KL, log V minus the entropy: the student learnt.
    assert final["resp_kl"] < math.log(config.instructions.vocab_size)
    assert "soft_kl" in train_lines(dae_dir)[-1]
