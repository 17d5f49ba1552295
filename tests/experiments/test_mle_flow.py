"""mle_flow: the model's math against independent values, and every config end to end."""

import math
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.mle_flow.experiment import MLEFlow, MLEFlowExperiment
from likelihood_jax import data
from likelihood_jax.main import load_config
from likelihood_jax.train import train_and_evaluate
from tests.clitools import REPO, checkpoint_steps, eval_lines, train_lines

CONFIGS = os.path.join(REPO, "experiments", "mle_flow", "configs")


def get_config(name, mode="runlocal"):
    return load_config(os.path.join(CONFIGS, f"{name}.py:{mode}"))


def _digits_experiment_and_params():
    experiment = MLEFlow(get_config("digits"))
    batch = {"x": jnp.asarray(experiment.dataset.test["x"][:8])}
    params = jax.jit(experiment.init_params)(jax.random.key(0), batch)
    params = jax.tree.map(lambda p: p + 0.05 * jax.random.normal(jax.random.key(1), p.shape),
                          params)
    return experiment, batch, params


def test_image_log_prob_is_the_change_of_variables_from_dequantized_data():
    """log p(y) of the model equals log N(f(g(y))) + slogdet of jacfwd(f o g), g = logit map."""
    experiment, batch, params = _digits_experiment_and_params()
    inputs = jax.jit(experiment.preprocess)(batch, jax.random.key(2))
    y = jax.nn.sigmoid(inputs["x"][0])
    y = (y - 0.05) / 0.9  # undo the logit map: the dequantized data in [0, 1)
    assert np.all((y >= 0) & (y < 1))
    # Each dequantized value lies in its integer level's cell [x, x + 1) / 17.
    levels = np.asarray(batch["x"][0], dtype=np.float64).reshape(-1)
    offset = np.asarray(y, dtype=np.float64).reshape(-1) * 17 - levels
    assert np.all((offset >= -1e-4) & (offset < 1 + 1e-4)), offset
    assert offset.std() > 0.1  # the noise is there: not all at one corner of the cells

    def data_to_latent(y):
        v = jnp.log(0.05 + 0.9 * y) - jnp.log1p(-(0.05 + 0.9 * y))
        return experiment.flow.bijector.forward(params, v)

    z, jacobian = jax.jit(lambda y: (data_to_latent(y), jax.jacfwd(data_to_latent)(y)))(y)
    _, logdet = jnp.linalg.slogdet(jacobian)
    expected = -0.5 * jnp.sum(z ** 2) - 32 * math.log(2 * math.pi) + logdet
    got = -jax.jit(experiment.eval_fn)(params, inputs, jax.random.key(3))["nll"][0]
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-3)


def test_bits_per_dim_is_the_discrete_bound_of_the_dequantized_density():
    experiment, batch, params = _digits_experiment_and_params()
    inputs = experiment.preprocess(batch, jax.random.key(3))
    out = jax.jit(experiment.eval_fn)(params, inputs, jax.random.key(4))
    # -log P(x) <= -log p(y) - D log(1/L), in bits per dimension.
    expected = (out["nll"] + 64 * math.log(17)) / (64 * math.log(2))
    np.testing.assert_allclose(out["bits_per_dim"], expected, rtol=1e-5)


@pytest.mark.nightly  # a convergence check (600 steps through the loop)
def test_mle_on_a_gaussian_reaches_its_entropy(tmp_path):
    """End to end through the loop: test NLL -> the analytic entropy of the data."""
    cov = np.array([[1.0, 0.8], [0.8, 1.0]])
    rng = np.random.default_rng(0)
    chol = np.linalg.cholesky(cov)
    def sample(n):
        return {"x": (rng.normal(size=(n, 2)) @ chol.T).astype(np.float32)}
    dataset = data.Dataset("gaussian", sample(20000), sample(5000),
                           data.DatasetInfo(kind="continuous", event_shape=(2,)))
    config = get_config("toy2d")
    config.total_steps, config.checkpoint_every = 600, 600
    metrics = train_and_evaluate(MLEFlow(config, dataset=dataset), str(tmp_path))
    entropy = 0.5 * np.log(np.linalg.det(2 * np.pi * np.e * cov))
    empirical = -np.mean(np.log(np.exp(-0.5 * np.einsum(
        "ni,ij,nj->n", dataset.test["x"], np.linalg.inv(cov), dataset.test["x"])) /
        (2 * np.pi * np.sqrt(np.linalg.det(cov)))))
    assert metrics["nll"] == pytest.approx(empirical, abs=0.05), (metrics, entropy)


@pytest.mark.nightly  # other configs' runlocal (the harness runs toy2d)
@pytest.mark.parametrize("name", ["digits", "mnist5k"])
def test_runlocal_trains_end_to_end(name, tmp_path):
    config = get_config(name)
    metrics = train_and_evaluate(MLEFlow(config), str(tmp_path))
    train = train_lines(tmp_path)
    assert train[-1]["loss"] < train[0]["loss"]
    assert eval_lines(tmp_path)[-1]["bits_per_dim"] == pytest.approx(metrics["bits_per_dim"])
    # Better than a uniform model of the levels, which scores log2(L) bits/dim.
    assert metrics["bits_per_dim"] < math.log2({"digits": 17, "mnist5k": 256}[name])
    assert checkpoint_steps(tmp_path)[-1] == config.total_steps
    assert os.path.getsize(os.path.join(tmp_path, "samples.png")) > 1000


@pytest.mark.parametrize("kind,transform,layer", [
    ("spline_coupling", "spline", "SplineCoupling"),
    ("maf", "affine", "MaskedAutoregressive"),
])
def test_model_kind_picks_the_flow_body(kind, transform, layer):
    config = get_config("spline_toy2d")
    config.model.kind, config.model.transform = kind, transform
    layers = MLEFlowExperiment(config).flow.bijector.layers
    assert [type(b).__name__ for b in layers] == ["ActNorm", layer] * config.model.num_layers
    config.model.kind = "glow"
    with pytest.raises(ValueError, match="model.kind"):
        MLEFlowExperiment(config).flow  # noqa: B018


@pytest.mark.nightly  # the main job's runlocal (the harness runs toy2d)
def test_spline_runlocal_beats_a_uniform_density_and_plots_the_nll(tmp_path):
    config = get_config("spline_toy2d")
    metrics = train_and_evaluate(MLEFlowExperiment(config), str(tmp_path))
    # Uniform on the board [-4, 4]^2 scores log 64; the data's entropy is log 32.
    assert math.log(32) < metrics["nll"] < math.log(64)
    assert train_lines(tmp_path)[-1]["loss"] < train_lines(tmp_path)[0]["loss"]
    for name in ("nll.png", "density.png", "samples.png"):
        assert os.path.getsize(os.path.join(tmp_path, name)) > 1000
