"""Masked-LM losses: PLL against an enumerable joint, the MLM loss's mask, masking rates,
the EMA update and the stop-gradient of latent bootstrapping."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from likelihood_jax.sequence import masked_lm

V, T = 3, 4
MASK = V


def random_joint(seed=0):
    """A random joint distribution over all V^T sequences, as a [V]*T log table."""
    rng = np.random.default_rng(seed)
    p = rng.dirichlet(np.full(V ** T, 0.5))
    return np.log(p).reshape((V,) * T)


def exact_conditional_logits_fn(log_joint):
    """An "MLM" from the joint: for a sequence with [MASK] at t, row t holds log P(W with
    w_t = v) (unnormalized over v: log_softmax gives the exact conditional); other rows
    hold the same formula for their own position, the mask read as token 0."""
    table = jnp.asarray(log_joint)

    def logits_fn(seq):
        filled = jnp.where(seq == MASK, 0, seq)
        rows = []
        for s in range(T):
            idx = [filled[i] for i in range(T)]
            idx[s] = jnp.arange(V)
            rows.append(table[tuple(idx)])
        return jnp.stack(rows)  # [T, V]

    return logits_fn


def analytic_pll(log_joint, w):
    total = 0.0
    for t in range(T):
        values = []
        for v in range(V):
            u = list(w)
            u[t] = v
            values.append(np.exp(log_joint[tuple(u)]))
        total += np.log(values[w[t]] / np.sum(values))
    return total


def loop_pll(logits_fn, w):
    tokens = jnp.asarray(w, jnp.int32)
    total = 0.0
    for t in range(T):
        copy = tokens.at[t].set(MASK)
        total += float(jax.nn.log_softmax(logits_fn(copy)[t])[w[t]])
    return total


def test_vmapped_pll_equals_analytic_and_loop_versions():
    log_joint = random_joint()
    logits_fn = exact_conditional_logits_fn(log_joint)
    seqs = np.array(list(itertools.product(range(V), repeat=T)), np.int32)
    pll = jax.jit(jax.vmap(lambda w: masked_lm.pseudo_log_likelihood(logits_fn, w, MASK)))(
        jnp.asarray(seqs))
    for i in [0, 5, 17, 40, len(seqs) - 1]:
        w = tuple(int(a) for a in seqs[i])
        np.testing.assert_allclose(pll[i], analytic_pll(log_joint, w), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(pll[i], loop_pll(logits_fn, w), rtol=1e-5, atol=1e-5)
    # PLL is not a normalized likelihood, but each term is a log-probability.
    terms = jax.vmap(lambda w: masked_lm.pseudo_log_likelihood_terms(logits_fn, w, MASK))(
        jnp.asarray(seqs))
    assert np.all(np.asarray(terms) <= 1e-6)
    # valid restricts the sum; pseudo-perplexity is exp of minus the mean term.
    valid = jnp.array([True, True, False, True])
    w = jnp.asarray(seqs[7])
    np.testing.assert_allclose(
        masked_lm.pseudo_log_likelihood(logits_fn, w, MASK, valid),
        jnp.sum(jnp.where(valid, terms[7], 0.0)), rtol=1e-6)
    np.testing.assert_allclose(masked_lm.pseudo_perplexity(pll[:3], jnp.full((3,), T)),
                               np.exp(-np.sum(pll[:3]) / (3 * T)), rtol=1e-6)


def test_masked_copies():
    copies = masked_lm.masked_copies(jnp.array([4, 5, 6]), 9)
    np.testing.assert_array_equal(copies, [[9, 5, 6], [4, 9, 6], [4, 5, 9]])
    with pytest.raises(ValueError, match="one sequence"):
        masked_lm.masked_copies(jnp.zeros((2, 3), jnp.int32), 9)


def test_mlm_loss_counts_masked_positions_only():
    key = jax.random.key(0)
    logits = jax.random.normal(key, (2, 5, 7))
    targets = jnp.array([[1, 2, 3, 4, 5], [0, 6, 6, 1, 2]])
    mask = jnp.array([[True, False, True, False, False], [False, False, False, True, False]])
    loss = masked_lm.masked_lm_loss(logits, targets, mask)
    other = logits + 5.0 * jax.random.normal(jax.random.key(1), logits.shape) * ~mask[..., None]
    np.testing.assert_allclose(masked_lm.masked_lm_loss(other, targets, mask), loss, rtol=1e-6)
    log_probs = jax.nn.log_softmax(logits)
    expected0 = -(log_probs[0, 0, 1] + log_probs[0, 2, 3]) / 2
    np.testing.assert_allclose(loss[0], expected0, rtol=1e-6)
    np.testing.assert_allclose(loss[1], -log_probs[1, 3, 1], rtol=1e-6)
    grads = jax.grad(lambda z: jnp.sum(masked_lm.masked_lm_loss(z, targets, mask)))(logits)
    assert np.all(np.asarray(grads)[~np.asarray(mask)] == 0)
    with pytest.raises(ValueError, match="target_mask"):
        masked_lm.masked_lm_loss(logits, targets, mask[:, :3])


def test_masking_rates_hold_statistically():
    tokens = jnp.asarray(np.random.default_rng(0).integers(0, 50, (400, 250)), jnp.int32)
    inputs, target = masked_lm.mask_tokens(jax.random.key(3), tokens, 50, 50, rate=0.15)
    target, inputs, tokens = np.asarray(target), np.asarray(inputs), np.asarray(tokens)
    n = tokens.size
    chosen = target.sum()
    assert abs(chosen / n - 0.15) < 4 * np.sqrt(0.15 * 0.85 / n)
    assert np.all(inputs[~target] == tokens[~target])
    masked = (inputs[target] == 50).mean()
    changed = ((inputs[target] != 50) & (inputs[target] != tokens[target])).mean()
    kept = (inputs[target] == tokens[target]).mean()
    se = np.sqrt(0.25 / chosen)
    assert abs(masked - 0.8) < 4 * se
    # random replacement: 0.1 * (49/50) differs from the original, 0.1/50 lands on it
    assert abs(changed - 0.1 * 49 / 50) < 4 * se
    assert abs(kept - (0.1 + 0.1 / 50)) < 4 * se
    maskable = jnp.asarray(np.arange(250) < 100)[None].repeat(400, 0)
    _, target = masked_lm.mask_tokens(jax.random.key(4), jnp.asarray(tokens), 50, 50,
                                      maskable=maskable)
    assert not np.asarray(target)[:, 100:].any()
    with pytest.raises(ValueError, match="rate"):
        masked_lm.mask_tokens(jax.random.key(0), jnp.asarray(tokens), 50, 50, rate=1.5)


def test_ema_update_is_exact():
    teacher = {"a": jnp.array([1.0, 2.0]), "b": {"c": jnp.array(3.0)}}
    student = {"a": jnp.array([5.0, -2.0]), "b": {"c": jnp.array(1.0)}}
    out = masked_lm.ema_update(teacher, student, 0.9)
    np.testing.assert_allclose(out["a"], [0.9 * 1 + 0.1 * 5, 0.9 * 2 - 0.1 * 2], rtol=1e-6)
    np.testing.assert_allclose(out["b"]["c"], 0.9 * 3 + 0.1 * 1, rtol=1e-6)
    same = masked_lm.ema_update(teacher, student, 1.0)
    np.testing.assert_array_equal(same["a"], teacher["a"])
    np.testing.assert_array_equal(masked_lm.ema_update(teacher, student, 0.0)["a"], student["a"])
    ref = optax.incremental_update(student, teacher, 0.1)
    np.testing.assert_array_equal(out["a"], ref["a"])
    with pytest.raises(ValueError, match="decay"):
        masked_lm.ema_update(teacher, student, 1.5)


def test_bootstrapping_loss_has_no_teacher_gradient_and_matches_formula():
    k1, k2 = jax.random.split(jax.random.key(0))
    pred = jax.random.normal(k1, (2, 5, 8))
    teacher = 3.0 * jax.random.normal(k2, (2, 5, 8)) + 1.0
    mask = jnp.array([[True, False, True, True, False], [False] * 5])
    loss = masked_lm.latent_bootstrapping_loss(pred, teacher, mask)
    g_teacher = jax.grad(lambda h: jnp.sum(masked_lm.latent_bootstrapping_loss(pred, h, mask)))(
        teacher)
    np.testing.assert_array_equal(g_teacher, 0.0)
    g_pred = jax.grad(lambda p: jnp.sum(masked_lm.latent_bootstrapping_loss(p, teacher, mask)))(
        pred)
    assert np.abs(np.asarray(g_pred)[0, 0]).sum() > 0
    assert np.all(np.asarray(g_pred)[~np.asarray(mask)] == 0)
    t = np.asarray(teacher)
    y = (t - t.mean(-1, keepdims=True)) / np.sqrt(t.var(-1, keepdims=True) + 1e-5)
    d = np.abs(np.asarray(pred) - y)
    sl1 = np.where(d < 1, 0.5 * d ** 2, d - 0.5).mean(-1)
    np.testing.assert_allclose(loss[0], sl1[0][np.asarray(mask[0])].mean(), rtol=1e-5)
    assert float(loss[1]) == 0.0
    # A student that predicts the normalized teacher exactly has zero loss.
    np.testing.assert_allclose(
        masked_lm.latent_bootstrapping_loss(jnp.asarray(y), teacher, mask), 0.0, atol=1e-6)
