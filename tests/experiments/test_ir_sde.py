"""ir_sde: IR-SDE and its regression baseline on mnist5k through the shared loop."""

import math
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.ir_sde.experiment import IRSDE
from likelihood_jax.continuous_time import restoration
from likelihood_jax.main import load_config
from likelihood_jax.train import train_and_evaluate
from tests.clitools import REPO, eval_lines, train_lines

CONFIG = os.path.join(REPO, "experiments", "ir_sde", "configs", "mnist5k.py")


def get_config(mode="runlocal"):
    return load_config(f"{CONFIG}:{mode}")


def check_runlocal(workdir: str) -> None:
    """The harness's run of ``mnist5k.py:runlocal``: restoration metrics of every degradation."""
    metrics = eval_lines(workdir)[-1]
    for kind in ("noise", "blur", "mask"):
        for key in (f"psnr_{kind}", f"ssim_{kind}", f"psnr_{kind}_input", f"ssim_{kind}_input"):
            assert np.isfinite(metrics[key]), key
    assert np.isfinite(metrics["psnr_mean"]) and np.isfinite(metrics["ssim_mean"])


@pytest.mark.nightly
def test_runlocal_regression_baseline_trains_end_to_end(tmp_path):
    config = get_config()
    config.objective = "regression"
    metrics = train_and_evaluate(IRSDE(config), str(tmp_path))
    train = train_lines(tmp_path)
    assert train[-1]["loss"] < train[0]["loss"], train
    assert np.isfinite(metrics["psnr_mean"]) and np.isfinite(metrics["ssim_mean"])


def test_fixed_evaluation_set_and_training_degradations():
    config = get_config()
    experiment = IRSDE(config)
    clean = experiment.eval_clean
    np.testing.assert_allclose(experiment.eval_degraded["blur"],
                               jax.vmap(lambda x: restoration.gaussian_blur(x, 1.5))(clean),
                               atol=1e-6)
    masked = experiment.eval_degraded["mask"]
    assert bool(jnp.all((masked == 0) | (masked == clean)))
    # unclipped Gaussian noise of std 0.2: PSNR = 20 log10(1 / 0.2) = 13.98 dB on average
    noisy_psnr = jax.vmap(restoration.psnr)(experiment.eval_degraded["noise"], clean)
    assert float(jnp.mean(noisy_psnr)) == pytest.approx(20 * math.log10(5.0), abs=0.3)
    # the same fixed set for the baseline (a fair comparison)
    config.objective = "regression"
    other = IRSDE(config)
    for kind in ("noise", "blur", "mask"):
        np.testing.assert_array_equal(other.eval_degraded[kind], experiment.eval_degraded[kind])
    # training: mu is one of the configured degradations of x
    config.degrade.kinds = ("blur",)
    blur_only = IRSDE(config)
    batch = {"x": blur_only.dataset.train["x"][:4]}
    out = blur_only.preprocess(batch, jax.random.key(0))
    assert float(jnp.max(out["x"])) <= 1.0 and float(jnp.max(out["x"])) > 0.9
    np.testing.assert_allclose(out["mu"], jax.vmap(lambda x: restoration.gaussian_blur(x, 1.5))(
        out["x"]), atol=1e-6)


def test_x0_parameterization_turns_the_exact_x0_into_the_exact_noise():
    config = get_config()
    config.irsde.predict = "x0"
    experiment = IRSDE(config)

    class Oracle:  # "U-Net" that outputs x0 - mu from its input channels [x_t, mu]
        def apply(self, params, t, inputs):
            return params["x0"] - inputs[..., 1:]

    experiment.model = Oracle()
    x0 = experiment.eval_clean[0]
    mu = experiment.eval_degraded["blur"][0]
    sde = experiment.sde
    for t in (0.1, 0.5, 0.9):
        x_t, eps = sde.marginal_sample(jax.random.key(0), x0, mu, t)
        got = experiment.noise_fn({"x0": x0})(t, x_t, mu)
        np.testing.assert_allclose(got, eps, atol=2e-3 / float(sde.marginal_std(t)))
    restored = restoration.reverse_sample(experiment.noise_fn({"x0": x0}), sde, mu,
                                          jax.random.key(1), 50)
    assert float(restoration.psnr(jnp.clip(restored, 0, 1), x0)) > 40.0


def test_bad_config_is_refused():
    config = get_config()
    config.objective = "ddpm"
    with pytest.raises(ValueError, match="unknown config.objective 'ddpm'"):
        IRSDE(config)
    config = get_config()
    config.degrade.kinds = ("noise", "jpeg")
    with pytest.raises(ValueError, match="unknown degradation 'jpeg'"):
        IRSDE(config)
    config = get_config()
    config.irsde.predict = "v"
    with pytest.raises(ValueError, match="unknown config.irsde.predict 'v'"):
        IRSDE(config)
    config = get_config()
    config.irsde.loss = "vlb"
    with pytest.raises(ValueError, match="unknown config.irsde.loss 'vlb'"):
        IRSDE(config)


def test_construction_does_no_work_and_vector_data_is_refused_on_first_use():
    config = get_config()
    config.dataset.name = "moons"
    experiment = IRSDE(config)  # nothing is loaded yet
    assert experiment._dataset is None and experiment._model is None
    with pytest.raises(ValueError, match="IR-SDE restores images; dataset 'moons'"):
        experiment.dataset
