"""Rational-quadratic splines: derivative, inverse and tails against independent values.

The log-derivative is checked against ``jax.jacfwd`` of the forward map, the closed-form
inverse against bisection on the forward map (monotone, so bisection converges to the one
root), and the knots against the definition (monotone edges from -B to B, unit boundary
derivatives). The coupling layer's contract (round trip, slogdet) is a row of
``test_flows_contract.py``.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from likelihood_jax import flows
from likelihood_jax.flows import splines

BOUND = 2.0
NUM_BINS = 6


def _params(seed, scale=2.0):
    shape = (splines.num_spline_params(NUM_BINS),)
    return scale * jax.random.normal(jax.random.key(seed), shape, jnp.float64)


def _bisection(f, y, lo, hi, iterations=80):
    """The x in [lo, hi] with f(x) = y for an increasing f (float64 bisection)."""
    def halve(_, bounds):
        lo, hi = bounds
        mid = 0.5 * (lo + hi)
        above = f(mid) > y
        return jnp.where(above, lo, mid), jnp.where(above, mid, hi)

    lo, hi = jax.lax.fori_loop(0, iterations, halve, (lo, hi))
    return 0.5 * (lo + hi)


@jax.jit
def _check(params, xs):
    forward = jax.vmap(splines.rational_quadratic_spline, in_axes=(0, None, None))
    inverse = jax.vmap(splines.inverse_rational_quadratic_spline, in_axes=(0, None, None))
    y, log_det = forward(xs, params, BOUND)
    slope = jax.vmap(jax.grad(lambda x: splines.rational_quadratic_spline(x, params,
                                                                          BOUND)[0]))(xs)
    back, inverse_log_det = inverse(y, params, BOUND)
    lo, hi = jnp.full_like(y, -3 * BOUND), jnp.full_like(y, 3 * BOUND)
    root = _bisection(lambda x: forward(x, params, BOUND)[0], y, lo, hi)
    # Gradients in the parameters, at points on the knots and on both tails.
    knots = splines.spline_knots(params, BOUND)
    points = jnp.concatenate([knots[0], jnp.asarray([-9.0, 9.0], xs.dtype)])
    param_grad = jax.grad(lambda p: jnp.sum(forward(points, p, BOUND)[1])
                          + jnp.sum(inverse(points, p, BOUND)[1]))(params)
    return y, log_det, slope, back, inverse_log_det, root, knots, param_grad


# Points inside [-B, B], on both tails, exactly on the bounds, and next to them.
EPS = 1e-12
XS = np.concatenate([np.linspace(-1.99, 1.99, 41), [-5.0, -2.5, -BOUND, BOUND, 2.5, 5.0],
                     [-BOUND + EPS, BOUND - EPS]])


@pytest.mark.parametrize("seed,scale", [(0, 2.0), (1, 5.0)])
def test_spline_log_det_inverse_and_tails_match_independent_values(seed, scale):
    with jax.enable_x64(True):
        y, log_det, slope, back, inverse_log_det, root, knots, param_grad = _check(
            _params(seed, scale), jnp.asarray(XS))
        assert np.all(np.diff(np.asarray(y)[:41]) > 0), "the spline must increase"
        np.testing.assert_allclose(log_det, np.log(slope), atol=1e-10)  # autodiff
        np.testing.assert_allclose(root, XS, atol=1e-10)  # bisection on the forward map
        np.testing.assert_allclose(back, XS, atol=1e-10)  # the closed-form root
        np.testing.assert_allclose(inverse_log_det, -log_det, atol=1e-10)
        tails = np.abs(XS) > BOUND
        np.testing.assert_array_equal(np.asarray(y)[tails], XS[tails])  # identity tails
        np.testing.assert_array_equal(np.asarray(log_det)[tails], 0.0)
        # The derivative is continuous at the bounds: 1 just inside, as on the tails.
        np.testing.assert_allclose(slope[-2:], 1.0, atol=1e-6)
        xs, ys, ds = knots
        for edges in (xs, ys):  # from -B to B, each bin at least min_bin_width * 2B
            assert edges[0] == -BOUND and edges[-1] == BOUND
            assert np.all(np.diff(edges) >= splines.MIN_BIN_WIDTH * 2 * BOUND * (1 - 1e-9))
        assert ds[0] == 1.0 and ds[-1] == 1.0 and np.all(ds > splines.MIN_DERIVATIVE)
        assert np.all(np.isfinite(param_grad))


def test_zero_parameters_give_the_identity_so_a_coupling_starts_as_the_identity():
    layer = flows.SplineCoupling((1, 0, 0), (8,), num_bins=4)
    x = jax.random.normal(jax.random.key(0), (4, 3))
    xs = jnp.linspace(-4.0, 4.0, 33)

    @jax.jit
    def identity_check(x, xs):
        spline = splines.elementwise_spline(xs, jnp.zeros((33, splines.num_spline_params(4))),
                                            3.0)
        return spline, layer.forward_and_log_det(layer.init(jax.random.key(1), x), x[0])

    (y, log_det), (z, layer_log_det) = identity_check(x, xs)
    np.testing.assert_allclose(y, xs, atol=1e-5)
    np.testing.assert_allclose(z, x[0], atol=1e-5)
    np.testing.assert_allclose([log_det, layer_log_det], 0.0, atol=1e-5)


@pytest.mark.parametrize("kwargs,match", [
    ({"mask": (1, 1)}, "both zeros and ones"),
    ({"mask": (1, 0), "num_bins": 0}, "num_bins"),
    ({"mask": (1, 0), "bound": 0.0}, "bound"),
])
def test_spline_coupling_names_a_bad_field(kwargs, match):
    with pytest.raises(ValueError, match=match):
        flows.SplineCoupling(**kwargs)


def test_spline_params_of_the_wrong_length_are_refused():
    with pytest.raises(ValueError, match="3K - 1"):
        splines.spline_knots(jnp.zeros((7,)), 1.0)
