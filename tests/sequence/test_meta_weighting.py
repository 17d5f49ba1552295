"""Meta-weighted token MLE: unit weights are MLE; the meta-gradient matches finite differences."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from likelihood_jax.sequence import meta_weighting as mw
from likelihood_jax.sequence import objectives as seq

L, V, B, T = 3, 5, 4, 6


def _model_logits(params, tokens, labels):
    """A tiny label-conditioned bigram model: logits_t = E[label] + W[x_{t-1}]."""
    prev = jnp.concatenate([jnp.zeros_like(tokens[:, :1]), tokens[:, :-1]], axis=1)
    return params["E"][labels][:, None, :] + params["W"][prev]


def _problem(dtype=jnp.float32):
    ks = jax.random.split(jax.random.key(0), 4)
    params = {"E": jax.random.normal(ks[0], (L, V), dtype),
              "W": jax.random.normal(ks[1], (V, V), dtype)}
    tokens = jax.random.randint(ks[2], (B, T), 0, V)
    labels = jnp.array([0, 1, 2, 1])
    mask = jnp.ones((B, T), dtype).at[0, -2:].set(0)

    def nll(p):
        return seq.token_cross_entropy(_model_logits(p, tokens, labels), tokens, mask)

    def discrimination(p):
        per_label = jnp.stack([-seq.token_cross_entropy(
            _model_logits(p, tokens, jnp.full((B,), lab)), tokens) for lab in range(L)])
        return mw.label_discrimination(per_label, labels)

    def inner(p, omega):
        w = mw.token_weights(omega, discrimination(p), mask)
        return jnp.sum(w * nll(p)) / jnp.sum(mask)

    def outer(p):
        return jnp.sum(discrimination(p) * mask) / jnp.sum(mask)

    return params, mask, nll, inner, outer


def test_unit_weights_are_mle():
    params, mask, nll, inner, _ = _problem()
    omega = mw.init_weight_net(jax.random.key(1))  # zero output layer: equal scores
    w = mw.token_weights(omega, jax.random.normal(jax.random.key(2), (B, T)), mask)
    np.testing.assert_allclose(w, mask, rtol=1e-6)
    mle = lambda p: jnp.sum(nll(p)) / jnp.sum(mask)  # noqa: E731
    np.testing.assert_allclose(inner(params, omega), mle(params), rtol=1e-6)
    stepped = mw.inner_step(params, omega, inner, 0.1)
    sgd = jax.tree.map(lambda p, g: p - 0.1 * g, params, jax.grad(mle)(params))
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6), stepped,
                 sgd)


def test_normalized_weights_and_discrimination():
    scores = jnp.array([[0.0, 1.0, 2.0], [3.0, 0.0, 0.0]])
    mask = jnp.array([[1, 1, 1], [1, 0, 0]])
    w = mw.normalized_weights(scores, mask)
    e = np.exp([0.0, 1.0, 2.0, 3.0])
    np.testing.assert_allclose(w[0], 4 * e[:3] / e.sum(), rtol=1e-6)
    np.testing.assert_allclose(w[1], [4 * e[3] / e.sum(), 0, 0], rtol=1e-6)
    np.testing.assert_allclose(jnp.sum(w), 4.0, rtol=1e-6)
    # d_t = log L when all labels give the token the same probability.
    same = jnp.full((L, 2, 3), -1.3)
    np.testing.assert_allclose(mw.label_discrimination(same, jnp.array([0, 2])), np.log(L) *
                               np.ones((2, 3)), rtol=1e-6)
    lp = jnp.log(jnp.array([0.5, 0.25, 0.25]))[:, None, None] * jnp.ones((L, 1, 1))
    np.testing.assert_allclose(mw.label_discrimination(lp, jnp.array([1])), -np.log(0.25 / 1.0),
                               rtol=1e-6)
    with pytest.raises(ValueError, match="label_log_probs"):
        mw.label_discrimination(same, jnp.array([0]))


def test_meta_gradient_matches_finite_differences():
    with jax.enable_x64(True):
        params, _, _, inner, outer = _problem(jnp.float64)
        omega = mw.init_weight_net(jax.random.key(3), hidden=8)
        omega = jax.tree.map(lambda x: x.astype(jnp.float64), omega)
        omega["w2"] = jax.random.normal(jax.random.key(4), (8,), jnp.float64)
        lr = 0.5
        objective = jax.jit(lambda o, lr: mw.meta_objective(o, params, inner, outer, lr))
        gradient = jax.jit(lambda o, lr: mw.meta_gradient(o, params, inner, outer, lr))
        value, grad = gradient(omega, lr)
        np.testing.assert_allclose(value, objective(omega, lr))
        keys = jax.random.split(jax.random.key(5), 4)
        direction = {k: jax.random.normal(kk, v.shape, jnp.float64)
                     for (k, v), kk in zip(sorted(omega.items()), keys)}
        eps = 1e-5
        shift = lambda s: jax.tree.map(lambda o, d: o + s * d, omega, direction)  # noqa: E731
        fd = (objective(shift(eps), lr) - objective(shift(-eps), lr)) / (2 * eps)
        analytic = sum(jnp.sum(grad[k] * direction[k]) for k in omega)
        assert abs(float(analytic)) > 1e-4  # the weights do move the outer loss
        np.testing.assert_allclose(analytic, fd, rtol=1e-6)
        # Without the inner step (lr = 0) the outer loss does not depend on omega.
        _, zero = gradient(omega, 0.0)
        assert all(float(jnp.max(jnp.abs(g))) == 0.0 for g in jax.tree.leaves(zero))
