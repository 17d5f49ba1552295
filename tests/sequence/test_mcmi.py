"""MCMI [P034]: the CMI estimator against the analytic CMI of a discrete joint, its zero
case, the envelope property of the centroid gradient, and finite-difference gradients."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from likelihood_jax.sequence import distillation as kd
from likelihood_jax.sequence.objectives import token_cross_entropy


def np_softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def entropy(p):
    return -np.sum(np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0), -1)


def toy_joint(seed=0, num_x=6, num_y=3, num_c=4):
    """Integer counts of a joint P(x, y) and a model P(yhat | x) with random logits."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(1, 5, (num_x, num_y)).astype(np.float64)
    counts[0, 1] = 0.0  # a zero cell
    logits = rng.normal(size=(num_x, num_c)) * 1.5
    return counts, logits


def analytic_cmi(counts, logits):
    """I(X; Yhat | Y) = H(Yhat | Y) - H(Yhat | X, Y) for the joint P(x, y) P(yhat | x)."""
    joint = counts / counts.sum()
    p_yhat_x = np_softmax(logits)
    p_y = joint.sum(0)
    h_cond_xy = np.sum(joint.sum(1) * entropy(p_yhat_x))  # H(Yhat | X, Y) = H(Yhat | X)
    p_yhat_given_y = (joint / p_y).T @ p_yhat_x  # [Y, C]
    h_cond_y = np.sum(p_y * entropy(p_yhat_given_y))
    return h_cond_y - h_cond_xy


def as_batch(counts, logits):
    xs, ys = np.nonzero(np.ones_like(counts))
    return logits[xs], ys, counts[xs, ys]


def test_cmi_equals_the_analytic_value_of_a_discrete_joint():
    counts, logits = toy_joint()
    z, y, w = as_batch(counts, logits)
    with jax.enable_x64(True):
        per_example = kd.conditional_mutual_information(jnp.asarray(z), jnp.asarray(y), 3,
                                                        jnp.asarray(w))
        estimate = float(jnp.sum(per_example) / np.sum(w))
    ref = analytic_cmi(counts, logits)
    assert ref > 0.05
    np.testing.assert_allclose(estimate, ref, rtol=1e-10)
    # Repeating rows with 0/1 weights is the same estimator.
    reps = np.repeat(np.arange(len(w)), w.astype(int))
    with jax.enable_x64(True):
        repeated = kd.conditional_mutual_information(jnp.asarray(z[reps]), jnp.asarray(y[reps]), 3)
        np.testing.assert_allclose(float(jnp.mean(repeated)), ref, rtol=1e-10)


def test_cmi_is_zero_iff_predictions_within_each_class_coincide():
    rng = np.random.default_rng(1)
    y = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2])
    per_class = rng.normal(size=(3, 5))
    z = per_class[y] + rng.normal(size=(len(y), 1))  # a per-row shift leaves softmax unchanged
    with jax.enable_x64(True):
        cmi = kd.conditional_mutual_information(jnp.asarray(z), jnp.asarray(y), 4)
        np.testing.assert_allclose(cmi, 0.0, atol=1e-12)
        z2 = z.copy()
        z2[1] += rng.normal(size=5)
        cmi2 = kd.conditional_mutual_information(jnp.asarray(z2), jnp.asarray(y), 4)
    assert float(cmi2[0]) > 1e-3 and float(cmi2[1]) > 1e-3  # class 0 now differs
    np.testing.assert_allclose(cmi2[3:], 0.0, atol=1e-12)


def test_class_centroids_match_a_loop_and_empty_classes_are_uniform():
    rng = np.random.default_rng(2)
    p = np_softmax(rng.normal(size=(10, 4)))
    y = rng.integers(0, 3, 10)
    w = rng.integers(0, 3, 10).astype(np.float64)
    with jax.enable_x64(True):
        c, weight = kd.class_centroids(jnp.asarray(p), jnp.asarray(y), 5, jnp.asarray(w))
    for k in range(3):
        sel = y == k
        if w[sel].sum() > 0:
            np.testing.assert_allclose(c[k], (w[sel, None] * p[sel]).sum(0) / w[sel].sum())
        np.testing.assert_allclose(weight[k], w[sel].sum())
    np.testing.assert_allclose(c[3:], 0.25)
    np.testing.assert_allclose(weight[3:], 0.0)


def test_centroid_gradient_vanishes_so_stopping_it_changes_nothing():
    counts, logits = toy_joint(seed=3)
    z, y, w = as_batch(counts, logits)

    def cmi(z, stop):
        return jnp.sum(kd.conditional_mutual_information(
            z, jnp.asarray(y), 3, jnp.asarray(w), stop_gradient_centroids=stop))

    with jax.enable_x64(True):
        g_stop = jax.grad(cmi)(jnp.asarray(z), True)
        g_full = jax.grad(cmi)(jnp.asarray(z), False)
    g_stop, g_full = np.asarray(g_stop), np.asarray(g_full)
    assert np.max(np.abs(g_full)) > 1e-2
    np.testing.assert_allclose(g_stop, g_full, atol=1e-10)


def test_mcmi_loss_gradient_matches_finite_differences():
    counts, logits = toy_joint(seed=4)
    z, y, w = as_batch(counts, logits)

    def objective(z):
        return jnp.sum(kd.mcmi_loss(z, jnp.asarray(y), 3, cmi_weight=0.7, mask=jnp.asarray(w)))

    with jax.enable_x64(True):
        z = jnp.asarray(z)
        grad = np.asarray(jax.grad(objective)(z))
        rng = np.random.default_rng(0)
        eps = 1e-6
        for _ in range(6):
            i, j = rng.integers(0, z.shape[0]), rng.integers(0, z.shape[1])
            e = jnp.zeros_like(z).at[i, j].set(eps)
            fd = (objective(z + e) - objective(z - e)) / (2 * eps)
            np.testing.assert_allclose(grad[i, j], float(fd), rtol=1e-5, atol=1e-8)


def test_mcmi_loss_is_ce_minus_lambda_cmi_and_mle_at_zero():
    counts, logits = toy_joint(seed=5)
    z, y, w = as_batch(counts, logits)
    with jax.enable_x64(True):
        z, yj, wj = jnp.asarray(z), jnp.asarray(y), jnp.asarray(w)
        ce = token_cross_entropy(z, yj, wj)
        np.testing.assert_allclose(kd.mcmi_loss(z, yj, 3, cmi_weight=0.0, mask=wj), ce)
        loss = kd.mcmi_loss(z, yj, 3, cmi_weight=0.5, mask=wj)
        mean = float(jnp.sum(loss) / np.sum(w))
        ce_mean = float(jnp.sum(ce)) / np.sum(w)
    np.testing.assert_allclose(mean, ce_mean - 0.5 * analytic_cmi(counts, logits), rtol=1e-10)


def test_bad_inputs_raise():
    z, y = jnp.zeros((4, 3)), jnp.zeros((4,), jnp.int32)
    with pytest.raises(ValueError, match="labels"):
        kd.conditional_mutual_information(z, jnp.zeros((5,), jnp.int32), 3)
    with pytest.raises(ValueError, match="mask"):
        kd.conditional_mutual_information(z, y, 3, jnp.ones((3,)))
    with pytest.raises(ValueError, match="centroids"):
        kd.conditional_mutual_information(z, y, 3, centroids=jnp.ones((2, 3)))
    with pytest.raises(ValueError, match="cmi_weight"):
        kd.mcmi_loss(z, y, 3, cmi_weight=-1.0)
