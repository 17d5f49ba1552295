"""label_flows: weak signals on digits, LLF's inverse-trained objective, the run's outputs."""

import math
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.label_flows.experiment import LabelFlows
from likelihood_jax.flows import weak_supervision as ws
from likelihood_jax.main import load_config
from tests.clitools import REPO, eval_lines, train_lines

CONFIG = os.path.join(REPO, "experiments", "label_flows", "configs", "digits.py")


@pytest.fixture(scope="module")
def experiment():
    return LabelFlows(load_config(CONFIG + ":runlocal"))


def test_weak_signals_are_weak_and_bounds_hold_for_the_true_labels(experiment):
    train = experiment.dataset.train
    signals = jnp.asarray(train["signals"])
    assert signals.shape == (len(train["x"]), 5, 10)
    np.testing.assert_allclose(jnp.sum(signals, -1), 1.0, atol=1e-5)
    accuracy = np.mean(np.argmax(train["signals"], -1) == train["label"][:, None], axis=0)
    assert np.all((accuracy > 0.4) & (accuracy < 0.8)), accuracy  # weak, better than chance
    # Cross-validated bounds on 100 labelled examples: the true labeling of the unlabelled
    # set satisfies them up to their sampling error.
    truth = jax.nn.one_hot(train["label"], 10)
    assert float(jnp.max(ws.constraint_violations(signals, truth, experiment.bounds))) < 0.05
    assert experiment.baselines["majority_vote_test_accuracy"] > 0.7
    # The supervised baseline sees exactly the labelled images, disjoint from the train set.
    labeled = experiment.dataset.labeled
    assert labeled["x"].shape == (100, 64) and labeled["label"].shape == (100,)
    flat_train = {row.tobytes() for row in train["x"]}
    assert not any(row.tobytes() in flat_train for row in labeled["x"])
    assert experiment.baselines["labeled_logreg_test_accuracy"] > 0.7


def test_loss_is_minus_log_prob_of_the_inverse_sample_plus_penalty(experiment):
    """The loss at y = f^{-1}(z; x) equals -[log N(z) - slogdet(d f^{-1}/dz)] + penalty."""
    train = experiment.dataset.train
    batch = {k: jnp.asarray(v[:16]) for k, v in train.items()}
    params = jax.jit(experiment.init_params)(jax.random.key(0), batch)
    params = jax.tree.map(lambda p: p + 0.1 * jax.random.normal(jax.random.key(1), p.shape),
                          params)
    key = jax.random.key(2)
    loss, metrics = jax.jit(experiment.loss_fn)(params, batch, key, jnp.int32(0))
    z = jax.random.normal(key, (16, 10))
    inverse = lambda v: experiment.flow.bijector.inverse(params, v, batch["x"][3])  # noqa: E731
    y3, jacobian = jax.jit(lambda v: (inverse(v), jax.jacfwd(inverse)(v)))(z[3])
    log_prob3 = (-0.5 * jnp.sum(z[3] ** 2) - 5 * math.log(2 * math.pi)
                 - jnp.linalg.slogdet(jacobian)[1])
    np.testing.assert_allclose(metrics["log_prob"][3], log_prob3, rtol=1e-4, atol=1e-4)
    y = jax.jit(jax.vmap(experiment.flow.bijector.inverse, in_axes=(None, 0, 0)))(
        params, z, batch["x"])
    np.testing.assert_allclose(y[3], y3, atol=1e-5)
    bound_pen, simplex_pen = ws.constraint_penalty(batch["signals"], y, experiment.bounds)
    expected = -metrics["log_prob"] + experiment.config.model.penalty_weight * (
        bound_pen + simplex_pen)
    np.testing.assert_allclose(loss, expected, rtol=1e-5)


def check_runlocal(workdir: str) -> None:
    """The harness's run of ``digits.py:runlocal``: inside the constraints, above chance."""
    train = train_lines(workdir)
    assert train[-1]["bound_penalty"] < train[0]["bound_penalty"]
    metrics = eval_lines(workdir)[-1]
    assert metrics["accuracy"] > 0.15  # above chance (0.1) after 400 steps
    # The averaged prediction is (nearly) on the simplex: each sample was pushed there.
    assert metrics["prediction_max_simplex_violation"] < 0.08
    for name in ("majority_vote_test_accuracy", "weak_label_logreg_test_accuracy",
                 "labeled_logreg_test_accuracy"):
        assert 0.0 < metrics[name] <= 1.0
