"""EMO experiment: weight 0 is MLE, the logged bound is the library's; checks on the harness's
runlocal run (``check_runlocal``)."""

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.emo.experiment import EMO, output_embeddings
from likelihood_jax.main import load_config
from tests.clitools import REPO, eval_lines

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


def check_runlocal(workdir: str) -> None:
    """The end-to-end harness's run: the exact TV is a distance in [0, 1)."""
    tv = eval_lines(workdir)[-1]["tv"]
    assert 0.0 <= tv < 1.0
