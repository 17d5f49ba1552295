"""language_model: the data helpers, the model factory, inputs/targets and bad-input errors."""

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from likelihood_jax import data as data_lib
from likelihood_jax.data.synthetic import sources
from likelihood_jax.models.gru import GRULM
from likelihood_jax.models.transformer import TransformerLM
from likelihood_jax.sequence import experiment as lm


def source_options(**extra):
    options = {"seed": 0, "vocab_size": 5, "order": 1, "length": 6, "num_train": 32,
               "num_test": 8, "data_seed": 3}
    options.update(extra)
    return options


def test_token_windows_are_consecutive_and_drop_the_tail():
    windows = lm.token_windows(np.arange(23), 5)
    np.testing.assert_array_equal(windows, np.arange(20).reshape(4, 5))
    with pytest.raises(ValueError, match="no window"):
        lm.token_windows(np.arange(3), 5)


def test_registered_source_dataset_matches_its_source():
    options = source_options()
    source = sources.make_source("markov", **options)
    assert isinstance(source, sources.MarkovSource) and source.vocab_size == 5
    a = data_lib.load_dataset("markov", **options)
    # The same draws as sampling the source with split(key(data_seed)) by hand.
    train_key, test_key = jax.random.split(jax.random.key(3))
    np.testing.assert_array_equal(a.train["x"], source.sample(train_key, 32, 6))
    np.testing.assert_array_equal(a.test["x"], source.sample(test_key, 8, 6))
    assert a.train["x"].shape == (32, 6) and a.test["x"].shape == (8, 6)
    # Samples are valid under the source: finite log-probabilities.
    assert np.all(np.isfinite(np.asarray(jax.vmap(source.log_prob)(a.test["x"]))))
    hmm = sources.make_source("hmm", seed=0, num_states=3, vocab_size=5, length=6)
    assert isinstance(hmm, sources.HMMSource) and hmm.vocab_size == 5
    with pytest.raises(ValueError, match="unknown source dataset"):
        sources.make_source("zipf", seed=0)


def test_config_source_reads_the_dataset_group():
    config = synthetic_config()
    source = lm.config_source(config)
    expected = sources.make_source("markov", **source_options())
    np.testing.assert_array_equal(source.log_table, expected.log_table)
    assert lm.source_options(config) == source_options()


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
        "dataset": {"name": "markov", **source_options()},
        "model": {"kind": "transformer", "num_layers": 1, "width": 16, "num_heads": 2},
        "eval": {"enum_length": 2},
    })
    return config


def test_construction_does_no_work():
    experiment = lm.LanguageModelExperiment(synthetic_config())
    assert experiment._dataset is None and experiment._model is None
    assert "source" not in vars(experiment)


def test_source_and_exact_tables_are_concrete_even_when_first_read_in_a_trace():
    experiment = lm.LanguageModelExperiment(synthetic_config())
    jax.jit(lambda x: x + experiment.source.log_table.sum())(jnp.zeros(()))
    assert not isinstance(experiment.source.log_table, jax.core.Tracer)
    jax.jit(lambda x: x + experiment.enum_log_p.sum())(jnp.zeros(()))
    seqs = sources.enumerate_sequences(5, 2)
    expected = jax.vmap(experiment.source.log_prob)(seqs)
    np.testing.assert_allclose(experiment.enum_log_p, expected, rtol=1e-5)


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
