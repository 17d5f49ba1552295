"""Weak signals, the constraint set they define, majority vote and the LLF loss."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from likelihood_jax.flows import weak_supervision as ws

# Three examples, two classes, two signals. Signal 0 is sure and right on examples 0 and 1
# and wrong on example 2; signal 1 is an unsure rule that abstains on example 0.
SIGNALS = jnp.array([
    [[1.0, 0.0], [0.5, 0.5]],
    [[0.0, 1.0], [0.2, 0.8]],
    [[1.0, 0.0], [0.4, 0.6]],
])
COVERAGE = jnp.array([[1, 0], [1, 1], [1, 1]])
TRUE = jnp.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])


def test_expected_errors_by_hand():
    err = ws.expected_errors(SIGNALS, TRUE, COVERAGE)
    # Signal 0, class 0: errors 0, 0, 1 over 3 examples; class 1 the same.
    # Signal 1 covers examples 1 and 2: class 0: q = 0.2, 0.4 with y = 0 -> (0.2 + 0.4) / 2;
    # class 1: q = 0.8, 0.6 with y = 1 -> (0.2 + 0.4) / 2.
    np.testing.assert_allclose(err, [[1 / 3, 1 / 3], [0.3, 0.3]], rtol=1e-6)
    bounds = ws.estimate_error_bounds(SIGNALS, TRUE, COVERAGE, slack=0.05)
    np.testing.assert_allclose(bounds, err + 0.05, rtol=1e-6)


def test_constraint_set_membership_on_a_hand_made_example():
    bounds = jnp.array([[0.34, 0.34], [0.3, 0.3]])
    assert bool(ws.in_constraint_set(SIGNALS, TRUE, bounds, COVERAGE, atol=1e-6))
    # Following signal 0 everywhere gives signal 0 zero error, but signal 1 then errs on
    # example 2 by 0.6 and on example 1 by 0.2 -> mean 0.4 > 0.3: outside Omega.
    follow0 = jnp.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    viol = ws.constraint_violations(SIGNALS, follow0, bounds, COVERAGE)
    np.testing.assert_allclose(viol, [[0.0 - 0.34, 0.0 - 0.34], [0.4 - 0.3, 0.4 - 0.3]],
                               atol=1e-6)
    assert not bool(ws.in_constraint_set(SIGNALS, follow0, bounds, COVERAGE))
    pen, simplex = ws.constraint_penalty(SIGNALS, follow0, bounds, COVERAGE)
    np.testing.assert_allclose(pen, 2 * 0.1 ** 2, rtol=1e-4)
    np.testing.assert_allclose(simplex, 0.0)
    # Off the simplex: y = (0.7, 0.6) -> (1.3 - 1)^2; y = (-0.1, 1.1) -> 0.01 + 0.01 + 0.
    off = jnp.array([[0.7, 0.6], [-0.1, 1.1], [0.5, 0.5]])
    np.testing.assert_allclose(ws.simplex_violations(off), [0.09, 0.02, 0.0], atol=1e-6)
    assert not bool(ws.in_constraint_set(SIGNALS, off, jnp.ones((2, 2)), COVERAGE))


def test_omega_is_convex_averages_stay_inside():
    bounds = jnp.array([[0.34, 0.34], [0.37, 0.37]])
    other = jnp.array([[0.9, 0.1], [0.1, 0.9], [0.3, 0.7]])
    assert bool(ws.in_constraint_set(SIGNALS, other, bounds, COVERAGE))
    mean, labels = ws.average_prediction(jnp.stack([TRUE, other]))
    assert bool(ws.in_constraint_set(SIGNALS, mean, bounds, COVERAGE))
    np.testing.assert_array_equal(labels, [0, 1, 1])


def test_majority_vote_counts_and_ties():
    signals = jnp.array([
        [[0.9, 0.1, 0.0], [0.6, 0.4, 0.0], [0.0, 0.2, 0.8]],  # votes 0, 0, 2 -> 0
        [[0.6, 0.4, 0.0], [0.1, 0.9, 0.0], [0.3, 0.3, 0.4]],  # 0, 1, 2 tie -> largest sum 1
    ])
    labels, fractions = ws.majority_vote(signals)
    np.testing.assert_array_equal(labels, [0, 1])
    np.testing.assert_allclose(fractions, [[2 / 3, 0, 1 / 3], [1 / 3, 1 / 3, 1 / 3]],
                               atol=1e-6)
    # Abstentions remove votes: only signal 2 votes on example 0.
    labels, _ = ws.majority_vote(signals, jnp.array([[0, 0, 1], [1, 1, 1]]))
    np.testing.assert_array_equal(labels, [2, 1])


def test_llf_loss_adds_the_batch_penalty_to_every_example():
    log_prob = jnp.array([1.0, 2.0, 3.0])
    bounds = jnp.array([[0.34, 0.34], [0.3, 0.3]])
    follow0 = jnp.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    loss, metrics = ws.llf_loss(log_prob, follow0, SIGNALS, bounds, 10.0, COVERAGE)
    np.testing.assert_allclose(loss, -log_prob + 10.0 * 0.02, rtol=1e-5)
    np.testing.assert_allclose(metrics["bound_penalty"], 0.02, rtol=1e-4)
    # The gradient of the penalty pushes y on example 2 toward class 1 (fewer violations).
    grad = jax.grad(lambda y: ws.constraint_penalty(SIGNALS, y, bounds, COVERAGE)[0])(follow0)
    assert grad[2, 0] > 0 and grad[2, 1] < 0


def test_bad_shapes_raise():
    with pytest.raises(ValueError, match="signals"):
        ws.expected_errors(jnp.ones((3, 2)), TRUE)
    with pytest.raises(ValueError, match="labels"):
        ws.expected_errors(SIGNALS, jnp.ones((3, 3)))
    with pytest.raises(ValueError, match="bounds"):
        ws.constraint_violations(SIGNALS, TRUE, jnp.ones((3, 2)))
    with pytest.raises(ValueError, match="coverage"):
        ws.expected_errors(SIGNALS, TRUE, jnp.ones((3, 3)))


def test_llf_predictions_satisfy_the_constraints_on_a_small_problem():
    """A small conditional flow trained inversely ends with averaged predictions in Omega."""
    import optax

    from likelihood_jax import flows

    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 2)).astype(np.float32)
    truth = jax.nn.one_hot((x[:, 0] > 0).astype(np.int32), 2)
    p1 = 1 / (1 + np.exp(-3 * x[:, 0]))
    p2 = 1 / (1 + np.exp(-2 * (x[:, 0] + x[:, 1])))
    signals = jnp.asarray(np.stack([np.stack([1 - p, p], -1) for p in (p1, p2)], 1),
                          jnp.float32)
    bounds = ws.estimate_error_bounds(signals, truth, slack=0.02)
    flow = flows.Flow(flows.conditional_realnvp(2, 4, (16,), log_scale_bound=2.0), (2,))
    xs = jnp.asarray(x)
    params = flow.init(jax.random.key(0), jnp.zeros((64, 2)), xs)
    opt = optax.adam(1e-2)

    def loss(p, key):
        z = jax.random.normal(key, (64, 2))
        y, log_prob = jax.vmap(flow.sample_and_log_prob_from_latent, in_axes=(None, 0, 0))(
            p, z, xs)
        return jnp.mean(ws.llf_loss(log_prob, y, signals, bounds, 1000.0)[0])

    @jax.jit
    def train(p):
        def body(i, carry):
            p, s = carry
            g = jax.grad(loss)(p, jax.random.key(i))
            u, s = opt.update(g, s, p)
            return optax.apply_updates(p, u), s
        return jax.lax.fori_loop(0, 1000, body, (p, opt.init(p)))[0]

    params = train(params)
    z = jax.random.normal(jax.random.key(9), (32, 64, 2))
    samples = jax.vmap(jax.vmap(flow.bijector.inverse, in_axes=(None, 0, 0)),
                       in_axes=(None, 0, None))(params, z, xs)
    mean, labels = ws.average_prediction(samples)
    # A quadratic penalty leaves O(1 / lambda) violations: the error bounds hold to 0.02
    # (the untrained flow violates them by more than 0.1), the simplex to a squared distance
    # of 0.01.
    assert float(jnp.max(ws.constraint_violations(signals, mean, bounds))) < 0.02
    assert float(jnp.max(ws.simplex_violations(mean))) < 0.01
    untrained = jnp.mean(jax.vmap(jax.vmap(flow.bijector.inverse, in_axes=(None, 0, 0)),
                                  in_axes=(None, 0, None))(
        flow.init(jax.random.key(0), jnp.zeros((64, 2)), xs), z, xs), axis=0)
    assert float(jnp.max(ws.constraint_violations(signals, untrained, bounds))) > 0.1
    assert float(jnp.mean(labels == jnp.argmax(truth, -1))) > 0.8
