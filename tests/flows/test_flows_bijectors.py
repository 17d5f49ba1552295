"""Per-layer checks of the flow bijectors against independent values.

Every layer runs on perturbed parameters (noise added to every leaf, so couplings are not the
identity) and is checked against autodiff Jacobians in float64, its own inverse, and the
truthfulness of its ``log_det_depends_on_x`` flag.
"""

import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from absl.testing import parameterized

from likelihood_jax import flows


def perturb(params, seed, scale=0.3):
    """Adds Gaussian noise to every leaf (numpy RNG: nothing to compile)."""
    rng = np.random.default_rng(seed)
    return jax.tree.map(
        lambda a: a + jnp.asarray(scale * rng.standard_normal(a.shape), a.dtype), params)


def sample_inputs(seed, shape, domain):
    rng = np.random.default_rng(seed)
    if domain == "unit":
        return jnp.asarray(rng.uniform(0.02, 0.98, shape), jnp.float32)
    scale = 1.0 + np.arange(shape[-1]) / shape[-1]  # anisotropic, off-centre
    return jnp.asarray(0.5 + scale * rng.standard_normal(shape), jnp.float32)


def make_params(bijector, event_shape, domain, seed=0):
    """Initializes on a batch (jitted: eager flax is slow) and perturbs every leaf."""
    params = jax.jit(bijector.init)(jax.random.key(seed),
                                    sample_inputs(seed, (64,) + event_shape, domain))
    return perturb(params, seed + 1)


def to_f64(tree):
    return jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), tree)


CASES = [
    ("actnorm_vector", lambda: flows.ActNorm(), (5,), "real"),
    ("actnorm_image", lambda: flows.ActNorm(), (3, 4, 2), "real"),
    ("coupling_tanh", lambda: flows.AffineCoupling(flows.alternating_mask(5, 0), (16, 16)),
     (5,), "real"),
    ("coupling_softplus",
     lambda: flows.AffineCoupling(flows.alternating_mask(5, 1), (16, 16), "softplus"),
     (5,), "real"),
    ("coupling_checkerboard",
     lambda: flows.AffineCoupling(flows.checkerboard_mask(3, 4), (16,)), (12,), "real"),
    ("reverse", lambda: flows.Reverse(), (5,), "real"),
    ("permute", lambda: flows.Permute((2, 0, 4, 1, 3)), (5,), "real"),
    ("dense_vector", lambda: flows.Dense(), (5,), "real"),
    ("dense_image_1x1", lambda: flows.Dense(), (2, 3, 4), "real"),
    ("logit_vector", lambda: flows.Logit(), (5,), "unit"),
    ("logit_image", lambda: flows.Logit(alpha=0.1), (2, 3), "unit"),
    ("flatten", lambda: flows.Flatten((2, 3, 2)), (2, 3, 2), "real"),
    ("reshape", lambda: flows.Reshape((2, 6), (3, 4)), (2, 6), "real"),
    ("chain_image", lambda: flows.Chain((
        flows.Logit(), flows.Dense(), flows.Flatten((2, 2, 3)),
        flows.AffineCoupling(flows.checkerboard_mask(2, 2, 3), (8,)), flows.Reverse(),
        flows.Chain((flows.ActNorm(), flows.Reverse()))),
    ), (2, 2, 3), "unit"),
    ("realnvp", lambda: flows.realnvp(3, num_layers=2, hidden_dims=(8, 8)), (3,), "real"),
]
CASE_IDS = [case[0] for case in CASES]
EXPECTED_DEPENDS = {
    "actnorm_vector": False, "actnorm_image": False, "coupling_tanh": True,
    "coupling_softplus": True, "coupling_checkerboard": True, "reverse": False,
    "permute": False, "dense_vector": False, "dense_image_1x1": False, "logit_vector": True,
    "logit_image": True, "flatten": False, "reshape": False, "chain_image": True,
    "realnvp": True,
}


