"""EMO experiment: weight 0 is MLE, the logged bound is the library's, runlocal end to end."""

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.emo.experiment import EMO, output_embeddings
from likelihood_jax.main import load_config
from likelihood_jax.train import train_and_evaluate
from tests.clitools import REPO, checkpoint_steps, train_lines

CONFIG = os.path.join(REPO, "experiments", "emo", "configs", "synthetic.py")


def test_weight_zero_is_mle_and_the_bound_uses_the_head_embeddings():
    config = load_config(CONFIG + ":runlocal")
    config.objective.weight = 0.0
    experiment = EMO(config)
    batch = {"x": jnp.asarray(experiment.dataset.train["x"][:8])}
    params = experiment.init_params(jax.random.key(0), batch)
    loss, metrics = jax.jit(experiment.loss_fn)(params, batch, jax.random.key(1), jnp.int32(0))
    np.testing.assert_allclose(loss, metrics["nll"], rtol=1e-6)
    embeddings = output_embeddings(params)
    assert embeddings.shape == (experiment.vocab_size, config.model.width)
    inputs, targets = experiment.inputs_and_targets(batch["x"])
    logits = experiment.logits(params, inputs)
    q = jax.nn.softmax(logits, -1)
    unit = embeddings / jnp.linalg.norm(embeddings, axis=-1, keepdims=True)
    cost = 1.0 - unit @ unit.T
    direct = jnp.mean(jnp.einsum("btv,btv->bt", q, cost[targets]), -1)
    np.testing.assert_allclose(metrics["emd_bound"], direct, rtol=1e-4, atol=1e-6)
    config.objective.weight = -1.0
    with pytest.raises(ValueError, match="weight"):
        EMO(config)


@pytest.mark.slow
def test_runlocal_trains_end_to_end(tmp_path):
    config = load_config(CONFIG + ":runlocal")
    metrics = train_and_evaluate(EMO(config), str(tmp_path))
    train = train_lines(tmp_path)
    assert train[-1]["loss"] < train[0]["loss"]
    assert checkpoint_steps(tmp_path)[-1] == config.total_steps
    assert 0.0 <= metrics["tv"] < 1.0
