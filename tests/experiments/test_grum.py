"""grum: both samplers with analytic predictors reproduce the data; the runlocal run's metrics
(``check_runlocal``) and the other configs' runlocal runs (nightly)."""

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.grum.experiment import GruM
from likelihood_jax import data
from likelihood_jax.continuous_time import bridges
from likelihood_jax.data.synthetic import graphs
from likelihood_jax.main import load_config
from likelihood_jax.metrics import graphs as graph_metrics
from likelihood_jax.train import train_and_evaluate
from tests.clitools import REPO, checkpoint_steps, eval_lines, train_lines

CONFIGS = os.path.join(REPO, "experiments", "grum", "configs")


def get_config(name, mode="runlocal"):
    return load_config(os.path.join(CONFIGS, f"{name}.py:{mode}"))


def _fixed_size_experiment(method):
    """Ten 8-node SBM graphs: every training graph has the same node count."""
    config = get_config("community_small")
    config.method = method
    config.dataset.name = "sbm"
    config.dataset.num_train, config.dataset.num_test = 10, 4
    config.dataset.update({"block_sizes": (4, 4), "p_in": 0.7, "p_out": 0.1})
    experiment = GruM(config)
    adj = jnp.asarray(experiment.dataset.train["x"])
    mask = jnp.asarray(experiment.dataset.train["node_mask"])
    endpoints = jax.vmap(experiment.encode)(adj, mask)[0]  # (10, 28), +-1
    return experiment, endpoints


def _assert_copies_of_training_graphs(experiment, generated):
    train = experiment.train_graphs
    hits = [[i for i, g in enumerate(train) if np.array_equal(g, h)] for h in generated]
    assert all(hits), "a generated graph is not a training graph"
    assert len({h[0] for h in hits}) >= 5  # the mixture covers many endpoints
    mmds = graph_metrics.graph_mmds(generated, train)
    assert max(mmds.values()) < 0.05, mmds


def test_grum_sampler_with_the_posterior_mean_reproduces_the_training_graphs():
    """D = E[X | Z_t] over the empirical data: the mixture lands on the training graphs."""
    experiment, endpoints = _fixed_size_experiment("grum")
    experiment.config.sampling.num_steps = 100
    log_w = jnp.zeros(endpoints.shape[0])

    def oracle(t, v, mask):
        return bridges.dirac_posterior_mean(experiment.bridge, endpoints, log_w, t, v)

    generated = experiment.generate_graphs(None, jax.random.key(0), 40, model_fn=oracle)
    _assert_copies_of_training_graphs(experiment, generated)


def test_diffusion_sampler_with_the_exact_noise_predictor_reproduces_the_training_graphs():
    """eps = (x_t - alpha E[x0 | x_t]) / sigma for the empirical data: the VP baseline's
    reverse SDE lands on the training graphs (checks the baseline's wiring)."""
    experiment, endpoints = _fixed_size_experiment("diffusion")
    experiment.config.sampling.num_steps = 300
    vp = experiment.sde

    def oracle(t, v, mask):
        alpha, sigma = vp.marginal(t)
        logits = -0.5 * jnp.sum((v[None] - alpha * endpoints) ** 2, axis=1) / sigma**2
        mean = jax.nn.softmax(logits) @ endpoints
        return (v - alpha * mean) / sigma

    generated = experiment.generate_graphs(None, jax.random.key(1), 40, model_fn=oracle)
    _assert_copies_of_training_graphs(experiment, generated)


def test_encoding_roundtrip_and_bad_method():
    experiment, endpoints = _fixed_size_experiment("grum")
    adj = experiment.dataset.train["x"][0]
    back = experiment.to_matrix((endpoints[0] > 0).astype(jnp.float32))
    np.testing.assert_array_equal(np.asarray(back), adj)
    # A dataset passed in (padded arrays) gives the same graphs.
    again = GruM(experiment.config, dataset=experiment.dataset)
    assert all(np.array_equal(g, h) for g, h in zip(again.train_graphs,
                                                    experiment.train_graphs))
    config = get_config("grid")
    config.method = "gan"
    with pytest.raises(ValueError, match="unknown method"):
        GruM(config)


def test_construction_does_no_work_and_the_data_is_the_registered_dataset():
    """GruM(config) builds nothing; the dataset is load_dataset(name, **options)."""
    config = get_config("grid")
    experiment = GruM(config)
    assert experiment._dataset is None and experiment._model is None
    direct = data.load_dataset("grid", num_train=80, num_test=20, seed=0, min_side=3,
                               max_side=4)
    np.testing.assert_array_equal(experiment.dataset.train["x"], direct.train["x"])
    raw = graphs.make_dataset("grid", 20, 1, min_side=3, max_side=4)
    assert all(np.array_equal(g, h) for g, h in zip(experiment.test_graphs, raw))
    assert experiment.num_nodes == max(g.shape[0] for g in raw + experiment.train_graphs)


def check_runlocal(workdir: str) -> None:
    """The harness's runlocal run (community_small, grum): every MMD and the floor, a plot."""
    _check_graph_metrics(workdir)


def _check_graph_metrics(workdir) -> None:
    last = eval_lines(workdir)[-1]
    for key in ("mmd_mean", "mmd_degree", "mmd_clustering", "mmd_orbit", "ref_mean"):
        assert np.isfinite(last[key]) and last[key] >= 0, (key, last[key])
    assert os.path.getsize(os.path.join(workdir, "samples.png")) > 1000


@pytest.mark.nightly
@pytest.mark.parametrize("name,method", [
    ("grid", "diffusion"),
    ("community_small", "diffusion"),
    ("grid", "grum"),
])
def test_other_runlocal_configs_train_end_to_end(name, method, tmp_path):
    config = get_config(name)
    config.method = method
    metrics = train_and_evaluate(GruM(config), str(tmp_path))
    train = train_lines(tmp_path)
    assert train[-1]["loss"] < train[0]["loss"]
    assert eval_lines(tmp_path)[-1]["mmd_mean"] == pytest.approx(metrics["mmd_mean"])
    _check_graph_metrics(tmp_path)
    assert checkpoint_steps(tmp_path)[-1] == config.total_steps
