"""i-DODE experiment: evaluation against closed forms, config checks; the runlocal run's
metrics (``check_runlocal``); fine-tuning, the baseline and mnist5k runlocal (nightly)."""

import math
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.idode.experiment import IDODE
from likelihood_jax import data
from likelihood_jax.main import load_config
from likelihood_jax.train import train_and_evaluate
from tests.clitools import REPO, checkpoint_steps, eval_lines, train_lines

CONFIGS = os.path.join(REPO, "experiments", "idode", "configs")


def get_config(name="digits", arg="runlocal"):
    return load_config(os.path.join(CONFIGS, f"{name}.py:{arg}"))


def test_zero_velocity_model_has_closed_form_bits_per_dim():
    """F = 0 makes the score -x, p_t = N(0, I) for all t and the ODE the identity.

    Then log p_0 = log N(0, I) at the dequantized point, and both bits/dim have closed
    forms in expectation over the dequantization noise.
    """
    config = get_config()
    config.eval.divergence = "exact"
    experiment = IDODE(config)
    x = np.asarray(experiment.dataset.test["x"])
    params = experiment.init_params(jax.random.key(0), {"x": x[:1]})
    params = jax.tree.map(jnp.zeros_like, params)
    out = jax.jit(experiment.eval_fn)(params, {"x": jnp.asarray(x)}, jax.random.key(1))
    k = x.reshape(x.shape[0], -1).astype(np.float64)
    d, levels = k.shape[1], 17
    half_log_2pi = 0.5 * math.log(2 * math.pi)
    # Uniform: y = 2 (k + u) / L - 1, E[y^2] = c^2 + (2 / L)^2 / 12.
    c = 2 * (k + 0.5) / levels - 1
    nll_u = 0.5 * np.sum(c**2 + (2 / levels) ** 2 / 12, axis=1) + d * half_log_2pi
    bpd_u = (nll_u - d * math.log(2 / levels)) / (d * math.log(2))
    assert float(jnp.mean(out["bpd_uniform"])) == pytest.approx(bpd_u.mean(), abs=2e-3)
    # Truncated normal: z = alpha_0 c + sigma_0 eps; E[eps^2] = 1 - 2 tau phi(tau) / Z.
    alpha0, sigma0 = (float(v) for v in experiment.sde.marginal(0.0))
    tau = alpha0 / (sigma0 * levels)
    z_norm = math.erf(tau / math.sqrt(2))
    phi = math.exp(-0.5 * tau**2) / math.sqrt(2 * math.pi)
    e_eps2 = 1 - 2 * tau * phi / z_norm
    nll_tn = 0.5 * np.sum(alpha0**2 * c**2 + sigma0**2 * e_eps2, axis=1) + d * half_log_2pi
    entropy = d * (0.5 * math.log(2 * math.pi * math.e) + math.log(sigma0 * z_norm)
                   - tau * phi / z_norm)
    bpd_tn = (nll_tn - entropy) / (d * math.log(2))
    # Per example the cross term alpha_0 sigma_0 sum c eps (mean 0) adds ~3e-3 bits/dim.
    np.testing.assert_allclose(np.asarray(out["bpd_tn"]), bpd_tn, atol=1.5e-2)
    assert float(jnp.mean(out["bpd_tn"])) == pytest.approx(bpd_tn.mean(), abs=2e-3)
    np.testing.assert_allclose(out["bits_per_dim"], out["bpd_tn"])


def test_bad_configs_raise():
    config = get_config()
    config.idode.objective = "score"
    with pytest.raises(ValueError, match="idode.objective"):
        IDODE(config)
    config = get_config(arg="runlocal,noise")
    config.idode.t_sampling = "importance"
    with pytest.raises(ValueError, match="importance sampling"):
        IDODE(config)
    config = get_config()
    config.eval.num_examples = 10_000
    experiment = IDODE(config)  # the data is checked when first loaded
    assert experiment._dataset is None and experiment._model is None
    with pytest.raises(ValueError, match="exceeds"):
        experiment.dataset
    with pytest.raises(ValueError, match="unknown method"):
        get_config(arg="runlocal,vdm")
    toy = data.load_dataset("moons")
    with pytest.raises(ValueError, match="discrete image"):
        IDODE(get_config(), dataset=toy).dataset


def check_runlocal(workdir: str) -> None:
    """The harness's runlocal run (digits, i-DODE): both dequantizations scored, tn headline."""
    last = _check_outputs(workdir)
    assert last["bits_per_dim"] == last["bpd_tn"]


def _check_outputs(workdir) -> dict:
    last = eval_lines(workdir)[-1]
    for name in ("bits_per_dim", "bpd_uniform", "bpd_tn", "nfe_uniform", "nfe_tn"):
        assert np.isfinite(last[name]), name
    assert last["nfe"] > 0
    assert os.path.getsize(os.path.join(workdir, "samples.png")) > 1000
    return last


def _check_run(config, workdir):
    metrics_ = train_and_evaluate(IDODE(config), str(workdir))
    train = train_lines(workdir)
    assert train[-1]["loss"] < train[0]["loss"]
    last = _check_outputs(workdir)
    for name in ("bits_per_dim", "bpd_uniform", "bpd_tn", "nfe_uniform", "nfe_tn"):
        assert last[name] == pytest.approx(metrics_[name])
    assert checkpoint_steps(workdir)[-1] == config.total_steps
    return metrics_


@pytest.mark.nightly
def test_digits_runlocal_idode_then_finetune(tmp_path):
    config = get_config()
    _check_run(config, tmp_path / "idode")
    tune = get_config(arg="runlocal,finetune")
    assert tune.idode.second_order_weight > 0
    tune.idode.init_from = str(tmp_path / "idode")
    experiment = IDODE(tune)
    batch = {"x": experiment.dataset.train["x"][:4]}
    loaded = experiment.init_params(jax.random.key(5), batch)
    trained = IDODE(config).init_params(jax.random.key(5), batch)
    assert any(float(jnp.max(jnp.abs(a - b))) > 0 for a, b in zip(
        jax.tree.leaves(loaded), jax.tree.leaves(trained)))  # not a fresh init
    _check_run(tune, tmp_path / "finetune")
    assert any(k in line for line in train_lines(tmp_path / "finetune")
               for k in ("second_order",))


@pytest.mark.nightly
def test_digits_runlocal_noise_baseline(tmp_path):
    m = _check_run(get_config(arg="runlocal,noise"), tmp_path)
    assert m["bits_per_dim"] == m["bpd_uniform"]


@pytest.mark.nightly
def test_mnist5k_runlocal(tmp_path):
    config = get_config("mnist5k")
    assert config.eval.num_examples <= 256
    _check_run(config, tmp_path)
