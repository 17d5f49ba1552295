"""Masked-diffusion sampler math: path probabilities, DCE, WDCE/LV/REINFORCE, weights."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from likelihood_jax.continuous_time import masked_diffusion as md

Q = 2
MASK = Q


def make_net(num_sites, key=0, hidden=16):
    """A small random tanh network tokens [D] -> logits [D, Q] and its parameters."""
    k1, k2, k3 = jax.random.split(jax.random.key(key), 3)
    params = {"w1": jax.random.normal(k1, (num_sites * (Q + 1), hidden)),
              "b1": jax.random.normal(k2, (hidden,)),
              "w2": jax.random.normal(k3, (hidden, num_sites * Q))}

    def logits_fn(params, tokens):
        h = jnp.tanh(jax.nn.one_hot(tokens, Q + 1).reshape(-1) @ params["w1"] + params["b1"])
        return (h @ params["w2"]).reshape(num_sites, Q)

    return params, logits_fn


def states(num_sites):
    return jnp.asarray(list(itertools.product(range(Q), repeat=num_sites)))


@pytest.mark.parametrize("num_steps", [4, 2, 1])
def test_exact_sampler_probabilities_sum_to_one(num_steps):
    params, net = make_net(4)
    fn = jax.tree_util.Partial(net, params)
    log_q = jax.vmap(lambda x: md.exact_log_prob(fn, x, num_steps, MASK))(states(4))
    np.testing.assert_allclose(jnp.sum(jnp.exp(log_q)), 1.0, rtol=1e-5)
    # Every fixed order is a normalized autoregressive-like sampler too.
    order = jnp.array([2, 0, 3, 1])
    log_q_order = jax.vmap(lambda x: md.path_log_prob(fn, x, order, num_steps, MASK))(states(4))
    np.testing.assert_allclose(jnp.sum(jnp.exp(log_q_order)), 1.0, rtol=1e-5)


def test_samples_follow_the_exact_sampler_distribution():
    params, net = make_net(3, key=1)
    fn = jax.tree_util.Partial(net, params)
    n = 20000
    x, order, log_q = jax.vmap(lambda k: md.sample(fn, k, 3, 3, MASK))(
        jax.random.split(jax.random.key(0), n))
    recomputed = jax.vmap(lambda xi, oi: md.path_log_prob(fn, xi, oi, 3, MASK))(x, order)
    np.testing.assert_allclose(log_q, recomputed, rtol=1e-5, atol=1e-5)
    codes = np.asarray(x) @ (Q ** np.arange(2, -1, -1))
    freq = np.bincount(codes, minlength=8) / n
    exact = np.exp(jax.vmap(lambda s: md.exact_log_prob(fn, s, 3, MASK))(states(3)))
    assert 0.5 * np.abs(freq - exact).sum() < 0.02


def test_dce_expectation_equals_the_order_averaged_path_nll_and_its_gradient():
    params, net = make_net(4, key=2)
    x = jnp.array([1, 0, 0, 1])
    orders = jnp.asarray(list(itertools.permutations(range(4))))

    def via_orders(p):
        fn = jax.tree_util.Partial(net, p)
        return -jnp.mean(jax.vmap(lambda o: md.path_log_prob(fn, x, o, 4, MASK))(orders))

    def via_masks(p):
        return md.exact_denoising_cross_entropy(jax.tree_util.Partial(net, p), x, MASK)

    v1, g1 = jax.value_and_grad(via_orders)(params)
    v2, g2 = jax.value_and_grad(via_masks)(params)
    np.testing.assert_allclose(v1, v2, rtol=1e-5)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5), g1, g2)
    # The Monte Carlo estimator is unbiased for the same number.
    fn = jax.tree_util.Partial(net, params)
    mc = md.denoising_cross_entropy(fn, x, jax.random.key(3), MASK, num_masks=40000)
    np.testing.assert_allclose(mc, v1, rtol=0.02)


def test_wdce_weights_do_not_carry_gradient():
    params, net = make_net(4, key=4)
    x = jnp.array([0, 1, 1, 1])

    def loss(p, w):
        return md.wdce_loss(jax.tree_util.Partial(net, p), x, w, jax.random.key(0), MASK, 3)

    base = md.denoising_cross_entropy(jax.tree_util.Partial(net, params), x,
                                      jax.random.key(0), MASK, 3)
    np.testing.assert_allclose(loss(params, 2.5), 2.5 * base, rtol=1e-6)
    assert jax.grad(loss, argnums=1)(params, 2.5) == 0.0


def test_self_normalized_weights_and_ess():
    log_w = jnp.array([0.0, jnp.log(3.0), 100.0 - 100.0, jnp.log(4.0)])
    w = md.self_normalized_weights(log_w)
    np.testing.assert_allclose(w, np.array([1, 3, 1, 4]) / 9 * 4, rtol=1e-6)
    np.testing.assert_allclose(md.effective_sample_size(log_w + 50.0), 81 / 27, rtol=1e-5)
    np.testing.assert_allclose(md.effective_sample_size(jnp.zeros(10)), 10.0, rtol=1e-6)
    np.testing.assert_allclose(md.effective_sample_size(jnp.array([0.0, -200.0])), 1.0,
                               rtol=1e-6)
    # A perfect sampler (log w = log Z everywhere) gives log Z exactly.
    np.testing.assert_allclose(md.log_partition_estimate(jnp.full(7, 3.2)), 3.2, rtol=1e-6)


def test_reinforce_gradient_matches_the_exact_reverse_kl_gradient():
    """Categorical q = softmax(theta) over 4 states vs pi ~ exp(u): MC vs exact grad KL."""
    u = jnp.array([0.3, -1.0, 2.0, 0.5])
    theta = jnp.array([0.1, 0.2, -0.3, 0.0])

    def kl(t):
        log_q = jax.nn.log_softmax(t)
        return jnp.sum(jnp.exp(log_q) * (log_q - jax.nn.log_softmax(u)))

    exact = jax.grad(kl)(theta)
    draws = jax.random.categorical(jax.random.key(0), theta, shape=(200000,))

    def surrogate(t):
        log_q = jax.nn.log_softmax(t)[draws]
        return jnp.mean(md.reinforce_loss(log_q, u[draws]))

    np.testing.assert_allclose(jax.grad(surrogate)(theta), exact, atol=0.01)
    np.testing.assert_allclose(md.leave_one_out_baseline(jnp.array([1.0, 2.0, 6.0])),
                               [4.0, 3.5, 1.5])


def test_log_variance_vanishes_at_the_target_and_its_gradient():
    log_target = jnp.array([0.5, -1.0, 2.0])
    np.testing.assert_allclose(md.log_variance_loss(log_target - 1.7, log_target), 0.0,
                               atol=1e-6)
    log_q = jnp.array([0.1, -0.2, 0.3])
    grad = jax.grad(lambda lq: jnp.mean(md.log_variance_loss(lq, log_target)))(log_q)
    log_w = log_target - log_q
    np.testing.assert_allclose(grad, -2 * (log_w - log_w.mean()) / 3, rtol=1e-5)


def test_bad_input_raises():
    params, net = make_net(4)
    fn = jax.tree_util.Partial(net, params)
    with pytest.raises(ValueError, match="num_steps"):
        md.path_log_prob(fn, jnp.zeros(4, jnp.int32), jnp.arange(4), 5, MASK)
    with pytest.raises(ValueError, match="one sequence"):
        md.path_log_prob(fn, jnp.zeros((2, 4), jnp.int32), jnp.arange(4), 4, MASK)
    with pytest.raises(ValueError, match="D!"):
        md.exact_log_prob(fn, jnp.zeros(8, jnp.int32), 8, MASK)
    with pytest.raises(ValueError, match="leave-one-out"):
        md.leave_one_out_baseline(jnp.zeros(1))
    with pytest.raises(ValueError, match="log_weights"):
        md.self_normalized_weights(jnp.zeros((2, 2)))
