"""EBFlow's energy: -log p up to a constant, the same score, and no determinant computed."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from likelihood_jax import flows


def perturb(params, seed, scale):
    rng = np.random.default_rng(seed)
    return jax.tree.map(
        lambda a: a + jnp.asarray(scale * rng.standard_normal(a.shape), a.dtype), params)


def glow_flow(dim=3):
    chain = flows.Chain((
        flows.ActNorm(), flows.Dense(), flows.AffineCoupling(flows.alternating_mask(dim, 0), (8,)),
        flows.SmoothLeakyReLU(0.3),
        flows.Chain((flows.Dense(), flows.Reverse(), flows.SmoothTanh(1.0, 0.2))),
        flows.AffineCoupling(flows.alternating_mask(dim, 1), (8,)), flows.Dense()))
    return flows.Flow(chain, (dim,))


def init(flow, seed=0, dim=3):
    x = jnp.asarray(np.random.default_rng(seed).normal(size=(64, dim)), jnp.float32)
    return perturb(flow.init(jax.random.key(seed), x), seed + 1, 0.3)


@pytest.fixture(scope="module")
def flow_and_params():
    flow = glow_flow()
    return flow, jax.jit(lambda: init(flow))()


def test_energy_is_minus_log_prob_up_to_a_constant_in_x(flow_and_params):
    with jax.enable_x64(True):
        flow, params = flow_and_params
        params = jax.tree.map(lambda a: a.astype(jnp.float64), params)
        xs = jnp.asarray(np.random.default_rng(5).normal(scale=2.0, size=(6, 3)))
        log_p = jax.jit(jax.vmap(flow.log_prob, in_axes=(None, 0)))(params, xs)
        energy = jax.jit(jax.vmap(flow.energy, in_axes=(None, 0)))(params, xs)
        offset = log_p + energy  # = -log Z for every x
        np.testing.assert_allclose(offset, offset[0], rtol=0, atol=1e-10)
        np.testing.assert_allclose(offset, -jax.jit(flow.log_normalizer)(params), atol=1e-10)
        np.testing.assert_allclose(jax.jit(flow.unnormalized_log_prob)(params, xs[1]),
                                   -energy[1])
        # The constant is the x-independent part of the log-det, and it is not zero here.
        _, _, independent = jax.jit(flow.bijector.forward_and_log_det_parts)(params, xs[0])
        np.testing.assert_allclose(offset[0], independent, atol=1e-10)
        assert abs(independent) > 0.1


def test_energy_score_equals_the_exact_score(flow_and_params):
    with jax.enable_x64(True):
        flow, params = flow_and_params
        params = jax.tree.map(lambda a: a.astype(jnp.float64), params)
        xs = jnp.asarray(np.random.default_rng(6).normal(scale=2.0, size=(5, 3)))
        exact = jax.jit(jax.vmap(jax.grad(flow.log_prob, argnums=1), in_axes=(None, 0)))(
            params, xs)
        from_energy = -jax.jit(jax.vmap(jax.grad(flow.energy, argnums=1), in_axes=(None, 0)))(
            params, xs)
        np.testing.assert_allclose(from_energy, exact, rtol=1e-10, atol=1e-12)
        assert np.max(np.abs(exact)) > 0.1


def test_x_dependent_part_matches_forward_and_log_det_parts(flow_and_params):
    flow, params = flow_and_params
    x = jnp.array([0.3, -1.2, 2.0])
    z, dependent = jax.jit(flow.bijector.forward_and_x_dependent_log_det)(params, x)
    z_ref, dependent_ref, _ = jax.jit(flow.bijector.forward_and_log_det_parts)(params, x)
    np.testing.assert_allclose(z, z_ref, rtol=1e-6)
    np.testing.assert_allclose(dependent, dependent_ref, rtol=1e-6)
    # Single layers: x-independent ones contribute 0, x-dependent ones their log-det.
    dense_params = flows.Dense().init(jax.random.key(0), jnp.ones((2, 3)))
    _, zero = flows.forward_and_x_dependent_log_det(flows.Dense(), dense_params, x)
    assert float(zero) == 0.0
    _, ld = flows.forward_and_x_dependent_log_det(flows.SmoothLeakyReLU(), {}, x)
    np.testing.assert_allclose(ld, flows.SmoothLeakyReLU().forward_and_log_det({}, x)[1])


def primitives(jaxpr):
    """Names of every primitive in a closed jaxpr, including nested ones."""
    names = set()
    for eqn in jaxpr.eqns:
        names.add(eqn.primitive.name)
        for sub in jax.core.jaxprs_in_params(eqn.params):
            names |= primitives(sub)
    return names


def test_energy_and_its_score_compute_no_determinant(flow_and_params):
    """The energy's jaxpr has no LU factorization; the exact log_prob's has one."""
    flow, params = flow_and_params
    x = jnp.array([0.3, -1.2, 2.0])
    score = jax.grad(flow.energy, argnums=1)
    energy_prims = primitives(jax.make_jaxpr(flow.energy)(params, x).jaxpr)
    score_prims = primitives(jax.make_jaxpr(score)(params, x).jaxpr)
    exact_prims = primitives(jax.make_jaxpr(flow.log_prob)(params, x).jaxpr)
    assert "lu" in exact_prims
    assert "lu" not in energy_prims and "lu" not in score_prims
