"""language_model: the data helpers, the model factory, inputs/targets and bad-input errors."""

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from likelihood_jax.data.synthetic import sources
from likelihood_jax.models.gru import GRULM
from likelihood_jax.models.transformer import TransformerLM
from likelihood_jax.sequence import experiment as lm


def source_options(**extra):
    options = {"kind": "markov", "seed": 0, "vocab_size": 5, "order": 1, "length": 6,
               "num_train": 32, "num_test": 8, "data_seed": 3}
    options.update(extra)
    return ml_collections.ConfigDict(options)


def test_token_windows_are_consecutive_and_drop_the_tail():
    windows = lm.token_windows(np.arange(23), 5)
    np.testing.assert_array_equal(windows, np.arange(20).reshape(4, 5))
    with pytest.raises(ValueError, match="no window"):
        lm.token_windows(np.arange(3), 5)


def test_make_source_and_source_dataset_are_seeded():
    options = source_options()
    source = lm.make_source(options)
    assert isinstance(source, sources.MarkovSource) and source.vocab_size == 5
    a = lm.source_dataset(source, options, "markov")
    b = lm.source_dataset(lm.make_source(options), options, "markov")
    np.testing.assert_array_equal(a.train["x"], b.train["x"])
    assert a.train["x"].shape == (32, 6) and a.test["x"].shape == (8, 6)
    assert not np.array_equal(a.train["x"][:8], a.test["x"])
    # Samples are valid under the source: finite log-probabilities.
    assert np.all(np.isfinite(np.asarray(jax.vmap(source.log_prob)(a.test["x"]))))
    hmm = lm.make_source(source_options(kind="hmm", num_states=3))
    assert hmm.vocab_size == 5
    with pytest.raises(ValueError, match="source kind"):
        lm.make_source(source_options(kind="zipf"))


def test_make_model_kinds_and_error():
    options = ml_collections.ConfigDict({"kind": "transformer", "num_layers": 1, "width": 16,
                                         "num_heads": 2})
    assert isinstance(lm.make_model(options, 7, 6), TransformerLM)
    options.kind = "gru"
    assert isinstance(lm.make_model(options, 7, 6), GRULM)
    options.kind = "lstm"
    with pytest.raises(ValueError, match="model kind"):
        lm.make_model(options, 7, 6)


def synthetic_config():
    config = ml_collections.ConfigDict({
        "experiment": "lm", "seed": 0, "total_steps": 1, "batch_size": 4,
        "dataset": {"name": "markov"}, "source": source_options().to_dict(),
        "model": {"kind": "transformer", "num_layers": 1, "width": 16, "num_heads": 2},
        "eval": {"enum_length": 2},
    })
    return config


def test_synthetic_inputs_targets_and_mle_loss():
    experiment = lm.LanguageModelExperiment(synthetic_config())
    assert experiment.headline_metric == "tv" and experiment.bos == 5
    x = jnp.asarray(experiment.dataset.train["x"][:4])
    inputs, targets = experiment.inputs_and_targets(x)
    np.testing.assert_array_equal(inputs[:, 0], 5)
    np.testing.assert_array_equal(inputs[:, 1:], x[:, :-1])
    np.testing.assert_array_equal(targets, x)
    params = jax.jit(experiment.init_params)(jax.random.key(0), {"x": x})
    loss, metrics = jax.jit(experiment.loss_fn)(params, {"x": x}, jax.random.key(1),
                                                jnp.int32(0))
    assert loss.shape == (4,)
    np.testing.assert_allclose(loss, metrics["nll"], rtol=1e-6)
    # The model's sequence probabilities over all V^L sequences of length 2 sum to one.
    seqs = sources.enumerate_sequences(5, 2)
    total = jnp.sum(jnp.exp(jax.jit(experiment.model_log_prob)(params, seqs)))
    np.testing.assert_allclose(total, 1.0, rtol=1e-5)


def test_unknown_dataset_is_refused():
    config = synthetic_config()
    config.dataset.name = "cifar10"
    with pytest.raises(ValueError, match="unknown dataset"):
        lm.LanguageModelExperiment(config)
