"""EBFlow: the method's math against analytic values, and every config end to end."""

import functools
import math
import os

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from experiments.ebflow.experiment import EBFlow
from likelihood_jax import data, flows
from likelihood_jax.flows import ebflow as ebflow_losses
from likelihood_jax.flows.ebflow import kde_log_prob_and_score
from likelihood_jax.main import load_config
from likelihood_jax.train import train_and_evaluate
from tests.clitools import REPO, checkpoint_steps, eval_lines, train_lines

CONFIGS = os.path.join(REPO, "experiments", "ebflow", "configs")
COV = np.array([[2.0, 0.6, -0.3], [0.6, 1.0, 0.2], [-0.3, 0.2, 0.5]])
MEAN = np.array([1.0, -2.0, 0.5])


def get_config(name, mode="runlocal"):
    return load_config(os.path.join(CONFIGS, f"{name}.py:{mode}"))


def gaussian(n, seed):
    rng = np.random.default_rng(seed)
    return MEAN + rng.standard_normal((n, 3)) @ np.linalg.cholesky(COV).T


def gaussian_entropy(cov):
    return 0.5 * np.linalg.slogdet(2 * np.pi * np.e * cov)[1]


@pytest.mark.parametrize("objective", ["sm", "ssm"])
def test_linear_ebflow_score_matching_recovers_the_precision_and_the_entropy(objective):
    """ActNorm + Dense trained by (sliced) score matching: A^T A -> Sigma^-1, NLL -> entropy.

    The energy 0.5 |A x + c|^2 has no x-dependent log-det; score matching fits it without any
    determinant. Its empirical minimizer is the inverse sample covariance S^-1 (the SM
    objective 0.5 tr(P S P) - tr(P) is minimal at P = S^-1), and at that minimizer the
    slogdet-evaluated mean NLL of the training data is exactly 0.5 log det(2 pi e S).
    """
    x = jnp.asarray(gaussian(2000, 0), jnp.float32)
    flow = flows.Flow(flows.Chain((flows.ActNorm(), flows.Dense())), (3,))
    params = flow.init(jax.random.key(0), x)
    # Start away from the answer (ActNorm's init already whitens the marginals).
    params = (params[0], {"w": params[1]["w"] * 0.5, "b": params[1]["b"] + 0.3})
    optimizer = optax.adam(optax.cosine_decay_schedule(0.05, 600))

    def loss(p, key):
        energy = functools.partial(flow.energy, p)
        keys = jax.random.split(key, x.shape[0])
        per_example = jax.vmap(lambda v, k: ebflow_losses.flow_score_matching_loss(
            objective, energy, v, k, num_slices=4))(x, keys)
        return jnp.mean(per_example)

    @jax.jit
    def train(p):
        def step(carry, key):
            p, state = carry
            grads = jax.grad(loss)(p, key)
            updates, state = optimizer.update(grads, state, p)
            return (optax.apply_updates(p, updates), state), None
        keys = jax.random.split(jax.random.key(1), 600)
        return jax.lax.scan(step, (p, optimizer.init(p)), keys)[0][0]

    params = train(params)
    actnorm, dense = params
    a = np.asarray(dense["w"] * jnp.exp(-actnorm["log_scale"])[None, :], np.float64)
    sample_cov = np.cov(np.asarray(x, np.float64).T, bias=True)
    tol = 2e-3 if objective == "sm" else 3e-2
    np.testing.assert_allclose(a.T @ a, np.linalg.inv(sample_cov), rtol=tol, atol=tol)
    np.testing.assert_allclose(a.T @ a, np.linalg.inv(COV), atol=0.1)  # sampling error
    # Exact NLL (slogdet of the Dense weight, ActNorm's log-scale) at evaluation only.
    nll_train = -np.mean(jax.vmap(flow.log_prob, in_axes=(None, 0))(params, x))
    np.testing.assert_allclose(nll_train, gaussian_entropy(sample_cov), atol=tol)
    test = jnp.asarray(gaussian(20000, 1), jnp.float32)
    nll_test = -np.mean(jax.vmap(flow.log_prob, in_axes=(None, 0))(params, test))
    assert nll_test == pytest.approx(gaussian_entropy(COV), abs=0.03)


