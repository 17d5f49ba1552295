"""Synthetic sources: exact log-probabilities, entropies and metrics against enumeration,
brute force over hidden paths, and Monte Carlo."""

import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from likelihood_jax.data.synthetic import sources


def test_markov_log_prob_matches_a_hand_product_and_normalizes():
    src = sources.random_markov_source(0, 3, order=2, concentration=0.7)
    table = np.exp(np.asarray(src.log_table, np.float64))
    x = [2, 0, 1, 1]
    bos = 3
    ctx = lambda a, b: a * 4 + b  # noqa: E731 (oldest digit first, base V + 1)
    expected = (table[ctx(bos, bos), 2] * table[ctx(bos, 2), 0] * table[ctx(2, 0), 1]
                * table[ctx(0, 1), 1])
    np.testing.assert_allclose(np.exp(src.log_prob(jnp.array(x))), expected, rtol=1e-5)
    everything = jax.vmap(src.log_prob)(sources.enumerate_sequences(3, 4))
    np.testing.assert_allclose(jnp.sum(jnp.exp(everything)), 1.0, rtol=1e-5)


def test_markov_exact_entropy_equals_enumeration_and_entropy_rate_is_the_limit():
    with jax.enable_x64(True):
        src = sources.random_markov_source(1, 4, order=1, concentration=0.5)
        table = src.log_table.astype(jnp.float64)
        src = src.replace(log_table=table - jax.nn.logsumexp(table, -1, keepdims=True))
        log_p = jax.vmap(src.log_prob)(sources.enumerate_sequences(4, 5))
        enumerated = -float(jnp.sum(jnp.exp(log_p) * log_p))
        np.testing.assert_allclose(float(src.sequence_entropy(5)), enumerated, rtol=1e-10)
        rate = src.entropy_rate()
        increment = float(src.sequence_entropy(201) - src.sequence_entropy(200))
        np.testing.assert_allclose(increment, rate, rtol=1e-6)
        assert 0 < rate < math.log(4)


def test_sampling_matches_the_exact_distribution():
    src = sources.random_markov_source(2, 3, order=1, concentration=1.0)
    x = src.sample(jax.random.key(0), 20000, 2)
    counts = np.zeros(9)
    np.add.at(counts, np.asarray(x[:, 0] * 3 + x[:, 1]), 1)
    exact = np.exp(jax.vmap(src.log_prob)(sources.enumerate_sequences(3, 2)))
    np.testing.assert_allclose(counts / 20000, exact, atol=0.015)


