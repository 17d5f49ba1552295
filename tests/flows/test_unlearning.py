"""UNO's orthogonalized update and the gradient-ascent / gradient-surgery baselines."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

from likelihood_jax.flows import unlearning


def _tree(seed, scale=1.0):
    k1, k2 = jax.random.split(jax.random.key(seed))
    return {"w": scale * jax.random.normal(k1, (4, 3)), "b": {"c": jax.random.normal(k2, (5,))}}


def _flat(tree):
    return np.asarray(ravel_pytree(tree)[0], np.float64)


def test_uno_update_is_orthogonal_to_the_retain_gradient():
    g_f, g_r = _tree(0), _tree(1)
    d = unlearning.uno_direction(g_f, g_r)
    assert abs(float(unlearning.tree_dot(d, g_r))) < 1e-5 * np.linalg.norm(_flat(g_r)) ** 2
    # It is the forget ascent direction minus its component along g_r (numpy reference).
    a, r = -_flat(g_f), _flat(g_r)
    np.testing.assert_allclose(_flat(d), a - (a @ r) / (r @ r) * r, rtol=1e-5, atol=1e-6)
    # With a retain term, the projection of d on g_r is exactly that term.
    d2 = unlearning.uno_direction(g_f, g_r, retain_weight=0.5)
    np.testing.assert_allclose(float(unlearning.tree_dot(d2, g_r)), 0.5 * (r @ r), rtol=1e-4)


def test_uno_subspace_is_orthogonal_to_every_retain_gradient():
    g_f = _tree(0)
    basis = [_tree(1), _tree(2), _tree(3)]
    basis.append(jax.tree.map(lambda x, y: 2 * x - y, basis[0], basis[1]))  # dependent
    d = unlearning.uno_direction(g_f, basis, variant="subspace")
    for b in basis:
        assert abs(float(unlearning.tree_dot(d, b))) < 1e-4
    # Projection is idempotent and shrinks the vector.
    again = unlearning.project_out_subspace(d, basis)
    np.testing.assert_allclose(_flat(again), _flat(d), atol=1e-5)
    assert np.linalg.norm(_flat(d)) <= np.linalg.norm(_flat(g_f)) + 1e-6


def test_gradient_ascent_and_surgery_match_their_definitions():
    g_f, g_r = _tree(0), _tree(1)
    np.testing.assert_allclose(_flat(unlearning.gradient_ascent_direction(g_f)), -_flat(g_f))
    a, r = -_flat(g_f), _flat(g_r)
    d = _flat(unlearning.gradient_surgery_direction(g_f, g_r))
    if a @ r < 0:
        expected = (a - (a @ r) / (r @ r) * r) + (r - (a @ r) / (a @ a) * a)
    else:
        expected = a + r
    np.testing.assert_allclose(d, expected, rtol=1e-4, atol=1e-5)
    # Conflicting case forced: g_r = g_f + noise, so a = -g_f conflicts with r.
    g_r2 = jax.tree.map(lambda x, y: x + 0.1 * y, g_f, g_r)
    d2 = unlearning.gradient_surgery_direction(g_f, g_r2)
    a, r = -_flat(g_f), _flat(g_r2)
    assert a @ r < 0
    np.testing.assert_allclose(
        _flat(d2), (a - (a @ r) / (r @ r) * r) + (r - (a @ r) / (a @ a) * a), rtol=1e-3,
        atol=1e-4)
    # Not conflicting: the plain sum.
    g_r3 = jax.tree.map(jnp.negative, g_r2)
    np.testing.assert_allclose(_flat(unlearning.gradient_surgery_direction(g_f, g_r3)),
                               -_flat(g_f) + _flat(g_r3), rtol=1e-5)


def test_first_order_retain_loss_unchanged_by_an_uno_step():
    """On a quadratic retain loss, a small UNO step changes L_R only at second order."""
    target_r, target_f = _tree(5), _tree(6)
    def loss(p, t):
        return 0.5 * sum(jnp.sum((x - y) ** 2) for x, y in
                         zip(jax.tree.leaves(p), jax.tree.leaves(t)))
    params = _tree(7)
    g_r = jax.grad(loss)(params, target_r)
    g_f = jax.grad(loss)(params, target_f)
    for method, order in [("uno", 2), ("gradient_ascent", 1)]:
        changes = []
        for lr in (1e-2, 1e-3):
            d = unlearning.unlearning_direction(method, g_f, g_r)
            new = jax.tree.map(lambda p, x, lr=lr: p - lr * x, params, d)
            changes.append(abs(float(loss(new, target_r) - loss(params, target_r))))
        # Change shrinks like lr^order: a factor 10^order for lr / 10.
        assert changes[0] / changes[1] == pytest.approx(10.0 ** order, rel=0.2), method


def test_unknown_method_and_variant_raise():
    g = _tree(0)
    with pytest.raises(ValueError, match="unknown unlearning method"):
        unlearning.unlearning_direction("sgd", g, g)
    with pytest.raises(ValueError, match="unknown UNO variant"):
        unlearning.uno_direction(g, g, variant="double")
    with pytest.raises(ValueError, match="list"):
        unlearning.uno_direction(g, g, variant="subspace")
