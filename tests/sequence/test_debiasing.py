"""Product-of-experts debiasing [P069]: numpy reference, neutral weak learner, gradients."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from likelihood_jax.sequence import debiasing


def np_log_softmax(z):
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def problem(seed=0, batch=6, classes=5):
    rng = np.random.default_rng(seed)
    main = rng.normal(size=(batch, classes)) * 2
    weak = np_log_softmax(rng.normal(size=(batch, classes)) * 3)
    label = rng.integers(0, classes, batch)
    return main, weak, label


def test_loss_matches_a_numpy_reference():
    main, weak, label = problem()
    expected = -np_log_softmax(np_log_softmax(main) + weak)[np.arange(len(label)), label]
    got = debiasing.product_of_experts_loss(jnp.asarray(main), jnp.asarray(weak), label)
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    # One example at a time gives the same numbers.
    single = [float(debiasing.product_of_experts_loss(main[i], weak[i], label[i]))
              for i in range(len(label))]
    np.testing.assert_allclose(single, expected, rtol=1e-5)


def test_uniform_weak_learner_gives_plain_cross_entropy():
    main, _, label = problem(1)
    uniform = np.full_like(main, -np.log(main.shape[-1]))
    poe = debiasing.product_of_experts_loss(main, uniform, label)
    ce = debiasing.cross_entropy(main, label)
    expected = -np_log_softmax(main)[np.arange(len(label)), label]
    np.testing.assert_allclose(ce, expected, rtol=1e-5)
    np.testing.assert_allclose(poe, ce, rtol=1e-5)
    # Any constant weak logits are uniform too, and so are their gradients.
    g_poe = jax.grad(lambda z: debiasing.product_of_experts_loss(z, jnp.full_like(z, 3.7),
                                                                 label).sum())(main)
    g_ce = jax.grad(lambda z: debiasing.cross_entropy(z, label).sum())(main)
    np.testing.assert_allclose(g_poe, g_ce, rtol=1e-5, atol=1e-7)


def test_no_gradient_reaches_the_weak_learner():
    main, weak, label = problem(2)
    grad_weak = jax.grad(lambda w: debiasing.product_of_experts_loss(main, w, label).sum())(
        jnp.asarray(weak))
    np.testing.assert_array_equal(grad_weak, np.zeros_like(weak))
    # Without the stop-gradient the gradient would not vanish (the test can fail).
    open_grad = jax.grad(lambda w: -jnp.take_along_axis(
        jax.nn.log_softmax(jax.nn.log_softmax(main) + w), label[:, None], -1).sum())(weak)
    assert np.abs(open_grad).max() > 1e-2


def test_gradient_is_poe_posterior_minus_onehot_and_matches_finite_differences():
    main, weak, label = problem(3, batch=3, classes=4)
    with jax.enable_x64(True):
        main64, weak64 = jnp.asarray(main, jnp.float64), jnp.asarray(weak, jnp.float64)

        def loss(z):
            return debiasing.product_of_experts_loss(z, weak64, label).sum()

        grad = np.asarray(jax.grad(loss)(main64))
        eps = 1e-6
        fd = np.zeros_like(main)
        for idx in np.ndindex(main.shape):
            e = np.zeros_like(main)
            e[idx] = eps
            fd[idx] = (float(loss(main64 + e)) - float(loss(main64 - e))) / (2 * eps)
        np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-9)
    p_poe = np.exp(np_log_softmax(main + weak))
    np.testing.assert_allclose(grad, p_poe - np.eye(4)[label], atol=1e-9)


def test_confident_correct_weak_learner_shrinks_the_main_gradient():
    """The mechanism: examples the weak learner gets right teach the main model little."""
    main = jnp.zeros((2, 3))
    label = jnp.array([0, 0])
    weak = jnp.log(jnp.array([[0.98, 0.01, 0.01], [0.01, 0.98, 0.01]]))
    grads = jax.grad(lambda z: debiasing.product_of_experts_loss(z, weak, label).sum())(main)
    ce = jax.grad(lambda z: debiasing.cross_entropy(z, label).sum())(main)
    norms = np.linalg.norm(grads, axis=-1)
    assert norms[0] < 0.05 * np.linalg.norm(ce[0])  # weak right: almost nothing to learn
    assert norms[1] > np.linalg.norm(ce[1])  # weak wrong: larger push than plain CE


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="same shape"):
        debiasing.product_of_experts_loss(jnp.zeros((2, 3)), jnp.zeros((2, 4)), jnp.zeros(2))
    with pytest.raises(ValueError, match="label must have shape"):
        debiasing.product_of_experts_loss(jnp.zeros((2, 3)), jnp.zeros((2, 3)), jnp.zeros(3))
    with pytest.raises(ValueError, match="label must have shape"):
        debiasing.cross_entropy(jnp.zeros((2, 3)), jnp.zeros((2, 1)))
