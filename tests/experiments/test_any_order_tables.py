"""STable [P046] experiment: the synthetic text-to-table source against its definition, the
per-table loss against a direct decoder pass, bad settings, and the runlocal run's metrics."""

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.any_order_tables.experiment import AnyOrderTables
from likelihood_jax import data as data_lib
from likelihood_jax.data.synthetic import text_tables
from likelihood_jax.main import load_config
from tests.clitools import REPO, eval_lines, train_lines

CONFIG = os.path.join(REPO, "experiments", "any_order_tables", "configs", "text_tables.py")


def test_documents_state_two_cells_per_row_and_imply_the_third():
    rows, values = 3, 5
    ds = data_lib.load_dataset("text_tables", num_rows=rows, num_values=values, num_train=50,
                               num_test=5)
    x, source, missing = ds.train["x"], ds.train["source"], ds.train["missing"]
    cells = x.reshape(-1, rows, 3)
    np.testing.assert_array_equal(cells[..., 2], (cells[..., 0] + cells[..., 1]) % values)
    for n in range(len(x)):
        seen = {}
        for mention in source[n].reshape(rows, 5):
            r = mention[0] - values
            for col_token, value in ((mention[1], mention[2]), (mention[3], mention[4])):
                seen[(r, col_token - values - rows)] = value
        assert len(seen) == 2 * rows
        for (r, c), value in seen.items():
            assert cells[n, r, c] == value and c != missing[n, r]
    assert ds.info.vocab[values] == "row0" and ds.info.vocab[values + rows] == "col_a"
    with pytest.raises(ValueError, match="num_values"):
        text_tables.load_text_tables("text_tables", num_values=1)


def test_loss_is_the_fixed_order_nll_of_a_direct_decoder_pass():
    config = load_config(f"{CONFIG}:runlocal")
    config.order = "fixed"
    experiment = AnyOrderTables(config)
    batch = {k: jnp.asarray(v[:4]) for k, v in experiment.dataset.train.items()}
    params = jax.jit(experiment.init_params)(jax.random.key(0), batch)
    loss, _ = jax.jit(experiment.loss_fn)(params, batch, jax.random.key(1), 0)
    t, v = experiment.num_cells, experiment.num_values
    inputs = jnp.stack([v + jnp.broadcast_to(jnp.arange(t), batch["x"].shape), batch["x"]],
                       axis=-1).reshape(4, 2 * t)
    logits = jax.jit(experiment.model.apply)({"params": params}, batch["source"],
                                             inputs)[:, 0::2]
    direct = -jnp.sum(jnp.take_along_axis(jax.nn.log_softmax(logits), batch["x"][..., None],
                                          -1)[..., 0], axis=1)
    np.testing.assert_allclose(loss, direct, rtol=1e-5)
    bad = load_config(f"{CONFIG}:runlocal")
    bad.order = "spiral"
    with pytest.raises(ValueError, match="order"):
        AnyOrderTables(bad)


def check_runlocal(workdir: str) -> None:
    """The harness's run: loss down, accuracies are fractions, both decoders ran."""
    train = train_lines(workdir)
    assert train[-1]["loss"] < train[0]["loss"]
    metrics = eval_lines(workdir)[-1]
    for name in ("cell_accuracy_search", "cell_accuracy_fixed", "table_exact_search",
                 "table_exact_fixed"):
        assert 0.0 <= metrics[name] <= 1.0
    assert np.isfinite(metrics["nll_fixed_order"])
