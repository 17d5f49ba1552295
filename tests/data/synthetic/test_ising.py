"""Ising targets: enumeration against the transfer matrix and closed forms."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from likelihood_jax.data.synthetic import ising as dt


@pytest.mark.parametrize("shape,beta,field", [
    ((6,), 0.4, 0.3), ((2, 2), 0.44, 0.0), ((3, 4), 0.6, 0.0), ((4, 3), 0.3, 0.2)])
def test_enumeration_and_transfer_matrix_agree(shape, beta, field):
    with jax.enable_x64(True):
        model = dt.Ising(shape, beta, field=field)
        enum = dt.enumerate_exact(model)
        tm = dt.transfer_matrix_exact(model)
        assert set(tm) <= set(enum)
        if field == 0.0:
            assert "magnetization_sq" in tm
        for name, value in tm.items():
            np.testing.assert_allclose(value, enum[name], rtol=1e-9, atol=1e-10, err_msg=name)


def test_chain_partition_function_has_its_closed_form():
    """Periodic 1D chain at h = 0: Z = (2 cosh bJ)^N + (2 sinh bJ)^N."""
    with jax.enable_x64(True):
        for n, beta in [(3, 0.5), (8, 1.1), (30, 0.3)]:
            expected = math.log((2 * math.cosh(beta)) ** n + (2 * math.sinh(beta)) ** n)
            got = dt.transfer_matrix_exact(dt.Ising((n,), beta))["log_z"]
            np.testing.assert_allclose(got, expected, rtol=1e-12)
            if n <= 8:
                np.testing.assert_allclose(dt.enumerate_exact(dt.Ising((n,), beta))["log_z"],
                                           expected, rtol=1e-12)
        # nearest-neighbour correlation of the chain: (t + t^(N-1)) / (1 + t^N), t = tanh(bJ)
        n, beta = 8, 0.9
        t = math.tanh(beta)
        expected = (t + t ** (n - 1)) / (1 + t ** n)
        np.testing.assert_allclose(dt.transfer_matrix_exact(dt.Ising((n,), beta))
                                   ["nn_correlation"], expected, rtol=1e-10)


def test_large_lattice_log_z_matches_known_small_values():
    """8x8 at beta -> 0 reduces to D log 2; the TM runs where enumeration cannot."""
    out = dt.transfer_matrix_exact(dt.Ising((8, 8), 1e-6))
    np.testing.assert_allclose(out["log_z"], 64 * math.log(2), rtol=1e-5)
    hot = dt.transfer_matrix_exact(dt.Ising((8, 8), 0.44))
    assert 64 * math.log(2) < hot["log_z"] < 64 * math.log(2) + 0.44 * 128
    assert 0 < hot["nn_correlation"] < 1 and 0 < hot["magnetization_sq"] < 1


def test_log_prob_of_simple_configurations():
    model = dt.Ising((3, 3), 0.5, coupling=1.5, field=0.1)
    up = jnp.ones(9)
    np.testing.assert_allclose(model.log_prob_unnormalized(up), 0.5 * (1.5 * 18 + 0.1 * 9),
                               rtol=1e-6)
    checker = jnp.array([[1, -1, 1], [-1, 1, -1], [1, -1, 1]], jnp.float32)
    # 3x3 periodic: a checkerboard is frustrated on the wrap; count bonds by hand.
    bonds = sum(checker[i, j] * (checker[i, (j + 1) % 3] + checker[(i + 1) % 3, j])
                for i in range(3) for j in range(3))
    np.testing.assert_allclose(model.log_prob_unnormalized(checker),
                               0.5 * (1.5 * bonds + 0.1 * 1), rtol=1e-6)


def test_all_states_are_distinct_spins():
    states = np.asarray(dt.all_states(4))
    assert states.shape == (16, 4) and set(np.unique(states)) == {-1.0, 1.0}
    assert len({tuple(s) for s in states}) == 16
    np.testing.assert_array_equal(dt.tokens_to_spins(jnp.array([0, 1])), [-1.0, 1.0])


def test_bad_input_raises():
    with pytest.raises(ValueError, match="shape"):
        dt.Ising((2, 2, 2), 0.4)
    with pytest.raises(ValueError, match="beta"):
        dt.Ising((4,), 0.0)
    with pytest.raises(ValueError, match="configuration"):
        dt.Ising((2, 2), 0.4).log_prob_unnormalized(jnp.ones(5))
    with pytest.raises(ValueError, match="enumeration"):
        dt.enumerate_exact(dt.Ising((5, 5), 0.4))
    with pytest.raises(ValueError, match="transfer matrix"):
        dt.transfer_matrix_exact(dt.Ising((2, 13), 0.4))


def test_sampler_rows_are_zeros_of_the_requested_sizes():
    from likelihood_jax import data

    ds = data.load_dataset("ising", num_train=7, num_test=3)
    assert ds.train["x"].shape == (7, 1) and ds.test["x"].shape == (3, 1)
    assert not ds.train["x"].any()
    with pytest.raises(ValueError, match="num_train must be >= 1"):
        dt.load_sampler_rows("ising", num_train=0)
