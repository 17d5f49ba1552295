"""SMILE and token-weighted CE: zero gradient outside V(y), MLE limits, finite differences."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from likelihood_jax.sequence import objectives as seq

V, T = 7, 5


def _data(seed=0, dtype=jnp.float32):
    k1, k2 = jax.random.split(jax.random.key(seed))
    logits = jax.random.normal(k1, (2, T, V), dtype) * 2.0
    targets = jnp.array([[1, 3, 3, 5, 0], [2, 2, 4, 6, 1]])
    mask = jnp.array([[1, 1, 1, 1, 0], [1, 1, 1, 1, 1]], jnp.float32)
    return logits, targets, mask


def test_value_is_the_restricted_softmax():
    logits, targets, mask = _data()
    loss = seq.semipermeable_cross_entropy(logits, targets, mask)
    for b, allowed in enumerate([[1, 3, 5], [1, 2, 4, 6]]):  # row 0: the masked 0 is not in V(y)
        for t in range(T):
            if mask[b, t] == 0:
                assert loss[b, t] == 0.0
                continue
            z = np.asarray(logits[b, t])[allowed]
            want = -(logits[b, t, targets[b, t]] - np.log(np.sum(np.exp(z))))
            np.testing.assert_allclose(loss[b, t], want, rtol=1e-5)


def test_gradient_outside_the_reference_vocabulary_is_exactly_zero():
    logits, targets, mask = _data(1)
    grad = jax.grad(lambda z: jnp.sum(seq.semipermeable_cross_entropy(z, targets, mask)))(logits)
    vocab = seq.reference_vocabulary(targets, V, mask)
    assert np.all(np.isfinite(grad))
    outside = np.broadcast_to(~np.asarray(vocab)[:, None, :], grad.shape)
    assert np.all(np.asarray(grad)[outside] == 0.0)
    inside = np.broadcast_to(np.asarray(vocab)[:, None, :], grad.shape) & (
        np.asarray(mask)[..., None] > 0)
    assert np.all(np.asarray(grad)[inside] != 0.0)
    # MLE instead moves every logit.
    mle = jax.grad(lambda z: jnp.sum(seq.token_cross_entropy(z, targets, mask)))(logits)
    assert np.all(np.asarray(mle)[np.asarray(mask) > 0] != 0.0)


def test_full_vocabulary_is_mle_and_first_token_mle():
    logits, targets, mask = _data(2)
    full = jnp.ones((2, V), bool)
    np.testing.assert_allclose(
        seq.semipermeable_cross_entropy(logits, targets, mask, vocabulary=full),
        seq.token_cross_entropy(logits, targets, mask), rtol=1e-6)
    first = seq.semipermeable_cross_entropy(logits, targets, mask, first_token_mle=True)
    mle = seq.token_cross_entropy(logits, targets, mask)
    smile = seq.semipermeable_cross_entropy(logits, targets, mask)
    np.testing.assert_allclose(first[:, 0], mle[:, 0], rtol=1e-6)
    np.testing.assert_allclose(first[:, 1:], smile[:, 1:], rtol=1e-6)
    assert np.all(np.asarray(smile[:, 0]) < np.asarray(mle[:, 0]))  # fewer competitors
    with pytest.raises(ValueError, match="vocabulary"):
        seq.semipermeable_cross_entropy(logits, targets, mask, vocabulary=full[:, :3])


def test_finite_difference_gradient():
    with jax.enable_x64(True):
        logits, targets, mask = _data(3, jnp.float64)
        loss = lambda z: jnp.sum(seq.semipermeable_cross_entropy(z, targets, mask))  # noqa: E731
        grad = np.asarray(jax.grad(loss)(logits))
        direction = np.asarray(jax.random.normal(jax.random.key(4), logits.shape, jnp.float64))
        eps = 1e-6
        fd = (loss(logits + eps * direction) - loss(logits - eps * direction)) / (2 * eps)
        np.testing.assert_allclose(np.sum(grad * direction), fd, rtol=1e-7)


def test_weighted_cross_entropy():
    logits, targets, mask = _data(5)
    ones = jnp.ones(targets.shape)
    np.testing.assert_allclose(seq.weighted_token_cross_entropy(logits, targets, ones, mask),
                               seq.token_cross_entropy(logits, targets, mask), rtol=1e-6)
    w = jax.random.uniform(jax.random.key(6), targets.shape)
    np.testing.assert_allclose(seq.weighted_token_cross_entropy(logits, targets, w, mask),
                               w * seq.token_cross_entropy(logits, targets, mask), rtol=1e-6)
    gw = jax.grad(lambda w: jnp.sum(seq.weighted_token_cross_entropy(logits, targets, w, mask)))(w)
    np.testing.assert_allclose(gw, seq.token_cross_entropy(logits, targets, mask), rtol=1e-6)
    with pytest.raises(ValueError, match="weights"):
        seq.weighted_token_cross_entropy(logits, targets, w[:, :2], mask)