def test_hmm_forward_algorithm_equals_brute_force_over_hidden_paths():
    hmm = sources.random_hmm_source(0, num_states=3, vocab_size=4)
    init, trans, emit = (np.exp(np.asarray(a, np.float64)) for a in
                         (hmm.log_initial, hmm.log_transition, hmm.log_emission))
    x = [3, 0, 2, 2]
    brute = 0.0
    for path in itertools.product(range(3), repeat=4):
        p = init[path[0]] * emit[path[0], x[0]]
        for t in range(1, 4):
            p *= trans[path[t - 1], path[t]] * emit[path[t], x[t]]
        brute += p
    np.testing.assert_allclose(np.exp(hmm.log_prob(jnp.array(x))), brute, rtol=1e-5)
    # Conditionals chain to the joint, and sum to one.
    cond = hmm.conditional_log_probs(jnp.array(x))
    np.testing.assert_allclose(jnp.sum(jnp.exp(cond), -1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(jnp.sum(cond[jnp.arange(4), jnp.array(x)]), np.log(brute),
                               rtol=1e-5)


@pytest.mark.parametrize("kind", ["markov", "hmm"])
def test_all_sequence_log_probs_from_prefixes_equals_direct_enumeration(kind):
    src = (sources.random_markov_source(3, 3, order=2) if kind == "markov"
           else sources.random_hmm_source(3, 2, 3))
    via_prefixes = sources.all_sequence_log_probs(jax.vmap(src.conditional_log_probs), 3, 4)
    direct = jax.vmap(src.log_prob)(sources.enumerate_sequences(3, 4))
    np.testing.assert_allclose(via_prefixes, direct, rtol=1e-5, atol=1e-5)


def test_exact_metrics_and_monte_carlo_estimates_agree():
    p_src = sources.random_markov_source(4, 3, order=1, concentration=0.8)
    q_src = sources.random_markov_source(5, 3, order=1, concentration=0.8)
    length = 4
    seqs = sources.enumerate_sequences(3, length)
    log_p = jax.vmap(p_src.log_prob)(seqs)
    log_q = jax.vmap(q_src.log_prob)(seqs)
    exact = sources.exact_metrics(log_p, log_q)
    p, q = np.exp(np.asarray(log_p, np.float64)), np.exp(np.asarray(log_q, np.float64))
    np.testing.assert_allclose(exact["tv"], 0.5 * np.abs(p - q).sum(), rtol=1e-5)
    np.testing.assert_allclose(exact["forward_kl"], np.sum(p * np.log(p / q)), rtol=1e-4)
    np.testing.assert_allclose(exact["entropy_p"], p_src.sequence_entropy(length), rtol=1e-5)
    assert float(exact["q_mass_outside_p"]) == 0.0
    self_metrics = sources.exact_metrics(log_p, log_p)
    np.testing.assert_allclose([self_metrics["tv"], self_metrics["forward_kl"]], 0.0, atol=1e-6)

    key = jax.random.key(0)
    fwd, fwd_err = sources.mc_forward_cross_entropy(p_src, jax.vmap(q_src.log_prob), key,
                                                    20000, length)
    assert abs(float(fwd - exact["forward_ce"])) < 4 * float(fwd_err)
    rev, rev_err = sources.mc_reverse_cross_entropy(p_src, q_src.sample(key, 20000, length))
    assert abs(float(rev - exact["reverse_ce"])) < 4 * float(rev_err)
    ent, ent_err = sources.mc_entropy(p_src, key, 20000, length)
    assert abs(float(ent - exact["entropy_p"])) < 4 * float(ent_err)


def test_zeros_make_the_reverse_cross_entropy_infinite_and_floor_repairs_it():
    sparse = sources.random_markov_source(6, 4, zero_fraction=0.5)
    assert np.any(np.isinf(np.asarray(sparse.log_table)))
    uniform = jnp.full((4 ** 3,), -3 * math.log(4))
    log_p = jax.vmap(sparse.log_prob)(sources.enumerate_sequences(4, 3))
    out = sources.exact_metrics(log_p, uniform)
    assert np.isinf(float(out["reverse_ce"])) and float(out["q_mass_outside_p"]) > 0
    assert np.isfinite(float(out["forward_ce"]))
    floored = sources.random_markov_source(6, 4, zero_fraction=0.5, floor=1e-3)
    assert np.all(np.isfinite(np.asarray(floored.log_table)))


def test_entropy_rate_is_chosen_by_bisection():
    src = sources.markov_source_with_entropy_rate(0, 6, 1.0, tolerance=1e-3)
    assert abs(src.entropy_rate() - 1.0) < 1e-3
    low = sources.random_markov_source(0, 6, concentration=0.1).entropy_rate()
    high = sources.random_markov_source(0, 6, concentration=10.0).entropy_rate()
    assert low < high < math.log(6)
    with pytest.raises(ValueError, match="entropy_rate"):
        sources.markov_source_with_entropy_rate(0, 6, 2.0)


# -- Registered datasets ------------------------------------------------------------------------

MARKOV = {"seed": 2, "vocab_size": 4, "concentration": 0.5, "zero_fraction": 0.5, "floor": 1e-3,
          "length": 5, "num_train": 40, "num_test": 10, "data_seed": 7}


def test_markov_dataset_holds_the_draws_of_its_source():
    from likelihood_jax import data as data_lib

    ds = data_lib.load_dataset("markov", **MARKOV)
    source = sources.make_source("markov", **MARKOV)  # sampling options are ignored
    direct = sources.random_markov_source(2, 4, concentration=0.5, zero_fraction=0.5,
                                          floor=1e-3)
    np.testing.assert_array_equal(source.log_table, direct.log_table)
    train_key, test_key = jax.random.split(jax.random.key(7))
    np.testing.assert_array_equal(ds.train["x"], direct.sample(train_key, 40, 5))
    np.testing.assert_array_equal(ds.test["x"], direct.sample(test_key, 10, 5))
    assert ds.info.event_shape == (5,) and len(ds.info.vocab) == 4
    with pytest.raises(TypeError, match="does not accept"):
        data_lib.load_dataset("markov", num_states=3)


def test_noise_options_replace_tokens_at_their_rate_with_fixed_seeds():
    clean = sources.load_markov("markov", **MARKOV)
    noisy = sources.load_markov("markov", **MARKOV, train_noise=0.5)
    x = np.asarray(clean.train["x"])
    np.testing.assert_array_equal(noisy.train["x"],
                                  sources.corrupt_tokens(x, 4, 0.5, MARKOV["data_seed"] + 1000))
    np.testing.assert_array_equal(noisy.test["x"], clean.test["x"])  # the test split stays clean
    copy = sources.load_markov("markov", **MARKOV, noisy_copy=0.0)
    np.testing.assert_array_equal(copy.train["x"], x)
    second = sources.load_markov("markov", **dict(MARKOV, data_seed=MARKOV["data_seed"] + 1000))
    np.testing.assert_array_equal(copy.train["x_noisy"], second.train["x"])  # rate 0: a clean draw
    # corrupt_tokens: a replaced token lands on another value with probability (V - 1) / V.
    flipped = sources.corrupt_tokens(np.zeros((400, 50), np.int32), 10, 0.3, seed=0)
    np.testing.assert_allclose(np.mean(flipped != 0), 0.3 * 0.9, atol=0.01)


def test_markov_mixture_dataset_balances_and_labels_its_components():
    options = {"num_components": 3, "seed": 1, "vocab_size": 5, "length": 6, "num_train": 31,
               "num_test": 8, "data_seed": 4}
    ds = sources.load_markov_mixture("markov_mixture", **options)
    mixture = sources.make_source("markov_mixture", **options)
    assert len(mixture.components) == 3 and ds.info.num_classes == 3
    np.testing.assert_array_equal(np.bincount(ds.train["label"]), [11, 10, 10])
    # Component k is the chain of seed + k, and each row's label names the component that
    # drew it: the rows of a component, in their drawn order, are its samples.
    for k in range(3):
        np.testing.assert_array_equal(mixture.components[k].log_table,
                                      sources.random_markov_source(1 + k, 5).log_table)
    train_key, _ = jax.random.split(jax.random.key(4))
    order = np.random.default_rng(4).permutation(31)
    counts = [11, 10, 10]
    drawn = np.concatenate([np.asarray(mixture.components[k].sample(
        jax.random.fold_in(train_key, k), counts[k], 6)) for k in range(3)])
    np.testing.assert_array_equal(ds.train["x"], drawn[order])
    with pytest.raises(ValueError, match="num_components"):
        sources.make_source("markov_mixture", num_components=0)
