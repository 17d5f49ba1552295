"""Finite-domain transfer [P050]: the privilege-level losses against numpy, their population
minimizers on a tiny S x A teacher (SEL_ptl reaches the teacher, CE_ptl is biased), the
empirical SEL_ptl minimizer of gradient descent, and finite-difference gradients."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.optimize

from likelihood_jax.sequence import distillation as kd
from likelihood_jax.sequence.objectives import token_cross_entropy


def np_log_softmax(z):
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def tiny_teacher(seed=0, num_s=3, num_a=4):
    rng = np.random.default_rng(seed)
    pi = rng.dirichlet(np.ones(num_a), num_s)
    rho = rng.dirichlet(np.ones(num_s) * 3)
    return rho, pi


def test_losses_match_numpy_and_the_dispatcher():
    rng = np.random.default_rng(0)
    z, t = rng.normal(size=(5, 6)), rng.normal(size=(5, 6))
    a = rng.integers(0, 6, 5)
    mask = np.array([1.0, 0.0, 1.0, 2.0, 1.0])
    lq, lp = np_log_softmax(z), np_log_softmax(t)
    lq_a, lp_a = lq[np.arange(5), a], lp[np.arange(5), a]
    with jax.enable_x64(True):
        zj, aj, tj, mj = jnp.asarray(z), jnp.asarray(a), jnp.asarray(lp), jnp.asarray(mask)
        np.testing.assert_allclose(kd.privilege_level_loss("ce_ptl", zj, aj, tj, mj),
                                   -np.exp(lp_a) * lq_a * mask, rtol=1e-12)
        np.testing.assert_allclose(kd.privilege_level_loss("sel_ptl", zj, aj, tj, mj),
                                   0.5 * (lq_a - lp_a) ** 2 * mask, rtol=1e-12)
        np.testing.assert_allclose(kd.privilege_level_loss("ce_sgl", zj, aj, tj, mj),
                                   token_cross_entropy(zj, aj, mj))
        kl = (np.exp(lp) * (lp - lq)).sum(-1) * mask
        np.testing.assert_allclose(kd.privilege_level_loss("ce_ful", zj, aj, tj, mj), kl,
                                   rtol=1e-12)
        with pytest.raises(ValueError, match="unknown privilege-level"):
            kd.privilege_level_loss("ce", zj, aj, tj)
        with pytest.raises(ValueError, match="shape"):
            kd.partial_soft_label_squared_logit(zj, aj, tj)


def population_minimizer(name, rho, pi):
    """Minimizes E_{s ~ rho, a ~ pi*} loss over a logit table, with L-BFGS in float64."""
    num_s, num_a = pi.shape
    s, a = np.meshgrid(np.arange(num_s), np.arange(num_a), indexing="ij")
    s, a = s.ravel(), a.ravel()
    weight = (rho[:, None] * pi).ravel()  # P(s, a): the population as example weights
    teacher = jnp.asarray(np.log(pi)[s])

    def objective(flat):
        logits = flat.reshape(num_s, num_a)[s]
        return jnp.sum(kd.privilege_level_loss(name, logits, jnp.asarray(a), teacher,
                                               jnp.asarray(weight)))

    with jax.enable_x64(True):
        value_and_grad = jax.jit(jax.value_and_grad(objective))
        res = scipy.optimize.minimize(
            lambda x: tuple(np.asarray(v, np.float64) for v in value_and_grad(jnp.asarray(x))),
            np.zeros(num_s * num_a), jac=True, method="L-BFGS-B",
            options={"gtol": 1e-12, "ftol": 1e-15, "maxiter": 5000})
    z = res.x.reshape(num_s, num_a)
    return np.exp(np_log_softmax(z))


@pytest.mark.parametrize("name", ["sel_ptl", "ce_ful"])
def test_unbiased_losses_population_minimizer_is_the_teacher(name):
    rho, pi = tiny_teacher()
    np.testing.assert_allclose(population_minimizer(name, rho, pi), pi, atol=1e-5)


def test_naive_partial_cross_entropy_minimizer_is_biased_towards_squared_teacher():
    rho, pi = tiny_teacher()
    q = population_minimizer("ce_ptl", rho, pi)
    squared = pi ** 2 / (pi ** 2).sum(-1, keepdims=True)
    np.testing.assert_allclose(q, squared, atol=1e-5)  # Lemma 4.2
    tv = 0.5 * np.abs(q - pi).sum(-1)
    assert tv.min() > 0.05  # far from the teacher at every input


def test_sel_ptl_gradient_descent_matches_seen_pairs_and_spreads_missing_mass_uniformly():
    rng = np.random.default_rng(3)
    pi = rng.dirichlet(np.ones(6), 2)
    # A small sample: input 0 sees labels {0, 2, 3}, input 1 sees {5}.
    s = np.array([0, 0, 0, 0, 1, 1])
    a = np.array([0, 2, 2, 3, 5, 5])
    teacher = jnp.asarray(np.log(pi)[s])

    def objective(table):
        return jnp.sum(kd.privilege_level_loss("sel_ptl", table[s], jnp.asarray(a), teacher))

    with jax.enable_x64(True):
        grad = jax.jit(jax.grad(objective))
        table = jnp.zeros((3, 6))  # input 2 is never seen
        for _ in range(3000):
            table = table - 0.5 * grad(table)
        q = np.exp(np_log_softmax(np.asarray(table)))
    expected = np.full((3, 6), 1.0 / 6)  # unseen input: uniform
    for row, seen in ((0, [0, 2, 3]), (1, [5])):
        unseen = [k for k in range(6) if k not in seen]
        expected[row, seen] = pi[row, seen]
        expected[row, unseen] = (1 - pi[row, seen].sum()) / len(unseen)  # eq. 4.7, uniform
    np.testing.assert_allclose(q, expected, atol=1e-6)


@pytest.mark.parametrize("name", ["ce_ptl", "sel_ptl"])
def test_gradients_match_finite_differences(name):
    rng = np.random.default_rng(4)
    z, t = rng.normal(size=(4, 5)), np_log_softmax(rng.normal(size=(4, 5)))
    a = rng.integers(0, 5, 4)

    def objective(z):
        return jnp.sum(kd.privilege_level_loss(name, z, jnp.asarray(a), jnp.asarray(t)))

    with jax.enable_x64(True):
        zj = jnp.asarray(z)
        grad = np.asarray(jax.grad(objective)(zj))
        eps = 1e-6
        for i in range(4):
            for j in (0, 3):
                e = jnp.zeros_like(zj).at[i, j].set(eps)
                fd = (objective(zj + e) - objective(zj - e)) / (2 * eps)
                np.testing.assert_allclose(grad[i, j], float(fd), rtol=1e-6, atol=1e-9)
