"""Deep Boltzmann machines [P139]: enumeration, gradients, the unbiased phases and AIS."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from likelihood_jax.energy import boltzmann as bm

SIZES = (6, 4, 3)
Z_MAX = 4.5  # |z| bound shared by a few dozen simultaneous z-tests (two-sided p ~ 7e-6 each)


@functools.lru_cache(maxsize=None)
def _params(scale=0.7):
    key = jax.random.key(0)
    params = bm.init_params(key, *SIZES, scale=scale)
    return {k: v + 0.3 * jax.random.normal(jax.random.fold_in(key, i), v.shape)
            for i, (k, v) in enumerate(params.items())}


def _joint(params):
    """Every joint state, its probability (brute force over 2^13 states) and statistics."""
    bits = bm.binary_states(sum(SIZES))
    v, h1, h2 = np.split(np.asarray(bits), np.cumsum(SIZES)[:2], axis=1)
    w1, w2 = np.asarray(params["weight_vh1"]), np.asarray(params["weight_h1h2"])
    minus_energy = (v @ np.asarray(params["bias_v"]) + h1 @ np.asarray(params["bias_h1"])
                    + h2 @ np.asarray(params["bias_h2"]) + np.sum((v @ w1) * h1, 1)
                    + np.sum((h1 @ w2) * h2, 1)).astype(np.float64)
    log_z = np.logaddexp.reduce(minus_energy)
    stats = {"bias_v": v, "bias_h1": h1, "bias_h2": h2,
             "weight_vh1": np.einsum("ni,nj->nij", v, h1),
             "weight_h1h2": np.einsum("ni,nj->nij", h1, h2)}
    return v, minus_energy, log_z, stats


def _expect(weights, stats):
    weights = weights / weights.sum()
    return {k: np.tensordot(weights, s, 1) for k, s in stats.items()}


def test_energy_statistics_and_conditionals_agree_with_brute_force():
    params = _params()
    v, minus_energy, log_z, stats = _joint(params)
    states = bm.DBMState(*map(jnp.asarray, np.split(np.asarray(bm.binary_states(13)),
                                                      np.cumsum(SIZES)[:2], axis=1)))
    energies = jax.vmap(bm.energy, (None, 0))(params, states)
    np.testing.assert_allclose(-energies, minus_energy, rtol=1e-5, atol=1e-4)
    by_stats = jax.vmap(lambda s: bm.energy_from_statistics(params, s))(
        jax.vmap(bm.sufficient_statistics)(states))
    np.testing.assert_allclose(by_stats, energies, rtol=1e-5, atol=1e-4)
    state = jax.tree.map(lambda a: a[1234], states)
    # E is linear in each unit, so the logit E(unit off) - E(unit on) is -dE/dx_unit.
    grads = jax.grad(lambda st: bm.energy(params, st))(state)
    for logit, grad in zip(bm.conditional_logits(params, state), grads):
        np.testing.assert_allclose(logit, -grad, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(bm.log_partition(params), log_z, rtol=1e-5)


def test_log_likelihood_gradient_is_positive_minus_negative_phase():
    params = _params()
    v_all, minus_energy, log_z, stats = _joint(params)
    data = jnp.asarray([[1, 0, 1, 1, 0, 0], [0, 0, 0, 1, 1, 1], [1, 1, 1, 1, 1, 1]], jnp.float32)
    brute_ll = [np.logaddexp.reduce(minus_energy[np.all(v_all == np.asarray(d), 1)]) - log_z
                for d in data]
    np.testing.assert_allclose(bm.log_likelihood(params, data), brute_ll, rtol=1e-5, atol=1e-5)
    grad = jax.jit(jax.grad(lambda p: jnp.mean(bm.log_likelihood(p, data))))(params)
    negative = _expect(np.exp(minus_energy - log_z), stats)
    for k in bm.PARAM_NAMES:
        positive = np.mean([_expect(np.exp(minus_energy) * np.all(v_all == np.asarray(d), 1),
                                    stats)[k] for d in data], axis=0)
        np.testing.assert_allclose(grad[k], positive - negative[k], rtol=1e-4, atol=1e-5)


def _z_scores(samples, exact):
    out = []
    for k in bm.PARAM_NAMES:
        values = np.asarray(samples[k], np.float64)
        se = values.std(0) / np.sqrt(len(values))
        diff = values.mean(0) - exact[k]
        sure = se < 1e-9  # a constant statistic (a clamped unit): must be exact
        np.testing.assert_allclose(diff[sure], 0.0, atol=1e-6)
        out.append(np.abs(diff[~sure] / se[~sure]))
    return np.concatenate(out)


@pytest.mark.nightly
def test_unbiased_mh_negative_phase_matches_enumeration():
    """[P139]: the mean of the coupled-MH estimator over seeds is the exact E_model[s].

    Nightly: the default tier checks both phases together through the experiment's loss
    (tests/experiments/test_unbiased_dbm.py, the gradient z-test)."""
    params = _params()
    _, minus_energy, log_z, stats = _joint(params)
    keys = jax.random.split(jax.random.key(1), 1500)
    free = jax.jit(jax.vmap(lambda k: bm.unbiased_statistics(k, params, max_iterations=2000)))(keys)
    assert bool(jnp.all(free.met))
    assert np.max(_z_scores(free.estimate, _expect(np.exp(minus_energy - log_z), stats))) < Z_MAX
    # The chains usually meet at once (the leading chain rejects its first proposal).
    assert float(jnp.mean(free.meeting_time == 1)) > 0.5


@pytest.mark.nightly
def test_unbiased_mh_positive_phase_matches_enumeration():
    params = _params()
    v_all, minus_energy, _, stats = _joint(params)
    visible = jnp.asarray([1, 0, 1, 1, 0, 0], jnp.float32)
    keys = jax.random.split(jax.random.key(1), 3000)
    est = jax.jit(jax.vmap(lambda k: bm.unbiased_statistics(k, params, visible,
                                                            max_iterations=2000)))(keys)
    assert bool(jnp.all(est.met))
    clamped = np.exp(minus_energy) * np.all(v_all == np.asarray(visible), 1)
    assert np.max(_z_scores(est.estimate, _expect(clamped, stats))) < Z_MAX


@pytest.mark.nightly
def test_unbiased_gibbs_coupling_matches_enumeration():
    params = _params()
    _, minus_energy, log_z, stats = _joint(params)
    keys = jax.random.split(jax.random.key(2), 3000)
    est = jax.jit(jax.vmap(lambda k: bm.unbiased_statistics(k, params, coupling_kind="gibbs",
                                                             max_iterations=2000)))(keys)
    assert bool(jnp.all(est.met))
    assert np.max(_z_scores(est.estimate, _expect(np.exp(minus_energy - log_z), stats))) < Z_MAX


def test_local_mode_is_a_fixed_point_of_zero_temperature_updates():
    params = _params(scale=2.0)
    start = bm.random_state(jax.random.key(3), SIZES)
    mode = bm.local_mode(params, start, even_first=True)
    logits = bm.conditional_logits(params, mode)
    for layer, logit in zip(mode, logits):
        np.testing.assert_array_equal(layer, (logit >= 0).astype(jnp.float32))
    assert float(bm.energy(params, mode)) <= float(bm.energy(params, start))


@pytest.mark.nightly  # 5-25 s on 2 loaded cores: kept out of the default tier's budget
def test_ais_log_partition_matches_enumeration():
    params = _params()
    result = bm.ais_log_partition(jax.random.key(4), params, num_chains=100, num_betas=100)
    assert abs(float(result.log_normalizer) - float(bm.log_partition(params))) < 0.03


@pytest.mark.nightly
def test_ais_is_unbiased_in_z():
    """Two temperatures: plain importance sampling from the uniform law, E[Zhat] = Z exactly."""
    params = _params()
    coarse = bm.ais_log_partition(jax.random.key(5), params, num_chains=4000, num_betas=2)
    ratio = np.exp(np.asarray(coarse.log_weights, np.float64) + 13 * np.log(2.0)
                   - float(bm.log_partition(params)))
    z = (ratio.mean() - 1.0) / (ratio.std() / np.sqrt(len(ratio)))
    assert abs(z) < Z_MAX, z


def test_bad_arguments_are_refused():
    params = _params()
    with pytest.raises(ValueError, match="coupling_kind"):
        bm.unbiased_statistics(jax.random.key(0), params, coupling_kind="hmc")
    with pytest.raises(ValueError, match="params"):
        bm.layer_sizes({"bias_v": jnp.zeros(3)})
    with pytest.raises(ValueError, match="weight_vh1"):
        bm.layer_sizes({**params, "weight_vh1": jnp.zeros((5, 4))})
    with pytest.raises(ValueError, match="betas"):
        bm.ais_log_partition(jax.random.key(0), params, num_betas=1)