@pytest.mark.parametrize("name,factory,event_shape,domain", CASES, ids=CASE_IDS)
def test_log_det_inverse_and_flag_in_float64(name, factory, event_shape, domain):
    bijector = factory()
    with jax.enable_x64(True):
        params = to_f64(make_params(bijector, event_shape, domain))
        xs = jnp.asarray(sample_inputs(1, (4,) + event_shape, domain), jnp.float64)
        latent = jax.eval_shape(bijector.forward, params, xs[0])
        zs = jnp.asarray(np.random.default_rng(2).standard_normal((4,) + latent.shape))
        dim = math.prod(event_shape)

        @jax.jit
        def check(x, z):
            fz, fwd_ld = bijector.forward_and_log_det(params, x)
            x_back, inv_ld = bijector.inverse_and_log_det(params, fz)
            z_back = bijector.forward(params, bijector.inverse(params, z))
            flat = lambda v: bijector.forward(params, v.reshape(event_shape)).reshape(-1)  # noqa: E731
            jac_ld = jnp.linalg.slogdet(jax.jacfwd(flat)(x.reshape(-1)))[1]
            grad_ld = jax.grad(lambda v: bijector.forward_and_log_det(params, v)[1])(x)
            return dict(fwd_ld=fwd_ld, jac_ld=jac_ld, x_back=x_back, inv_ld=inv_ld,
                        z_back=z_back, grad_ld=grad_ld, fz=fz)

        out = jax.vmap(check)(xs, zs)

    assert out["fz"].shape == (4,) + latent.shape
    assert latent.size == dim
    np.testing.assert_allclose(out["fwd_ld"], out["jac_ld"], rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(out["inv_ld"], -out["fwd_ld"], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(out["x_back"], xs, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(out["z_back"], zs, rtol=1e-9, atol=1e-9)
    # The flag is truthful: the log-det's gradient in x vanishes iff it says so.
    assert bijector.log_det_depends_on_x is EXPECTED_DEPENDS[name]
    if bijector.log_det_depends_on_x:
        assert np.max(np.abs(out["grad_ld"])) > 1e-3
    else:
        np.testing.assert_array_equal(out["grad_ld"], 0.0)
    if name not in ("reverse", "permute", "flatten", "reshape"):
        assert np.max(np.abs(out["fwd_ld"])) > 1e-3  # perturbed params: not a trivial check


class Float32Test(chex.TestCase):
    """Default-dtype behaviour under jit and without jit."""

    @chex.variants(with_jit=True, without_jit=True)
    @parameterized.named_parameters(
        *[(n, f, s, d) for n, f, s, d in CASES
          if n in ("actnorm_image", "dense_image_1x1", "logit_vector")])
    def test_round_trip_and_dtype(self, factory, event_shape, domain):
        bijector = factory()
        params = make_params(bijector, event_shape, domain)
        xs = sample_inputs(2, (16,) + event_shape, domain)
        fwd = self.variant(jax.vmap(bijector.forward_and_log_det, in_axes=(None, 0)))
        inv = self.variant(jax.vmap(bijector.inverse_and_log_det, in_axes=(None, 0)))
        z, fwd_ld = fwd(params, xs)
        x_back, inv_ld = inv(params, z)
        chex.assert_type([z, fwd_ld, x_back, inv_ld], jnp.float32)
        chex.assert_shape(fwd_ld, (16,))
        chex.assert_tree_all_finite((z, fwd_ld))
        np.testing.assert_allclose(x_back, xs, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(inv_ld, -fwd_ld, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("event_shape,axes", [((3,), (0,)), ((4, 5, 3), (0, 1, 2))])
def test_actnorm_init_standardizes_the_batch(event_shape, axes):
    scales = np.array([0.1, 2.0, 7.0])
    x = jnp.asarray(3.0 + scales * np.random.default_rng(0).standard_normal((256,) + event_shape),
                    jnp.float32)
    actnorm = flows.ActNorm()
    params = actnorm.init(jax.random.key(0), x)
    chex.assert_shape([params["loc"], params["log_scale"]], (3,))
    z = jax.vmap(actnorm.forward, in_axes=(None, 0))(params, x)
    np.testing.assert_allclose(jnp.mean(z, axis=axes), 0.0, atol=1e-5)
    np.testing.assert_allclose(jnp.var(z, axis=axes), 1.0, atol=1e-4)


def test_coupling_starts_as_identity_and_leaves_conditioning_half_alone():
    coupling = flows.AffineCoupling(flows.alternating_mask(6, 1))
    x = sample_inputs(0, (8, 6), "real")
    params = jax.jit(coupling.init)(jax.random.key(1), x)
    forward = jax.jit(jax.vmap(coupling.forward_and_log_det, in_axes=(None, 0)))
    z, log_det = forward(params, x)
    np.testing.assert_array_equal(z, x)
    np.testing.assert_array_equal(log_det, 0.0)
    z, _ = forward(perturb(params, 2), x)
    np.testing.assert_array_equal(z[:, 1::2], x[:, 1::2])  # mask == 1: conditioning dims
    assert np.min(np.abs(z[:, 0::2] - x[:, 0::2])) > 0


def test_coupling_log_scale_is_bounded():
    for scale_fn, low, high in [("tanh", -1.0, 1.0), ("softplus", math.log(1e-3), np.inf)]:
        coupling = flows.AffineCoupling((1, 0), (8,), scale_fn)
        params = jax.jit(coupling.init)(jax.random.key(0), jnp.zeros((1, 2)))
        params = perturb(params, 1, scale=1e3)  # drives the raw output far out
        if scale_fn == "tanh":
            params["log_scale_bound"] = jnp.ones(1)
        x = jnp.linspace(-50.0, 50.0, 101)[:, None] * jnp.ones(2)
        forward = jax.jit(jax.vmap(coupling.forward_and_log_det, in_axes=(None, 0)))
        _, log_det = forward(params, x)
        assert np.all(np.isfinite(log_det))
        assert np.all((log_det >= low) & (log_det <= high))


def test_masks():
    assert flows.alternating_mask(5, 0) == (1, 0, 1, 0, 1)
    assert flows.alternating_mask(4, 1) == (0, 1, 0, 1)
    assert flows.checkerboard_mask(2, 3) == (1, 0, 1, 0, 1, 0)
    assert flows.checkerboard_mask(2, 2, channels=2, parity=1) == (0, 0, 1, 1, 1, 1, 0, 0)


def test_permute_matches_indexing():
    x = jnp.arange(4.0)
    z, log_det = flows.Permute([3, 1, 0, 2]).forward_and_log_det({}, x)
    np.testing.assert_array_equal(z, [3.0, 1.0, 0.0, 2.0])
    assert log_det == 0.0
    np.testing.assert_array_equal(flows.Reverse().forward({}, x), [3.0, 2.0, 1.0, 0.0])


def test_logit_values_and_domain():
    x = jnp.array([0.0, 0.5, 1.0])
    z, log_det = flows.Logit(0.05).forward_and_log_det({}, x)
    u = 0.05 + 0.9 * np.array([0.0, 0.5, 1.0])
    np.testing.assert_allclose(z, np.log(u / (1 - u)), rtol=1e-6)
    np.testing.assert_allclose(log_det, np.sum(np.log(0.9 / (u * (1 - u)))), rtol=1e-6)
    assert np.isnan(flows.Logit(0.05).forward({}, jnp.array([1.2]))[0])  # documented domain


def test_dense_init_is_orthogonal():
    params = flows.Dense().init(jax.random.key(0), jnp.zeros((2, 7)))
    np.testing.assert_allclose(params["w"] @ params["w"].T, np.eye(7), atol=1e-5)
    np.testing.assert_array_equal(params["b"], 0.0)


def test_bijectors_are_hashable_and_static_under_jit():
    a = flows.AffineCoupling([1, 0, 1], [8])
    b = flows.AffineCoupling((1, 0, 1), (8,))
    assert a == b and hash(a) == hash(b)
    chain = flows.Chain([flows.ActNorm(), a, flows.Permute([2, 0, 1])])
    assert hash(chain) == hash(flows.Chain((flows.ActNorm(), b, flows.Permute((2, 0, 1)))))
    x = sample_inputs(0, (4, 3), "real")
    params = jax.jit(chain.init)(jax.random.key(1), x)
    apply = jax.jit(lambda bij, p, v: bij.forward_and_log_det(p, v), static_argnums=0)
    z, _ = apply(chain, params, x[0])
    np.testing.assert_allclose(z, chain.forward(params, x[0]), rtol=1e-6)


@pytest.mark.parametrize("make", [
    lambda: flows.Permute((0, 0, 1)),
    lambda: flows.AffineCoupling((1, 1, 1)),
    lambda: flows.AffineCoupling((1, 0), scale_fn="exp"),
    lambda: flows.AffineCoupling((1, 0), scale_fn="softplus", log_scale_bound=1.0),
    lambda: flows.AffineCoupling((1, 0), log_scale_bound=-1.0),
    lambda: flows.Logit(alpha=0.5),
    lambda: flows.Reshape((2, 3), (4,)),
    lambda: flows.realnvp(1),
])
def test_invalid_configurations_raise(make):
    with pytest.raises(ValueError):
        make()


def test_fixed_log_scale_bound_bounds_the_log_det():
    """A fixed tanh bound a: |log det| <= a * (number of transformed dims), however big r is."""
    coupling = flows.AffineCoupling((1, 0, 0), (8,), log_scale_bound=0.5)
    params = coupling.init(jax.random.key(0), jnp.ones((2, 3)))
    assert "log_scale_bound" not in params
    params = jax.tree.map(lambda p: p + 5.0, params)  # saturate the tanh
    _, log_det = coupling.forward_and_log_det(params, jnp.array([3.0, 1.0, -2.0]))
    assert 0.9 < abs(float(log_det)) <= 1.0
