"""Distillation losses [P125, P007]: numpy references, neutral settings, gradients."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from likelihood_jax.sequence import distillation as kd
from likelihood_jax.sequence.objectives import token_cross_entropy


def np_log_softmax(z):
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def problem(seed=0, shape=(3, 5), vocab=7, members=None):
    rng = np.random.default_rng(seed)
    student = rng.normal(size=shape + (vocab,)) * 2
    teacher_shape = ((members,) if members else ()) + shape + (vocab,)
    teacher = rng.normal(size=teacher_shape) * 2
    targets = rng.integers(0, vocab, shape)
    mask = (rng.random(shape) < 0.7).astype(np.float64)
    return student, teacher, targets, mask


def np_kd(student, teacher_log_p, targets, mask, temperature, alpha):
    log_q_t = np_log_softmax(student / temperature)
    p = np.exp(teacher_log_p)
    kl = (p * (teacher_log_p - log_q_t)).sum(-1)
    ce = -np.take_along_axis(np_log_softmax(student), targets[..., None], -1)[..., 0]
    return (alpha * temperature ** 2 * kl + (1 - alpha) * ce) * mask


@pytest.mark.parametrize("temperature,alpha", [(1.0, 0.5), (4.0, 0.9), (0.5, 1.0)])
def test_knowledge_distillation_matches_numpy(temperature, alpha):
    student, teacher, targets, mask = problem()
    with jax.enable_x64(True):
        teacher_log_p = kd.tempered_log_softmax(jnp.asarray(teacher), temperature)
        out = kd.knowledge_distillation(jnp.asarray(student), teacher_log_p, jnp.asarray(targets),
                                        jnp.asarray(mask), temperature=temperature, alpha=alpha)
        ref = np_kd(student, np_log_softmax(teacher / temperature), targets, mask, temperature,
                    alpha)
        np.testing.assert_allclose(out, ref, rtol=1e-10, atol=1e-12)


def test_ensemble_averages_probabilities_not_logits():
    student, teacher, targets, mask = problem(members=3)
    with jax.enable_x64(True):
        out = np.exp(kd.ensemble_log_probs(jnp.asarray(teacher), 2.0))
        ref = np.exp(np_log_softmax(teacher / 2.0)).mean(0)
        np.testing.assert_allclose(out, ref, rtol=1e-12)
        np.testing.assert_allclose(out.sum(-1), 1.0, rtol=1e-12)
        logit_mean = np.exp(np_log_softmax(teacher.mean(0) / 2.0))
        assert np.abs(out - logit_mean).max() > 1e-3  # a different (wrong) average
        # One member: the ensemble is that member.
        np.testing.assert_allclose(kd.ensemble_log_probs(jnp.asarray(teacher[:1]), 2.0),
                                   np_log_softmax(teacher[0] / 2.0), rtol=1e-12)


def test_alpha_zero_is_cross_entropy_in_value_and_gradient():
    student, teacher, targets, mask = problem()
    z, y, m = jnp.asarray(student), jnp.asarray(targets), jnp.asarray(mask)
    teacher_log_p = kd.tempered_log_softmax(jnp.asarray(teacher), 3.0)

    def total(fn):
        return lambda z: jnp.sum(fn(z))

    ce = total(lambda z: token_cross_entropy(z, y, m))
    for fn in [lambda z: kd.knowledge_distillation(z, teacher_log_p, y, m, temperature=3.0,
                                                   alpha=0.0),
               lambda z: kd.noisy_self_distillation(z, teacher_log_p, y, m, alpha=0.0)]:
        np.testing.assert_allclose(total(fn)(z), ce(z), rtol=1e-6)
        np.testing.assert_allclose(jax.grad(total(fn))(z), jax.grad(ce)(z), atol=1e-7)


def test_soft_gradient_is_t_times_q_minus_p_and_finite_differences_agree():
    student, teacher, targets, _ = problem(shape=(2, 3))
    temperature = 2.5
    with jax.enable_x64(True):
        z = jnp.asarray(student)
        log_p = kd.tempered_log_softmax(jnp.asarray(teacher), temperature)

        def loss(z):
            return jnp.sum(kd.knowledge_distillation(z, log_p, jnp.asarray(targets),
                                                     temperature=temperature, alpha=1.0))

        grad = jax.grad(loss)(z)
        q = np.exp(np_log_softmax(student / temperature))
        np.testing.assert_allclose(grad, temperature * (q - np.exp(log_p)), rtol=1e-10)
        # Central finite differences of the full mixed objective along random directions.
        rng = np.random.default_rng(1)

        def mixed(z):
            return jnp.sum(kd.knowledge_distillation(z, log_p, jnp.asarray(targets),
                                                     temperature=temperature, alpha=0.3))

        g = jax.grad(mixed)(z)
        for _ in range(3):
            d = jnp.asarray(rng.normal(size=student.shape))
            eps = 1e-5
            fd = (mixed(z + eps * d) - mixed(z - eps * d)) / (2 * eps)
            np.testing.assert_allclose(fd, jnp.sum(g * d), rtol=1e-7)


def test_high_temperature_limit_is_logit_matching():
    """Hinton et al. sec. 2.1: for large T and zero-mean logits, T^2 * grad KL -> (z - v) / N."""
    rng = np.random.default_rng(2)
    vocab = 6
    z = rng.normal(size=(vocab,))
    v = rng.normal(size=(vocab,))
    z, v = z - z.mean(), v - v.mean()
    temperature = 200.0
    with jax.enable_x64(True):
        log_p = kd.tempered_log_softmax(jnp.asarray(v)[None], temperature)
        grad = jax.grad(lambda z: jnp.sum(kd.knowledge_distillation(
            z[None], log_p, jnp.zeros((1,), jnp.int32), temperature=temperature, alpha=1.0)))(
                jnp.asarray(z))
        np.testing.assert_allclose(grad, (z - v) / vocab, atol=1e-3 * np.abs(z - v).max())


def test_kl_is_zero_at_the_teacher_and_positive_elsewhere():
    _, teacher, _, _ = problem()
    z = jnp.asarray(teacher, jnp.float32)
    log_p = kd.tempered_log_softmax(z, 2.0)
    np.testing.assert_allclose(kd.soft_cross_entropy(z, log_p, temperature=2.0), 0.0, atol=1e-6)
    assert np.all(np.asarray(kd.soft_cross_entropy(z + jnp.arange(7.0), log_p,
                                                   temperature=2.0)) > 0)


def test_teacher_gets_no_gradient():
    student, teacher, targets, _ = problem()
    g = jax.grad(lambda t: jnp.sum(kd.knowledge_distillation(
        jnp.asarray(student), kd.tempered_log_softmax(t, 2.0), jnp.asarray(targets),
        temperature=2.0, alpha=0.5)))(jnp.asarray(teacher))
    np.testing.assert_array_equal(g, 0.0)


def test_noisy_self_distillation_is_kd_at_temperature_one():
    student, teacher, targets, mask = problem()
    log_p = kd.tempered_log_softmax(jnp.asarray(teacher))
    args = (jnp.asarray(student), log_p, jnp.asarray(targets), jnp.asarray(mask))
    np.testing.assert_allclose(kd.noisy_self_distillation(*args, alpha=0.4),
                               kd.knowledge_distillation(*args, temperature=1.0, alpha=0.4))


def test_perturb_tokens_rates_and_keep():
    tokens = jnp.zeros((200, 50), jnp.int32) + 3
    key = jax.random.key(0)
    np.testing.assert_array_equal(kd.perturb_tokens(key, tokens, 10, replace_rate=0.0), tokens)
    out = np.asarray(kd.perturb_tokens(key, tokens, 10, replace_rate=0.5))
    changed = np.mean(out != 3)
    assert abs(changed - 0.5 * 0.9) < 0.02  # a replacement hits the same id 1/10 of the time
    keep = jnp.zeros(tokens.shape, bool).at[:, 0].set(True)
    out = np.asarray(kd.perturb_tokens(key, tokens, 10, replace_rate=0.0, drop_rate=0.3,
                                       drop_id=99, keep=keep))
    assert np.all(out[:, 0] == 3)
    assert abs(np.mean(out[:, 1:] == 99) - 0.3) < 0.02
    assert set(np.unique(out)) == {3, 99}


def test_embedding_dropout_keeps_the_mean():
    x = jnp.ones((400, 100))
    np.testing.assert_array_equal(kd.embedding_dropout(jax.random.key(0), x, 0.0), x)
    out = np.asarray(kd.embedding_dropout(jax.random.key(0), x, 0.25))
    assert abs(out.mean() - 1.0) < 0.01
    assert abs(np.mean(out == 0) - 0.25) < 0.01


def test_bad_input_is_refused():
    z = jnp.zeros((2, 3, 4))
    with pytest.raises(ValueError, match="temperature"):
        kd.tempered_log_softmax(z, 0.0)
    with pytest.raises(ValueError, match="alpha"):
        kd.knowledge_distillation(z, z, jnp.zeros((2, 3), jnp.int32), alpha=1.5)
    with pytest.raises(ValueError, match="same shape"):
        kd.soft_cross_entropy(z, z[..., :3])
    with pytest.raises(ValueError, match="drop_id"):
        kd.perturb_tokens(jax.random.key(0), jnp.zeros((2, 3), jnp.int32), 4, drop_rate=0.1)
    with pytest.raises(ValueError, match="member_logits"):
        kd.ensemble_log_probs(jnp.zeros((4,)))
