"""GAN [P072] experiment: its group losses are the library's losses, the 8gaussians modes
(``data.toys.mixture_modes``) describe the data, bad configs are refused, and the mle_flow
baseline config reports the same sample metrics."""

import os

import jax
import numpy as np
import pytest

from experiments.gan.experiment import GANExperiment
from likelihood_jax import data, metrics
from likelihood_jax.data.toys import mixture_modes
from likelihood_jax.energy import gan
from likelihood_jax.main import load_config
from tests.clitools import REPO

CONFIG = os.path.join(REPO, "experiments", "gan", "configs", "eight_gaussians.py")


def test_eight_gaussians_modes_match_the_data():
    centers, std = mixture_modes("8gaussians")
    x = data.sample_toy("8gaussians", 4000, seed=5)
    nearest = np.argmin(np.linalg.norm(x[:, None] - centers[None], axis=-1), axis=1)
    residual = x - centers[nearest]
    assert residual.std(axis=0) == pytest.approx([std, std], rel=0.05)
    np.testing.assert_allclose(np.bincount(nearest, minlength=8) / len(x), 1 / 8, atol=0.02)
    cover = metrics.mode_coverage(x, centers, std=std)
    assert int(cover.modes_hit) == 8 and float(cover.high_quality_fraction) > 0.98
    assert mixture_modes("moons") is None


def test_group_losses_are_the_gan_losses_and_bad_losses_are_refused():
    config = load_config(f"{CONFIG}:runlocal")
    experiment = GANExperiment(config)
    batch = {"x": np.asarray(data.sample_toy("8gaussians", 16, seed=0))}
    params = experiment.init_params(jax.random.key(0), batch)
    key = jax.random.key(1)
    fake = experiment.generate(params, key, 16)
    d_loss, _ = experiment.group_loss_fn("discriminator", params, batch, key, 0)
    np.testing.assert_allclose(d_loss, gan.discriminator_loss(
        experiment.logits(params, batch["x"]), experiment.logits(params, fake)), rtol=1e-6)
    g_loss, _ = experiment.group_loss_fn("generator", params, batch, key, 0)
    np.testing.assert_allclose(
        g_loss, gan.non_saturating_generator_loss(experiment.logits(params, fake)), rtol=1e-6)
    config.gan.generator_loss = "wasserstein"
    with pytest.raises(ValueError, match="generator_loss must be one of"):
        GANExperiment(config).init_params(jax.random.key(0), batch)


def test_mle_flow_baseline_config_is_the_toy_flow_on_eight_gaussians():
    baseline = load_config(os.path.join(REPO, "experiments", "mle_flow", "configs",
                                        "eight_gaussians.py"))
    toy = load_config(os.path.join(REPO, "experiments", "mle_flow", "configs", "toy2d.py"))
    assert baseline.dataset.name == "8gaussians"
    assert baseline.model == toy.model and baseline.total_steps == toy.total_steps
