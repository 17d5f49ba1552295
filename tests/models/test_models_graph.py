"""models.graph.GraphNet: permutation equivariance, symmetry and masking."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from likelihood_jax.models.graph import GraphNet


def _inputs(n=7, real=5, seed=0):
    a = jax.random.normal(jax.random.key(seed), (n, n))
    adj = (a + a.T) / 2
    mask = (jnp.arange(n) < real).astype(jnp.float32)
    return adj, mask


def test_permutation_equivariance_symmetry_and_mask():
    model = GraphNet(hidden=16, num_layers=2)
    adj, mask = _inputs()
    params = model.init(jax.random.key(1), adj, mask, 0.3)
    out = model.apply(params, adj, mask, 0.3)
    perm = np.random.default_rng(0).permutation(7)
    out_perm = model.apply(params, adj[perm][:, perm], mask[perm], 0.3)
    np.testing.assert_allclose(out_perm, out[perm][:, perm], atol=1e-5)
    np.testing.assert_allclose(out, out.T, atol=1e-6)
    np.testing.assert_array_equal(np.diag(out), 0.0)
    assert np.all(np.asarray(out)[5:] == 0) and np.all(np.asarray(out)[:, 5:] == 0)
    # Padded entries of the input do not matter; the time does.
    noisy = adj.at[6, :].set(9.0).at[:, 6].set(9.0)
    np.testing.assert_allclose(model.apply(params, noisy, mask, 0.3), out, atol=1e-6)
    assert not np.allclose(model.apply(params, adj, mask, 0.9), out)


def test_not_trivially_invariant_and_vmaps():
    """Distinct edges get distinct outputs (the test above is not passed by a constant)."""
    model = GraphNet(hidden=16, num_layers=2)
    adj, mask = _inputs(seed=3)
    params = model.init(jax.random.key(1), adj, mask, 0.3)
    out = np.asarray(model.apply(params, adj, mask, 0.3))
    off = out[:5, :5][~np.eye(5, dtype=bool)]
    assert np.std(off) > 1e-3
    batch = jnp.stack([adj, -adj]), jnp.stack([mask, mask]), jnp.array([0.1, 0.5])
    outs = jax.vmap(model.apply, in_axes=(None, 0, 0, 0))(params, *batch)
    np.testing.assert_allclose(outs[0], model.apply(params, adj, mask, 0.1), atol=1e-5)
    with pytest.raises(ValueError, match="adj"):
        model.apply(params, adj[:, :3], mask, 0.3)
