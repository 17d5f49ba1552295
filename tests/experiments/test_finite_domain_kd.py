"""Finite-domain transfer [P050]: the closed-form learners against direct minimization of the
library losses, the Monte Carlo risk against an analytic value, the rates on the paper's
instances, bad configs; the harness (tests/test_experiments_e2e.py) runs the runlocal
config and calls check_runlocal."""

import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.optimize

from experiments.finite_domain_kd import simulation as sim
from experiments.finite_domain_kd.experiment import FiniteDomainKD
from likelihood_jax.main import load_config
from likelihood_jax.sequence import distillation as kd
from tests.clitools import REPO, eval_lines

CONFIG = os.path.join(REPO, "experiments", "finite_domain_kd", "configs", "simulation.py")


def get_config(mode="runlocal"):
    return load_config(f"{CONFIG}:{mode}")


@pytest.mark.parametrize("learner", sim.LEARNERS)
def test_closed_forms_minimize_the_empirical_library_losses(learner):
    """With every (s, a) seen, each closed form is the argmin of its empirical loss."""
    rng = np.random.default_rng(0)
    num_s, num_a = 2, 3
    pi = rng.dirichlet(np.ones(num_a), num_s)
    counts = rng.integers(1, 6, (num_s, num_a)).astype(np.float64)
    s, a = np.nonzero(counts)
    weight = counts[s, a]
    teacher = jnp.asarray(np.log(pi)[s])

    def objective(flat):
        logits = flat.reshape(num_s, num_a)[s]
        return jnp.sum(kd.privilege_level_loss(learner, logits, jnp.asarray(a), teacher,
                                               jnp.asarray(weight)))

    with jax.enable_x64(True):
        vg = jax.jit(jax.value_and_grad(objective))
        res = scipy.optimize.minimize(
            lambda x: tuple(np.asarray(v, np.float64) for v in vg(jnp.asarray(x))),
            np.zeros(num_s * num_a), jac=True, method="L-BFGS-B",
            options={"gtol": 1e-12, "ftol": 1e-15})
    z = res.x.reshape(num_s, num_a)
    q = np.exp(z - z.max(-1, keepdims=True))
    q /= q.sum(-1, keepdims=True)
    np.testing.assert_allclose(q, sim.closed_form(learner, counts, pi), atol=1e-5)


def test_closed_forms_inductive_bias_on_unseen_inputs_and_labels():
    pi = np.array([[0.5, 0.3, 0.2, 0.0], [0.25, 0.25, 0.25, 0.25]])
    counts = np.array([[3, 1, 0, 0], [0, 0, 0, 0]])
    np.testing.assert_allclose(sim.closed_form("sel_ptl", counts, pi)[0], [0.5, 0.3, 0.1, 0.1])
    np.testing.assert_allclose(sim.closed_form("ce_ptl", counts, pi)[0],
                               [1.5 / 1.8, 0.3 / 1.8, 0, 0])
    np.testing.assert_allclose(sim.closed_form("ce_sgl", counts, pi)[0], [0.75, 0.25, 0, 0])
    for learner in sim.LEARNERS:
        np.testing.assert_allclose(sim.closed_form(learner, counts, pi)[1], 0.25)  # unseen s
    rho = np.array([0.6, 0.4])
    est = sim.closed_form("ce_sgl", counts, pi)
    np.testing.assert_allclose(sim.tv_risk(est, pi, rho), 0.6 * 0.5 * (0.25 + 0.05 + 0.2))


def test_soft_label_risk_matches_the_missing_mass_formula():
    """E TV(ce_ful) = sum_s rho(s) (1 - rho(s))^n TV(Uniform, pi*(. | s)), exactly."""
    rho, pi = sim.make_teacher("instance3", 5, 5, n=60)
    n, repeats = 60, 20000
    counts = sim.sample_counts(np.random.default_rng(0), rho, pi, n, repeats)
    risk = sim.tv_risk(sim.closed_form("ce_ful", counts, pi), pi, rho)
    exact = np.sum(rho * (1 - rho) ** n * 0.5 * np.abs(0.2 - pi).sum(-1))
    assert abs(risk.mean() - exact) < 4 * risk.std() / np.sqrt(repeats)
    assert exact > 1e-3


