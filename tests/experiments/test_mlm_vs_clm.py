"""MLM vs CLM [P192]: the objective switch, the shared parameters; the harness
(tests/test_experiments_e2e.py) runs runlocal and calls check_runlocal."""

import functools
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.mlm_vs_clm.experiment import MLMvsCLM
from likelihood_jax.main import load_config
from likelihood_jax.sequence import masked_lm
from tests.clitools import REPO, eval_lines, train_lines

CONFIG = os.path.join(REPO, "experiments", "mlm_vs_clm", "configs", "synthetic.py")


def get_config(mode="runlocal"):
    return load_config(f"{CONFIG}:{mode}")


@functools.lru_cache(maxsize=None)
def get_dataset():
    return MLMvsCLM(get_config()).dataset


def test_switch_from_clm_to_mlm_at_the_configured_step():
    config = get_config()
    config.objective.switch_fraction = 0.25
    experiment = MLMvsCLM(config, dataset=get_dataset())
    assert experiment.switch_step == 15  # 0.25 * 60
    x = jnp.asarray(experiment.dataset.train["x"][:8])
    params = jax.jit(experiment.init_params)(jax.random.key(0), {"x": x})
    p = params["encoder"]
    key = jax.random.key(1)
    loss_fn = jax.jit(experiment.loss_fn)
    # Independent CLM: causal logits of [BOS, x_<L] scored on x.
    inputs = jnp.concatenate([jnp.full((8, 1), experiment.bos), x[:, :-1]], 1)
    logits = jax.jit(experiment.decoder.apply)({"params": p}, inputs)
    clm = -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), x[..., None], -1)[..., 0], -1)
    # Independent MLM: the same masking, bidirectional logits.
    masked, target = masked_lm.mask_tokens(key, x, experiment.mask_id, experiment.vocab_size)
    encode = jax.jit(experiment.encoder.apply)
    mlm = masked_lm.masked_lm_loss(encode({"params": p}, masked), x, target)
    for step, expected, phase in [(0, clm, 0.0), (14, clm, 0.0), (15, mlm, 1.0), (59, mlm, 1.0)]:
        loss, metrics = loss_fn(params, {"x": x}, key, jnp.int32(step))
        np.testing.assert_allclose(loss, expected, rtol=1e-5)
        assert float(metrics["phase_mlm"]) == phase
    # The causal and bidirectional modes share parameters but not outputs.
    assert not np.allclose(jax.jit(experiment.decoder.apply)({"params": p}, x),
                           encode({"params": p}, x))


def test_pure_objectives_and_bad_config():
    for kind in ("clm", "mlm"):
        config = get_config()
        config.objective.kind = kind
        experiment = MLMvsCLM(config, dataset=get_dataset())
        x = jnp.asarray(experiment.dataset.train["x"][:4])
        params = jax.jit(experiment.init_params)(jax.random.key(0), {"x": x})
        _, metrics = jax.jit(experiment.loss_fn)(params, {"x": x}, jax.random.key(1),
                                                 jnp.int32(59))
        assert float(metrics["phase_mlm"]) == float(kind == "mlm")
    config = get_config()
    config.objective.kind = "prefix_lm"
    with pytest.raises(ValueError, match="objective.kind"):
        MLMvsCLM(config, dataset=get_dataset())
    config = get_config()
    config.objective.switch_fraction = 1.5
    with pytest.raises(ValueError, match="switch_fraction"):
        MLMvsCLM(config, dataset=get_dataset())


def check_runlocal(workdir: str) -> None:
    """The harness's CLM-then-MLM run: the switch happened; the encoder metrics are sane."""
    config = get_config()
    train = train_lines(workdir)
    assert train[0]["phase_mlm"] == 0.0 and train[-1]["phase_mlm"] == 1.0
    final = eval_lines(workdir)[-1]
    assert 0.0 <= final["probe_acc"] <= 1.0 and 0.5 <= final["bayes_acc"] <= 1.0
    assert final["embedding_var"] > 0.0
    assert final["mlm_loss"] < np.log(config.dataset.vocab_size)  # better than uniform
