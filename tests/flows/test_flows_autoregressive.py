"""MADE masks and masked autoregressive layers (MAF, IAF) against independent values.

The masks' connectivity (the product of the layers' masks) must be exactly "output i sees
input j iff j comes before i in the order"; a MADE with random weights must have a Jacobian
that is zero on and above the diagonal in that order. MAF and IAF are the same layer used
in the two directions. Round trips and log-dets against ``slogdet(jacfwd)`` are rows of
``test_flows_contract.py``.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from likelihood_jax import flows
from likelihood_jax.flows import autoregressive

ORDER = (2, 0, 3, 1)  # input 2 first, then 0, 3, 1


def _perturbed(params, key, scale=0.3):
    leaves, treedef = jax.tree.flatten(params)
    keys = jax.random.split(key, len(leaves))
    return jax.tree.unflatten(treedef, [p + scale * jax.random.normal(k, p.shape, p.dtype)
                                        for p, k in zip(leaves, keys)])


def _before(order):
    """``before[i, j]``: input j comes strictly before input i in ``order``."""
    rank = np.empty(len(order), int)
    rank[list(order)] = np.arange(len(order))
    return rank[None, :] < rank[:, None]


def test_mask_connectivity_is_exactly_the_autoregressive_order():
    masks = autoregressive.made_masks(ORDER, (5, 7), num_params=3)
    paths = masks[0] @ masks[1] @ masks[2]  # paths from input j to output (i, p)
    connected = paths.reshape(4, 4, 3).transpose(1, 2, 0) > 0  # [i, p, j]
    for p in range(3):
        np.testing.assert_array_equal(connected[:, p, :], _before(ORDER))


def test_made_jacobian_is_strictly_triangular_in_the_order():
    made = autoregressive.MADE(ORDER, (16, 16), num_params=2)
    x = jax.random.normal(jax.random.key(0), (4,))
    params = _perturbed(jax.jit(made.init)(jax.random.key(1), x), jax.random.key(2))
    jacobian = np.asarray(jax.jit(jax.jacfwd(made.apply, argnums=1))(params, x))  # [i, p, j]
    before = _before(ORDER)
    for p in range(2):
        np.testing.assert_array_equal(jacobian[:, p, :][~before], 0.0)
        assert np.all(np.abs(jacobian[:, p, :][before]) > 1e-6)  # and it uses what it may


def test_iaf_is_maf_in_the_other_direction_with_one_pass_for_sampling():
    """So the MAF rows of the contract table cover IAF's round trip and log-dets too."""
    maf = flows.MaskedAutoregressive((8,), "spline", num_bins=4, bound=2.0, order=ORDER)
    iaf = flows.InverseAutoregressive((8,), "spline", num_bins=4, bound=2.0, order=ORDER)
    x = jax.random.normal(jax.random.key(0), (4, 4))
    params = _perturbed(jax.jit(maf.init)(jax.random.key(1), x), jax.random.key(2))

    @jax.jit
    def directions(v):
        return (maf.forward_and_log_det(params, v), iaf.inverse_and_log_det(params, v),
                maf.inverse_and_log_det(params, v), iaf.forward_and_log_det(params, v))

    maf_fwd, iaf_inv, maf_inv, iaf_fwd = directions(x[0])
    for iaf_out, maf_out in ((iaf_inv, maf_fwd), (iaf_fwd, maf_inv)):
        np.testing.assert_allclose(iaf_out[0], maf_out[0], rtol=1e-6)
        np.testing.assert_allclose(iaf_out[1], maf_out[1], rtol=1e-5, atol=1e-6)
    # The fast direction is one MADE pass; the other a scan over the dimensions.
    for fn, scans in ((maf.forward, False), (maf.inverse, True), (iaf.inverse, False),
                      (iaf.forward, True)):
        assert ("scan" in str(jax.make_jaxpr(fn)(params, x[0]))) == scans


def test_the_flow_alternates_orders_and_puts_actnorm_first():
    body = flows.masked_autoregressive_flow(3, num_layers=3, hidden_dims=(8,),
                                            inverse_autoregressive=True)
    assert [type(layer).__name__ for layer in body.layers] == [
        "ActNorm", "InverseAutoregressive"] * 3
    assert [layer.order for layer in body.layers[1::2]] == [(0, 1, 2), (2, 1, 0), (0, 1, 2)]
    bare = flows.masked_autoregressive_flow(3, num_layers=2, actnorm=False)
    assert [type(layer).__name__ for layer in bare.layers] == ["MaskedAutoregressive"] * 2


@pytest.mark.parametrize("kwargs,match", [
    ({"transform": "cubic"}, "transform"),
    ({"hidden_dims": ()}, "hidden layer"),
    ({"num_bins": 0}, "num_bins"),
])
def test_bad_fields_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        flows.MaskedAutoregressive(**kwargs)


def test_an_order_that_does_not_fit_the_event_is_refused():
    layer = flows.MaskedAutoregressive((8,), order=(1, 0))
    with pytest.raises(ValueError, match="order"):
        layer.init(jax.random.key(0), jnp.zeros((2, 3)))
    with pytest.raises(ValueError, match="permutation"):
        autoregressive.made_masks((0, 0, 1), (4,), 2)