def small_flow(dim=4):
    chain = flows.Chain((flows.ActNorm(), flows.Dense(),
                         flows.AffineCoupling(flows.alternating_mask(dim, 0), (8,)),
                         flows.SmoothLeakyReLU(0.3), flows.Dense(),
                         flows.AffineCoupling(flows.alternating_mask(dim, 1), (8,)),
                         flows.Dense()))
    flow = flows.Flow(chain, (dim,))
    x = jnp.asarray(np.random.default_rng(0).normal(size=(32, dim)), jnp.float32)
    params = jax.jit(flow.init)(jax.random.key(0), x)
    rng = np.random.default_rng(1)
    params = jax.tree.map(lambda a: a + jnp.asarray(0.3 * rng.standard_normal(a.shape),
                                                    a.dtype), params)
    return flow, params


def test_hutchinson_ssm_of_the_energy_averages_to_the_exact_objective():
    """E_v[SSM] == 0.5 |s|^2 + tr(ds/dx), the trace by jacfwd, for an EBFlow with D = 4.

    Checked for SSM with and without variance reduction, and for FD-SSM (same expectation up
    to O(eps^2), negligible at eps = 1e-3 in float64).
    """
    with jax.enable_x64(True):
        flow, params = small_flow()
        params = jax.tree.map(lambda a: a.astype(jnp.float64), params)
        energy = functools.partial(flow.energy, params)
        x = jnp.array([0.4, -1.1, 0.7, 1.9])
        score = jax.grad(lambda v: -energy(v))
        exact = jax.jit(lambda v: 0.5 * jnp.sum(score(v) ** 2)
                        + jnp.trace(jax.jacfwd(score)(v)))(x)
        sm = jax.jit(lambda v: ebflow_losses.flow_score_matching_loss(
            "sm", energy, v, jax.random.key(0)))(x)
        np.testing.assert_allclose(sm, exact, rtol=1e-10)

        def estimates(key):
            return jnp.stack([
                ebflow_losses.flow_score_matching_loss("ssm", energy, x, key,
                                                       variance_reduction=False),
                ebflow_losses.flow_score_matching_loss("ssm", energy, x, key),
                ebflow_losses.flow_score_matching_loss("fdssm", energy, x, key, eps=1e-3)])

        samples = np.asarray(jax.jit(jax.vmap(estimates))(
            jax.random.split(jax.random.key(3), 6000)))
    means, stds = samples.mean(0), samples.std(0)
    assert np.all(stds > 1e-3)  # real estimators, not the exact value
    np.testing.assert_array_less(np.abs(means - float(exact)),
                                 4 * stds / np.sqrt(len(samples)) + 1e-4)


def test_objectives_need_their_inputs_and_unknown_names_raise():
    energy = lambda v: 0.5 * jnp.sum(v ** 2)  # noqa: E731
    x, key = jnp.ones(3), jax.random.key(0)
    with pytest.raises(ValueError, match="Unknown EBFlow objective"):
        ebflow_losses.flow_score_matching_loss("nce", energy, x, key)
    with pytest.raises(ValueError, match="log_prob_fn"):
        ebflow_losses.flow_score_matching_loss("ml", energy, x, key)
    with pytest.raises(ValueError, match="model_sample"):
        ebflow_losses.flow_score_matching_loss("sml", energy, x, key)
    config = get_config("toy2d")
    config.objective = "mle"
    with pytest.raises(ValueError, match="config.objective"):
        EBFlow(config)


def test_kde_oracle_matches_a_gaussian_smoothing_of_a_point_mass():
    centers = np.zeros((10, 2), np.float32)
    x = np.array([[0.5, -1.0], [2.0, 0.0]], np.float32)
    log_p, score = kde_log_prob_and_score(x, centers, 0.5)
    expected = -0.5 * np.sum(x ** 2, -1) / 0.25 - np.log(2 * np.pi * 0.25)
    np.testing.assert_allclose(log_p, expected, rtol=1e-5)
    np.testing.assert_allclose(score, -x / 0.25, rtol=1e-5)


def digits_experiment(**overrides):
    """The mnist5k config on the 8x8 digits (D = 64): same code path, fast to compile."""
    config = get_config("mnist5k")
    config.dataset.name, config.model.event_shape = "digits", (8, 8, 1)
    for name, value in overrides.items():
        setattr(config, name, value)
    return EBFlow(config)


