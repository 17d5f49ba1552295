"""Meta-learned proposals [P081]: the experiment's training pairs are joint draws of the motif."""

import jax
import numpy as np
import pytest

from experiments.meta_mcmc_proposals.configs import gaussian_motif
from experiments.meta_mcmc_proposals.experiment import MetaProposals
from likelihood_jax.energy import learned_proposals as lp


def test_training_pairs_follow_the_analytic_conditional():
    """The block of each training draw, standardized by the analytic conditional of its
    blanket, is N(0, 1): the NLL the proposal minimizes is that of the true conditional."""
    experiment = MetaProposals(gaussian_motif.get_config("runlocal"))
    inputs, blocks = jax.jit(jax.vmap(experiment.draw))(jax.random.split(jax.random.key(0), 4000))
    features = inputs[0]
    mean, std = jax.vmap(lp.gaussian_motif_posterior)(features[:, 0], features[:, 1],
                                                      features[:, 2], features[:, 3:])
    z = np.asarray((blocks[:, 0] - mean) / std)
    assert abs(z.mean()) < 0.06 and abs(z.std() - 1.0) < 0.05


@pytest.mark.parametrize("field,value,match", [
    ("motif", "ner", "motif must be one of"),
    ("mdn.num_components", 0, "mdn.num_components must be >= 1"),
    ("eval.random_walk_scale", 0.0, "eval.random_walk_scale must be > 0"),
])
def test_bad_configs_are_refused(field, value, match):
    config = gaussian_motif.get_config("runlocal")
    config.update_from_flattened_dict({field: value})
    with pytest.raises(ValueError, match=match):
        MetaProposals(config)


def test_effective_sample_size_of_an_ar1_chain():
    """AR(1) with coefficient phi has ESS = T (1 - phi) / (1 + phi); white noise has ESS = T."""
    rng, phi, num = np.random.default_rng(0), 0.8, 40000
    noise = rng.normal(size=(num, 2))
    x = np.zeros((num, 2))
    for t in range(1, num):
        x[t] = phi * x[t - 1] + noise[t]
    ess = lp.effective_sample_size(x)
    np.testing.assert_allclose(ess, num * (1 - phi) / (1 + phi), rtol=0.15)
    np.testing.assert_allclose(lp.effective_sample_size(noise), num, rtol=0.15)