def test_minimax_learners_decay_at_the_stated_rates_and_naive_ce_is_biased():
    ns = (300, 1000, 3000, 10000)
    hard = sim.rate_sweep("instance1", 6, 6, ns, 400, seed=1)
    partial = sim.rate_sweep("instance2", 6, 7, ns, 400, seed=2)
    soft = sim.rate_sweep("instance3", 6, 7, ns, 400, seed=3)
    assert abs(hard["slope"]["ce_sgl"] + 0.5) < 0.08  # sqrt(|S||A| / n)
    assert abs(partial["slope"]["sel_ptl"] + 1.0) < 0.1  # |S||A| / n
    assert abs(soft["slope"]["ce_ful"] + 1.0) < 0.15  # |S| / n
    random = sim.rate_sweep("random", 6, 6, ns, 200, seed=4)
    assert random["risk"]["ce_ptl"][-1] > 0.1  # asymptotically biased
    assert random["risk"]["ce_sgl"][-1] < random["risk"]["ce_ptl"][-1] / 2
    assert random["risk"]["sel_ptl"][-1] < 1e-3


def test_teachers_are_distributions_and_bad_configs_are_refused():
    for kind in sim.KINDS:
        rho, pi = sim.make_teacher(kind, 4, 5, n=500)
        np.testing.assert_allclose(pi.sum(-1), 1.0)
        np.testing.assert_allclose(rho.sum(), 1.0)
        assert pi.min() >= 0 and rho.min() > 0
    with pytest.raises(ValueError, match="teacher kind"):
        sim.make_teacher("instance9", 3, 3)
    with pytest.raises(ValueError, match="instance2 needs"):
        sim.make_teacher("instance2", 10, 11, n=10)
    bad = get_config()
    bad.objective.name = "mle"
    with pytest.raises(ValueError, match="objective"):
        FiniteDomainKD(bad)
    bad = get_config()
    bad.batch_size = 7
    with pytest.raises(ValueError, match="batch_size"):
        FiniteDomainKD(bad)


def check_runlocal(workdir: str) -> None:
    """The harness's sel_ptl run: the loop's student against the closed form, the sweep."""
    config = get_config()
    assert config.objective.name == "sel_ptl"
    final = eval_lines(workdir)[-1]
    # The loop's student approaches the paper's closed-form estimator on the same sample.
    assert final["tv_gap"] < 0.05
    assert abs(final["tv"] - final["tv_closed_form"]) < 0.03
    with open(os.path.join(workdir, "rates.json")) as f:
        rates = json.load(f)
    assert [r["kind"] for r in rates] == list(config.sweep.kinds)
    assert len(rates[0]["risk"]["ce_sgl"]) == len(config.sweep.ns)


def test_registered_dataset_samples_the_teacher_of_its_options():
    from likelihood_jax import data as data_lib
    from likelihood_jax.data.synthetic import finite_domain

    options = {"kind": "instance2", "num_s": 4, "num_a": 5, "n": 300, "data_seed": 2}
    ds = data_lib.load_dataset("finite_domain", **options)
    rho, pi = finite_domain.dataset_teacher(**options)
    np.testing.assert_array_equal(pi, sim.make_teacher("instance2", 4, 5, n=300)[1])
    direct = finite_domain.sample_dataset(rho, pi, 300, seed=2)
    np.testing.assert_array_equal(ds.train["s"], direct.train["s"])
    np.testing.assert_array_equal(ds.train["a"], direct.train["a"])
    np.testing.assert_allclose(ds.test["rho"], rho)
    # Samples follow rho(s) pi*(a | s): no zero-mass cell is ever drawn.
    assert np.all(pi[ds.train["s"], ds.train["a"]] > 0)
    with pytest.raises(TypeError, match="no option"):
        finite_domain.dataset_teacher(bogus=1)
