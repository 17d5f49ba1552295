"""TraDE [P027]: MoG conditionals, causal structure, normalization and the penalized loss."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from likelihood_jax.flows import trade


def test_mog_conditional_matches_scipy_and_integrates_to_one():
    logits, means, log_scales = jnp.array([0.3, -1.0, 0.5]), jnp.array([-2.0, 0.0, 1.5]), \
        jnp.array([-0.5, 0.2, -1.0])
    grid = np.linspace(-12, 12, 24001)
    p = np.exp(trade.mog_log_prob(jnp.asarray(grid, jnp.float32), *(
        jnp.broadcast_to(a, (grid.size, 3)) for a in (logits, means, log_scales))))
    assert abs(np.trapezoid(p, grid) - 1.0) < 1e-4
    w = np.exp(logits) / np.exp(logits).sum()
    ref = sum(w[k] * stats.norm.pdf(grid, means[k], np.exp(log_scales[k])) for k in range(3))
    np.testing.assert_allclose(p, ref, rtol=1e-4, atol=1e-7)


@pytest.fixture(scope="module")
def mixed():
    """A tiny TraDE over (continuous, 3 categories, continuous) and its parameters."""
    model = trade.TraDE((0, 3, 0), num_components=2, num_layers=1, width=16, num_heads=2)
    x = jnp.array([[0.2, 1.0, -0.4], [1.0, 2.0, 0.3]])
    return model, jax.jit(model.init)(jax.random.key(0), x), x


def test_outputs_are_causal_by_jacobian_sparsity(mixed):
    model, params, x = mixed
    jac = jax.jit(jax.jacfwd(lambda row: model.outputs(params, row[None])[0]))(x[0])
    dep = np.abs(np.asarray(jac)).max(1)  # dep[i, j]: does position i read x_j?
    assert np.all(dep[np.triu_indices(3)] == 0.0)  # i <= j: never
    assert np.all(dep[np.tril_indices(3, -1)] > 0.0)  # i > j: yes


def test_joint_density_sums_and_integrates_to_one(mixed):
    """Integrate the continuous columns on a grid, sum the discrete one: total mass 1.

    The last column's grid is wide: its conditional means move with x_0 far out.
    """
    model, params, _ = mixed
    u0, u2 = np.linspace(-8, 8, 81), np.linspace(-40, 40, 801)
    a, c, b = np.meshgrid(u0, np.arange(3.0), u2, indexing="ij")
    pts = jnp.asarray(np.stack([a, c, b], -1).reshape(-1, 3), jnp.float32)
    p = np.exp(np.asarray(jax.jit(model.log_prob)(params, pts))).reshape(a.shape)
    mass = np.trapezoid(np.trapezoid(p.sum(1), u2, axis=1), u0)
    assert abs(mass - 1.0) < 1e-3


def test_samples_follow_discrete_codes_and_rsample_matches_sample(mixed):
    model, params, _ = mixed
    key = jax.random.key(3)
    s = jax.jit(model.sample, static_argnums=2)(params, key, 64)
    assert s.shape == (64, 3) and set(np.unique(s[:, 1])) <= {0.0, 1.0, 2.0}
    assert len(np.unique(s[:, 1])) > 1
    r = jax.jit(model.rsample, static_argnums=2)(params, key, 64)
    np.testing.assert_allclose(r, s, atol=1e-5)


def test_penalized_nll_is_nll_plus_weighted_mmd(mixed):
    model, params, x = mixed
    key = jax.random.key(4)
    plain, _ = jax.jit(lambda p: trade.penalized_nll(model, p, x, key, mmd_weight=0.0))(params)
    np.testing.assert_allclose(plain, -jax.jit(model.log_prob)(params, x), rtol=1e-6)

    def loss(p):
        value, m = trade.penalized_nll(model, p, x, key, mmd_weight=2.0, num_samples=8)
        return value.mean(), (value, m)

    grads, (value, m) = jax.jit(jax.grad(loss, has_aux=True))(params)
    np.testing.assert_allclose(value - m["nll"], 2.0 * m["mmd2"], rtol=1e-5, atol=1e-6)
    assert all(np.all(np.isfinite(g)) for g in jax.tree.leaves(grads))
    with pytest.raises(ValueError, match="categories"):
        trade.TraDE((0, 1))
    with pytest.raises(ValueError, match="x must be"):
        model.log_prob(params, x[:, :2])


@pytest.mark.nightly
def test_nll_approaches_the_entropy_of_a_correlated_gaussian():
    import optax

    from likelihood_jax.data import tabular

    ds = tabular.load_correlated_gaussian("correlated_gaussian", dim=4, rho=0.8)
    model = trade.TraDE((0,) * 4, num_components=4, num_layers=1, width=32, num_heads=2)
    x = jnp.asarray(ds.train["x"])
    params = model.init(jax.random.key(0), x[:8])
    opt = optax.adam(3e-3)
    state = opt.init(params)

    @jax.jit
    def step(params, state, i):
        idx = jax.random.randint(jax.random.fold_in(jax.random.key(1), i), (256,), 0, len(x))
        loss, g = jax.value_and_grad(lambda p: -model.log_prob(p, x[idx]).mean())(params)
        updates, state = opt.update(g, state)
        return optax.apply_updates(params, updates), state, loss

    for i in range(1500):
        params, state, _ = step(params, state, i)
    nll = -float(model.log_prob(params, jnp.asarray(ds.test["x"])).mean())
    assert abs(nll - tabular.correlated_gaussian_entropy(4, 0.8)) < 0.05
