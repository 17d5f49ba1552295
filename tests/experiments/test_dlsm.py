"""dlsm: the analytic mixture scores against closed forms; the runlocal run's metrics
(``check_runlocal``); the digits runlocal (nightly)."""

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.dlsm.experiment import DLSM
from likelihood_jax.main import load_config
from likelihood_jax.train import train_and_evaluate
from tests.clitools import REPO, checkpoint_steps, eval_lines, train_lines

CONFIGS = os.path.join(REPO, "experiments", "dlsm", "configs")


def get_config(name="gmm2d", mode="runlocal"):
    return load_config(os.path.join(CONFIGS, f"{name}.py:{mode}"))


def test_true_scores_are_the_closed_form_gaussian_scores():
    """Two components in two classes: p_t(x | y) = N(alpha mu_y, (alpha^2 s^2 + sigma^2) I)."""
    config = get_config()
    config.dataset.num_components, config.dataset.num_classes = 2, 2
    config.dataset.num_train = config.dataset.num_test = 10
    exp = DLSM(config)
    means = np.array([[2.0, 0.0], [-2.0, 0.0]])
    x = jnp.asarray([0.4, -0.7])
    t = 0.2
    alpha, sigma = (float(v) for v in exp.sde.marginal(t))
    var = alpha**2 * 0.09 + sigma**2
    comp = -((np.asarray(x) - alpha * means) ** 2).sum(-1) / (2 * var)
    post = np.exp(comp - comp.max())
    post /= post.sum()
    true_scores, bayes_label = jax.jit(exp.true_scores), jax.jit(exp.bayes_label)
    for y in (0, 1):
        uncond, cond = true_scores(jnp.asarray(t), x, y)
        np.testing.assert_allclose(np.asarray(cond), -(np.asarray(x) - alpha * means[y]) / var,
                                   rtol=1e-4)
        mixture = -(np.asarray(x)[None] - alpha * means) / var
        np.testing.assert_allclose(np.asarray(uncond), post @ mixture, rtol=1e-4, atol=1e-6)
    assert int(bayes_label(jnp.asarray([1.9, 0.1]))) == 0
    assert int(bayes_label(jnp.asarray([-2.1, 0.2]))) == 1


def test_unknown_dataset_raises():
    config = get_config()
    config.dataset.name = "moons"
    experiment = DLSM(config)  # construction loads nothing
    with pytest.raises(ValueError, match="Unknown dataset"):
        experiment.dataset


def check_runlocal(workdir: str) -> None:
    """The harness's runlocal run (gmm2d): the score's DSM falls, every error is finite."""
    train = train_lines(workdir)
    assert train[-1]["dsm"] < train[0]["dsm"]
    last = eval_lines(workdir)[-1]
    for name in ("cond_err_ce", "cond_err_dlsm", "score_err_t0", "clf_grad_err_dlsm_t0",
                 "sample_acc_ce", "sample_acc_dlsm", "acc_dlsm"):
        assert np.isfinite(last[name]), name
    assert 0.0 <= last["sample_acc_dlsm"] <= 1.0
    assert os.path.getsize(os.path.join(workdir, "samples.png")) > 1000


@pytest.mark.nightly
def test_digits_runlocal_trains_end_to_end(tmp_path):
    config = get_config("digits")
    exp = DLSM(config)
    assert exp.dataset.train["x"].shape[1:] == (64,)
    assert float(np.abs(exp.dataset.train["x"]).max()) == 1.0
    metrics = train_and_evaluate(exp, str(tmp_path))
    train = train_lines(tmp_path)
    assert train[-1]["ce_clean"] < train[0]["ce_clean"]
    for name in ("acc_clean", "acc_dlsm", "sample_acc_ce", "sample_acc_dlsm"):
        assert np.isfinite(metrics[name]), name
    assert checkpoint_steps(tmp_path)[-1] == config.total_steps
    samples = exp.sample_fn(jax.tree.map(jnp.asarray, exp.init_params(
        jax.random.key(0), exp.dataset.train)), jax.random.key(1), 10)
    assert samples.shape == (10, 8, 8, 1)
