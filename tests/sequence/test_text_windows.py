"""Text windows: training windows at random offsets as a function of (seed, step), sliding test
windows, and the corpus-exact bits/char of the text evaluation."""

import math

import jax
import ml_collections
import numpy as np

from likelihood_jax import data as data_lib
from likelihood_jax.sequence import experiment as lm
from likelihood_jax.sequence import perplexity


def test_random_offset_windows_are_a_function_of_seed_and_step():
    length, batch = 6, 9
    train = {"x": lm.every_token_window(np.arange(50), length)}  # token value = position
    assert train["x"].shape == (45, 6)
    first = data_lib.batch_at_step(train, batch, seed=3, step=7)["x"]
    np.testing.assert_array_equal(first, data_lib.batch_at_step(train, batch, 3, 7)["x"])
    assert not np.array_equal(first, data_lib.batch_at_step(train, batch, 4, 7)["x"])
    # Each row is a contiguous piece of the stream, starting anywhere (not at multiples of 6).
    np.testing.assert_array_equal(first, first[:, :1] + np.arange(length))
    starts = np.concatenate([data_lib.batch_at_step(train, batch, 3, s)["x"][:, 0]
                             for s in range(5)])  # 5 steps of 9: one epoch of 45 starts
    np.testing.assert_array_equal(np.sort(starts), np.arange(45))
    assert len(set(starts[:batch] % length)) > 1


def test_text_dataset_options_on_shakespeare_char():
    stream = data_lib.load_dataset("shakespeare_char")
    ds = lm.text_dataset("shakespeare_char", 16, 5, random_offsets=True, stride=8)
    assert ds.train["x"].shape == (len(stream.train["x"]) - 16, 17)
    assert np.shares_memory(ds.train["x"], stream.train["x"])  # a view, not a copy
    windows, scored = perplexity.sliding_windows(stream.test["x"], 16, 8)
    keep = np.linspace(0, len(windows) - 1, 5).astype(int)
    np.testing.assert_array_equal(ds.test["x"], windows[keep])
    np.testing.assert_array_equal(ds.test["scored"], scored[keep])
    plain = lm.text_dataset("shakespeare_char", 16, 5)
    assert set(plain.test) == {"x"} and plain.train["x"].shape[0] == len(stream.train["x"]) // 17


def test_text_evaluation_means_are_the_corpus_bits_per_char_of_sliding_windows():
    context, stride, vocab = 8, 3, ("a", "bb", "ccc", " ", "dd")  # multi-character tokens
    stream = np.random.default_rng(0).integers(0, len(vocab), 40).astype(np.int32)
    windows, scored = perplexity.sliding_windows(stream, context, stride)
    info = data_lib.DatasetInfo(kind="text", event_shape=(context + 1,), vocab=vocab)
    dataset = data_lib.Dataset("shakespeare_bpe", {"x": windows}, {"x": windows,
                                                                   "scored": scored}, info)
    config = ml_collections.ConfigDict({
        "dataset": {"name": "shakespeare_bpe"},
        "model": {"kind": "gru", "num_layers": 1, "width": 8, "num_heads": 1,
                  "context": context},
        "eval": {"prefix_len": 4, "continuation_len": 4, "ngram": 2, "rep_windows": (4,),
                 "stride": stride},
    })
    experiment = lm.LanguageModelExperiment(config, dataset)
    params = jax.jit(experiment.init_params)(jax.random.key(0), {"x": windows[:1]})
    metrics = jax.jit(experiment.eval_fn)(params, {"x": windows, "scored": scored},
                                          jax.random.key(1))
    # Independently: every token of the stream scored once, over its characters.
    nll = perplexity.sliding_window_nll(
        lambda x: experiment.logits(params, x), stream, context, stride)
    chars = np.array([len(v) for v in vocab])[stream[1:]].sum()
    np.testing.assert_allclose(np.mean(metrics["bits_per_char"]),
                               float(np.sum(nll)) / chars / math.log(2), rtol=1e-5)
    np.testing.assert_allclose(np.mean(metrics["bits_per_token"]),
                               float(np.mean(nll)) / math.log(2), rtol=1e-5)
