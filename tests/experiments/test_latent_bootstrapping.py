"""Latent bootstrapping [P185]: the objective against an independent computation, no
gradient through the teacher, the weights' neutral settings; the harness
(tests/test_experiments_e2e.py) runs runlocal and calls check_runlocal."""

import functools
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.latent_bootstrapping.experiment import LatentBootstrapping
from likelihood_jax.main import load_config
from likelihood_jax.sequence import masked_lm
from tests.clitools import REPO, eval_lines

CONFIG = os.path.join(REPO, "experiments", "latent_bootstrapping", "configs", "synthetic.py")


def get_config(mode="runlocal"):
    return load_config(f"{CONFIG}:{mode}")


@functools.lru_cache(maxsize=None)
def get_dataset():
    return LatentBootstrapping(get_config()).dataset


def test_objective_matches_independent_computation_and_teacher_gets_no_gradient():
    experiment = LatentBootstrapping(get_config(), dataset=get_dataset())
    x = jnp.asarray(experiment.dataset.train["x"][:8])
    params = jax.jit(experiment.init_params)(jax.random.key(0), {"x": x})
    # A teacher that differs from the student (as it does after a few EMA steps).
    params["teacher"] = jax.tree.map(
        lambda a: a + 0.05 * jax.random.normal(jax.random.key(7), a.shape), params["teacher"])
    key = jax.random.key(1)
    loss, metrics = jax.jit(experiment.loss_fn)(params, {"x": x}, key, jnp.int32(0))
    # Independent: masked student hidden states -> head; unmasked teacher hidden states.
    p = params["encoder"]
    hidden = jax.jit(experiment.hidden)
    inputs, target = masked_lm.mask_tokens(key, x, experiment.mask_id, experiment.vocab_size)
    student = hidden(p, inputs)
    logits = jax.jit(experiment.encoder.apply)({"params": p}, inputs)
    mlm = masked_lm.masked_lm_loss(logits, x, target)
    pred = jax.jit(experiment.head.apply)({"params": params["head"]}, student)
    t = np.asarray(hidden(params["teacher"], x))
    y = (t - t.mean(-1, keepdims=True)) / np.sqrt(t.var(-1, keepdims=True) + 1e-5)
    d = np.abs(np.asarray(pred) - y)
    per_token = np.where(d < 1, 0.5 * d ** 2, d - 0.5).mean(-1)
    m = np.asarray(target)
    boot = (per_token * m).sum(-1) / np.maximum(m.sum(-1), 1)
    np.testing.assert_allclose(metrics["mlm_loss"], mlm, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(metrics["bootstrap_loss"], boot, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(loss, mlm + boot, rtol=1e-4, atol=1e-6)
    # The teacher path carries no gradient: with the MLM weight 0, the gradient equals that
    # of the same loss with the teacher's hidden states fed in as constants.
    experiment.mlm_weight = 0.0

    def with_constant_teacher(q):
        s = experiment.hidden(q["encoder"], inputs)
        prediction = experiment.head.apply({"params": q["head"]}, s)
        return jnp.mean(masked_lm.latent_bootstrapping_loss(prediction, jnp.asarray(t), target))

    g1 = jax.jit(jax.grad(lambda q: jnp.mean(experiment.loss_fn(q, {"x": x}, key, 0)[0])))(params)
    g2 = jax.jit(jax.grad(with_constant_teacher))(params)
    for a, b in zip(jax.tree.leaves(g1), jax.tree.leaves(g2)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_after_update_is_the_mean_teacher_step():
    experiment = LatentBootstrapping(get_config(), dataset=get_dataset())
    x = jnp.asarray(experiment.dataset.train["x"][:4])
    params = jax.jit(experiment.init_params)(jax.random.key(0), {"x": x})
    for t, e in zip(jax.tree.leaves(params["teacher"]), jax.tree.leaves(params["encoder"])):
        np.testing.assert_array_equal(t, e)  # the teacher starts as the student
    student = jax.tree.map(lambda a: a + 1.0, params["encoder"])
    new = experiment.after_update(dict(params, encoder=student), jnp.int32(3))
    d = experiment.teacher_decay
    assert 0.0 < d < 1.0
    jax.tree.map(lambda n, t, s: np.testing.assert_allclose(n, d * t + (1 - d) * s, rtol=1e-6),
                 new["teacher"], params["teacher"], student)
    assert new["head"] is params["head"]


def test_bad_weights_are_refused():
    config = get_config()
    config.objective.update({"mlm_weight": 0.0, "bootstrap_weight": 0.0})
    with pytest.raises(ValueError, match="bootstrap_weight"):
        LatentBootstrapping(config, dataset=get_dataset())
    config = get_config()
    config.objective.teacher_decay = 1.5
    with pytest.raises(ValueError, match="teacher_decay"):
        LatentBootstrapping(config, dataset=get_dataset())
    config = get_config()
    config.optim.update({"name": "adamw", "weight_decay": 0.01})
    with pytest.raises(ValueError, match="no optimizer update"):
        LatentBootstrapping(config, dataset=get_dataset())


def check_runlocal(workdir: str) -> None:
    """The harness's run: no collapse, and the probe accuracy is a fraction."""
    final = eval_lines(workdir)[-1]
    assert final["embedding_var"] > 0.0
    assert 0.0 <= final["probe_acc"] <= 1.0
