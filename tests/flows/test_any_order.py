"""Any-order autoregressive objectives [P046]: estimators against enumeration over all orders,
the permuted-cell objective of a Seq2Seq against all orders of a tiny table, its causal mask,
and the order search."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from likelihood_jax.flows import any_order
from likelihood_jax.models.seq2seq import Seq2Seq

D, K = 4, 3  # positions, values (mask token K)


def _random_conditional(key):
    """A masked-input conditional that is not the conditional of any joint (pure algebra)."""
    w = jax.random.normal(key, (D * (K + 1), D * K))

    def log_cond_fn(tokens):
        h = jax.nn.one_hot(tokens, K + 1).reshape(-1)
        return jax.nn.log_softmax(jnp.tanh(h @ w).reshape(D, K) * 2.0, axis=-1)
    return log_cond_fn


def _exact_conditional(log_joint):
    """Conditionals ``p(x_i | x_S)`` of an explicit joint over ``[K]^D``, by enumeration."""
    states = jnp.asarray(list(itertools.product(range(K), repeat=D)))

    def log_cond_fn(tokens):
        observed = tokens < K
        consistent = jnp.all((states == tokens) | ~observed, axis=1)
        lp = jnp.where(consistent, log_joint, -jnp.inf)
        one_hot = jax.nn.one_hot(states, K)  # (S, D, K)
        out = jax.nn.logsumexp(lp[:, None, None] + jnp.log(one_hot), axis=0)  # (D, K)
        return out - jax.nn.logsumexp(lp)
    return states, log_cond_fn


def test_estimators_average_to_the_all_orders_objective():
    fn = _random_conditional(jax.random.key(0))
    x = jnp.array([2, 0, 1, 1])
    exact = jax.jit(lambda: any_order.all_orders_log_likelihood(fn, x, K))()
    orders = jnp.asarray(list(itertools.permutations(range(D))))
    steps = jnp.arange(D)
    terms = jax.jit(jax.vmap(lambda o: jax.vmap(lambda d: any_order.any_order_log_likelihood_term(
        fn, x, o, d, K))(steps)))(orders)
    np.testing.assert_allclose(jnp.mean(terms), exact, rtol=1e-5)

    # The fixed-order one-call estimator averages (over d) to L_sigma for every order.
    @jax.jit
    def fixed_order(order):
        single = jax.vmap(lambda k: any_order.order_log_likelihood_estimate(
            fn, x, order, k, K))(jax.random.split(jax.random.key(1), 400))
        return jnp.mean(single), jnp.std(single), any_order.order_log_likelihood(fn, x, order, K)

    means, stds, exact_orders = jax.vmap(fixed_order)(orders[::5])
    assert jnp.all(jnp.abs(means - exact_orders) < 4 * stds / 20 + 1e-4)
    # Sampled orders and steps: Monte Carlo mean within 4 standard errors.
    draws = jax.jit(jax.vmap(lambda k: any_order.any_order_log_likelihood_estimate(fn, x, k, K)))(
        jax.random.split(jax.random.key(2), 4000))
    assert abs(jnp.mean(draws) - exact) < 4 * jnp.std(draws) / np.sqrt(4000)


def test_every_order_gives_the_joint_for_exact_conditionals():
    log_joint = jax.nn.log_softmax(jax.random.normal(jax.random.key(3), (K ** D,)))
    states, fn = _exact_conditional(log_joint)
    index = 37
    x = states[index]
    orders = jnp.asarray(list(itertools.permutations(range(D))))[::3]
    values = jax.jit(jax.vmap(lambda o: any_order.order_log_likelihood(fn, x, o, K)))(orders)
    np.testing.assert_allclose(values, log_joint[index], atol=1e-5)
    mixture = jax.jit(lambda: any_order.log_mean_exp_over_orders(fn, x, jax.random.key(0), K, 3))
    np.testing.assert_allclose(mixture(), log_joint[index], atol=1e-5)


def test_bad_shapes_raise():
    fn = _random_conditional(jax.random.key(0))
    with pytest.raises(ValueError, match="same shape"):
        any_order.order_log_likelihood(fn, jnp.zeros(D, int), jnp.arange(D - 1), K)
    with pytest.raises(ValueError, match="too many"):
        any_order.all_orders_log_likelihood(fn, jnp.zeros(8, int), K)
    with pytest.raises(ValueError, match=r"\(2T, V\)"):
        any_order.permuted_cell_log_probs(jnp.zeros((5, 3)), jnp.zeros(3, int), jnp.arange(3))


# -- Sequence form with the LM stack's encoder-decoder ------------------------------------

T, V = 3, 4  # cells, values


@pytest.fixture(scope="module")
def seq2seq():
    model = Seq2Seq(source_vocab_size=6, target_vocab_size=V + T, output_size=V,
                    num_encoder_layers=1, num_decoder_layers=1, width=16, num_heads=2)
    source = jnp.array([[1, 5, 2, 3, 0]])
    params = jax.jit(model.init)(jax.random.key(0), source,
                                 jnp.zeros((1, 2 * T), jnp.int32))["params"]
    params = jax.tree.map(lambda p: p + 0.3 * jax.random.normal(jax.random.key(1), p.shape),
                          params)

    @jax.jit
    def logits_fn(decoder_inputs):
        return model.apply({"params": params}, source, decoder_inputs[None])[0]
    return model, params, source, logits_fn


def test_sampled_permutation_objective_is_unbiased_against_all_orders(seq2seq):
    _, _, _, logits_fn = seq2seq
    cells = jnp.array([3, 0, 2])

    def objective(order):
        return any_order.permuted_cell_log_likelihood(
            logits_fn(any_order.interleave_cells(cells, order, V)), cells, order)

    orders = jnp.asarray(list(itertools.permutations(range(T))))
    per_order = jax.jit(jax.vmap(objective))(orders)
    exact = jnp.mean(per_order)
    sampled = jax.jit(jax.vmap(lambda k: objective(jax.random.permutation(k, T))))(
        jax.random.split(jax.random.key(4), 3000))
    assert jnp.std(per_order) > 0.01  # the orders do disagree
    assert abs(jnp.mean(sampled) - exact) < 4 * jnp.std(sampled) / np.sqrt(3000)


def test_query_logits_see_only_earlier_cells(seq2seq):
    _, _, _, logits_fn = seq2seq
    order = jnp.array([2, 0, 1])
    cells = jnp.array([1, 2, 3])
    query_logits = jax.jit(lambda c: logits_fn(any_order.interleave_cells(c, order, V))[0::2])
    base = query_logits(cells)
    for k in range(T):  # change the value of the k-th cell in the order
        out = query_logits(cells.at[order[k]].set((cells[order[k]] + 1) % V))
        np.testing.assert_allclose(out[:k + 1], base[:k + 1], atol=1e-5)
        if k + 1 < T:
            assert jnp.max(jnp.abs(out[k + 1:] - base[k + 1:])) > 1e-4


def test_greedy_decode_fixed_and_searched(seq2seq):
    _, _, _, logits_fn = seq2seq

    def cell_logits_fn(prefix, k):
        candidates = jax.vmap(lambda c: prefix.at[2 * k].set(any_order.query_token(c, V)))(
            jnp.arange(T))
        return jax.vmap(logits_fn)(candidates)[:, 2 * k]

    order = jnp.array([1, 2, 0])
    decode = jax.jit(any_order.any_order_greedy_decode, static_argnums=(0, 1, 2))
    cells, chosen, log_probs = decode(cell_logits_fn, T, V, order)
    np.testing.assert_array_equal(chosen, order)
    # Teacher forcing the decoded table reproduces each step's argmax and probability.
    logits = logits_fn(any_order.interleave_cells(cells, order, V))
    np.testing.assert_array_equal(jnp.argmax(logits[0::2], -1), cells[order])
    np.testing.assert_allclose(any_order.permuted_cell_log_probs(logits, cells, order),
                               log_probs, atol=1e-5)
    # The search writes the most confident cell first and visits every cell once.
    _, chosen_s, log_probs_s = decode(cell_logits_fn, T, V)
    assert sorted(np.asarray(chosen_s).tolist()) == list(range(T))
    first = jax.nn.log_softmax(cell_logits_fn(jnp.zeros(2 * T, jnp.int32), 0), -1)
    assert int(chosen_s[0]) == int(jnp.argmax(jnp.max(first, -1)))
    np.testing.assert_allclose(log_probs_s[0], jnp.max(first), atol=1e-6)