def test_map_energies_and_every_objective_on_images():
    """Without MaP the energy is the body's energy at T(y) minus T's log-det (T = logit)."""
    experiment = digits_experiment()
    x = jnp.asarray(experiment.dataset.train["x"][:4])
    params = jax.jit(experiment.init_params)(jax.random.key(0), {"x": x})
    y = jax.jit(experiment.preprocess)({"x": x}, jax.random.key(1))["x"]
    logit = flows.Logit(alpha=experiment.config.model.logit_alpha)

    @jax.jit
    def energies(params, y):
        u = experiment.preprocessed(y)
        full = experiment.full_params(params)
        log_det_t = jax.vmap(lambda v: logit.forward_and_log_det({}, v.reshape(-1))[1])(y)
        energy_y = jax.vmap(experiment.flow.energy, in_axes=(None, 0))(full, y)
        energy_u = jax.vmap(experiment.body_flow.energy, in_axes=(None, 0))(params, u)
        return log_det_t, energy_y, energy_u

    log_det_t, energy_y, energy_u = energies(params, y)
    np.testing.assert_allclose(energy_y, energy_u - log_det_t, rtol=1e-5)
    # Every objective gives a finite per-example loss (DSM and FD-SSM without MaP, which
    # perturb y out of the logit's domain, are refused).
    for objective in ("dsm", "fdssm"):
        with pytest.raises(ValueError, match="match_after_preprocessing"):
            digits_experiment(objective=objective, match_after_preprocessing=False).dataset
    cases = [(o, True) for o in ("ml", "sml", "ssm", "dsm", "fdssm")]
    for objective, use_map in cases + [("ssm", False), ("sml", False)]:
        experiment.objective, experiment.match_after_preprocessing = objective, use_map
        # A new function per case: the trace reads experiment.objective when compiled.
        loss, _ = jax.jit(lambda p, b, k: experiment.loss_fn(p, b, k, 0))(  # noqa: B023
            params, {"x": y}, jax.random.key(2))
        assert loss.shape == (4,) and np.all(np.isfinite(loss)), (objective, use_map)


@pytest.mark.nightly  # a convergence check (800 steps); the math is checked above
def test_score_matching_through_the_loop_fits_a_gaussian(tmp_path):
    """Linear EBFlow trained by SSM in the shared loop: test NLL -> the Gaussian's NLL."""
    train, test = gaussian(20000, 2).astype(np.float32), gaussian(5000, 3).astype(np.float32)
    dataset = data.Dataset("gaussian", {"x": train}, {"x": test},
                           data.DatasetInfo(kind="continuous", event_shape=(3,)))
    config = get_config("toy2d")
    config.model.event_shape, config.model.arch = (3,), "linear"
    config.data_noise_std = 0.0
    config.total_steps, config.checkpoint_every, config.optim.lr = 800, 800, 1e-2
    metrics = train_and_evaluate(EBFlow(config, dataset=dataset), str(tmp_path))
    diff = test - MEAN
    nll_true = np.mean(0.5 * np.einsum("ni,ij,nj->n", diff, np.linalg.inv(COV), diff)
                       + 0.5 * np.linalg.slogdet(2 * np.pi * COV)[1])
    assert metrics["nll"] == pytest.approx(nll_true, abs=0.03), metrics


def check_runlocal(workdir: str) -> None:
    """The harness's run of ``toy2d.py:runlocal``: the divergences to the smoothed toy."""
    last = eval_lines(workdir)[-1]
    assert {"nll", "kl", "fisher_divergence"} <= set(last)
    assert 0.0 < last["kl"] < 2.0
    for plot in ("samples.png", "density.png"):
        assert os.path.getsize(os.path.join(workdir, plot)) > 1000


@pytest.mark.nightly  # another config's runlocal
def test_mnist5k_runlocal_trains_end_to_end(tmp_path):
    config = get_config("mnist5k")
    experiment = EBFlow(config)
    metrics = train_and_evaluate(experiment, str(tmp_path))
    train = train_lines(tmp_path)
    assert train[-1]["loss"] < train[0]["loss"]
    last = eval_lines(tmp_path)[-1]
    assert last["bits_per_dim"] == pytest.approx(metrics["bits_per_dim"])
    assert metrics["bits_per_dim"] < math.log2(256)  # better than uniform
    assert checkpoint_steps(tmp_path)[-1] == config.total_steps
    assert os.path.getsize(os.path.join(tmp_path, "samples.png")) > 1000
