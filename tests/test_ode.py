"""CNF likelihoods and samples against closed forms on Gaussians (float64)."""

import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg
import scipy.stats

from likelihood_jax import metrics, ode
from likelihood_jax import sde as sde_lib

RNG = np.random.default_rng(0)
_A = RNG.normal(size=(3, 3))
COV = _A @ _A.T + 0.5 * np.eye(3)
MEAN = RNG.normal(size=3)
ROOT = scipy.linalg.sqrtm(COV).real  # the Brenier map N(0, I) -> N(MEAN, COV) is MEAN + ROOT z


def mccann_field(t, x):
    """Velocity of the displacement interpolation x_t = ((1-t) I + t ROOT) z + t MEAN."""
    m_t = (1.0 - t) * jnp.eye(3) + t * ROOT
    return (ROOT - jnp.eye(3)) @ jnp.linalg.solve(m_t, x - t * MEAN) + MEAN


def true_log_prob(x):
    return scipy.stats.multivariate_normal(MEAN, COV).logpdf(np.asarray(x))


class CNFLogProbTest(chex.TestCase):

    @chex.variants(with_jit=True, without_jit=True)
    def test_exact_divergence_gives_the_gaussian_log_density(self):
        with jax.enable_x64(True):
            x = jnp.asarray(RNG.normal(size=3) + MEAN)
            fn = self.variant(lambda y: ode.cnf_log_prob(mccann_field, y, rtol=1e-9, atol=1e-9))
            log_prob, stats = fn(x)
            np.testing.assert_allclose(log_prob, true_log_prob(x), rtol=0, atol=1e-7)
            # The latent is the inverse Brenier map of x.
            np.testing.assert_allclose(stats["latent"], np.linalg.solve(ROOT, x - MEAN),
                                       atol=1e-7)
            assert stats["success"] and stats["nfe"] > 0


def test_hutchinson_average_is_unbiased_for_the_log_density():
    with jax.enable_x64(True):
        x = jnp.asarray(MEAN + 0.3)
        keys = jax.random.split(jax.random.key(0), 300)
        estimates = jax.jit(jax.vmap(lambda k: ode.cnf_log_prob(
            mccann_field, x, key=k, rtol=1e-6, atol=1e-6)[0]))(keys)
        stderr = float(np.std(estimates) / math.sqrt(len(keys)))
        assert stderr > 0  # a real estimator, not the exact trace
        assert abs(float(np.mean(estimates)) - true_log_prob(x)) < 4 * stderr + 1e-6
        # More probes per evaluation: lower variance, same mean.
        many = jax.jit(jax.vmap(lambda k: ode.cnf_log_prob(
            mccann_field, x, key=k, num_probes=8, probe="gaussian", rtol=1e-6,
            atol=1e-6)[0]))(keys[:100])
        assert abs(float(np.mean(many)) - true_log_prob(x)) < 4 * float(
            np.std(many) / 10) + 1e-6


def test_vmapped_batch_and_sample_round_trip():
    with jax.enable_x64(True):
        z = jnp.asarray(RNG.normal(size=(5, 3)))
        x, stats = jax.jit(jax.vmap(lambda v: ode.cnf_sample(
            mccann_field, v, path_energy=True, rtol=1e-9, atol=1e-9)))(z)
        np.testing.assert_allclose(x, MEAN + z @ ROOT.T, atol=1e-7)
        # Straight constant-speed paths: energy = |T(z) - z|^2 (the OT cost).
        np.testing.assert_allclose(stats["path_energy"], np.sum((x - z) ** 2, -1), rtol=1e-6)
        log_prob, back = jax.vmap(lambda v: ode.cnf_log_prob(
            mccann_field, v, rtol=1e-9, atol=1e-9))(x)
        np.testing.assert_allclose(back["latent"], z, atol=1e-6)
        np.testing.assert_allclose(log_prob, true_log_prob(x), atol=1e-6)
        assert stats["nfe"].shape == (5,)


def test_fixed_step_solvers_count_their_evaluations():
    def field(t, x):
        return -x

    x, stats = ode.cnf_sample(field, jnp.ones(2), solver="euler", num_steps=10)
    np.testing.assert_allclose(x, (1 - 0.1) ** 10 * np.ones(2), rtol=1e-6)
    assert int(stats["nfe"]) == 10
    _, stats = ode.cnf_sample(field, jnp.ones(2), solver="heun", num_steps=10)
    assert int(stats["nfe"]) == 20
    # Tsit5 on a fixed grid: 6 new stages per step (FSAL) + the first one.
    _, stats = ode.cnf_sample(field, jnp.ones(2), solver="tsit5", num_steps=4)
    assert int(stats["nfe"]) == 4 * 6 + 1


def test_time_direction_is_configurable():
    """Diffusion convention: data at t=0, base at t=1 (the field is reversed in time)."""
    with jax.enable_x64(True):
        x = jnp.asarray(MEAN - 0.2)

        def reversed_field(t, y):
            return -mccann_field(1.0 - t, y)

        log_prob, _ = ode.cnf_log_prob(reversed_field, x, t_data=0.0, t_base=1.0, rtol=1e-9,
                                       atol=1e-9)
        np.testing.assert_allclose(log_prob, true_log_prob(x), atol=1e-7)


def test_bad_options_raise():
    with pytest.raises(ValueError, match="Unknown ODE solver"):
        ode.cnf_sample(lambda t, x: x, jnp.ones(2), solver="rk4")
    with pytest.raises(ValueError, match="fixed step size"):
        ode.cnf_sample(lambda t, x: x, jnp.ones(2), solver="euler")
    with pytest.raises(ValueError, match="probe"):
        ode.cnf_log_prob(lambda t, x: x, jnp.ones(2), key=jax.random.key(0), probe="sphere")


# -- Probability-flow ODE of a diffusion with the analytic score of Gaussian data ----------

DATA_MEAN = np.array([0.5, -1.0])
DATA_VAR = np.array([1.0, 0.3])


def _diffused(sde, t):
    alpha, sigma = sde.marginal(t)
    return alpha * DATA_MEAN, alpha**2 * DATA_VAR + sigma**2


def gaussian_score(sde):
    def score(t, x):
        mean, var = _diffused(sde, t)
        return -(x - mean) / var
    return score


def diffused_log_prob(sde, t):
    def log_prob(x):
        mean, var = _diffused(sde, t)
        return jnp.sum(-0.5 * (x - mean) ** 2 / var - 0.5 * jnp.log(2 * jnp.pi * var))
    return log_prob


@pytest.mark.parametrize("sde", [sde_lib.VPSDE(), sde_lib.SubVPSDE(),
                                 sde_lib.VESDE(sigma_min=0.01, sigma_max=10.0)],
                         ids=["vp", "subvp", "ve"])
def test_probability_flow_nll_with_the_true_score_is_the_true_nll(sde):
    with jax.enable_x64(True):
        x = jnp.asarray(np.random.default_rng(1).normal(size=(4, 2)) * np.sqrt(DATA_VAR)
                        + DATA_MEAN)
        t_min = 1e-5
        exact_prior = diffused_log_prob(sde, sde.T)
        log_prob, stats = jax.jit(jax.vmap(lambda v: ode.probability_flow_log_prob(
            sde, gaussian_score(sde), v, t_min=t_min, prior_log_prob=exact_prior,
            rtol=1e-7, atol=1e-7)))(x)
        expected = jax.vmap(diffused_log_prob(sde, t_min))(x)
        np.testing.assert_allclose(log_prob, expected, atol=1e-5)
        # The SDE's own prior N(0, prior_std^2 I) is only approximately p_T.
        approx, _ = jax.jit(jax.vmap(lambda v: ode.probability_flow_log_prob(
            sde, gaussian_score(sde), v, t_min=t_min, rtol=1e-5, atol=1e-5)))(x)
        np.testing.assert_allclose(approx, expected, atol=0.2)


def test_probability_flow_bits_per_dim_uses_the_metrics_convention():
    with jax.enable_x64(True):
        sde = sde_lib.VPSDE()
        y = jnp.asarray([0.3, 0.7])
        bpd, stats = ode.probability_flow_bits_per_dim(sde, gaussian_score(sde), y,
                                                       num_levels=17)
        np.testing.assert_allclose(
            bpd, metrics.dequantized_bits_per_dim(stats["log_prob"], 2, num_levels=17))
        np.testing.assert_allclose(bpd, (-stats["log_prob"] + 2 * math.log(17)) /
                                   (2 * math.log(2)))
