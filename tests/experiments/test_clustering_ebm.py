"""GEDI experiment [P039]: the labels it scores clusters against, and refused configs."""

import numpy as np
import pytest

from experiments.clustering_ebm.configs import toy
from experiments.clustering_ebm.experiment import GEDI, toy_labels
from likelihood_jax.data import toys


@pytest.mark.parametrize("name", ["moons", "circles"])
def test_toy_labels_recover_the_generating_component(name):
    """Replays the toy's generator with the same seed to get its component draws."""
    x = toys.sample_toy(name, 4000, seed=5)
    upper_or_outer = np.random.default_rng(5).random(4000) < 0.5
    truth = (~upper_or_outer).astype(np.int32)
    assert np.mean(toy_labels(name, x) == truth) > 0.99


@pytest.mark.parametrize("field,value,match", [
    ("variant", "jem", "variant must be one of"),
    ("gedi.sgld_step", -0.1, "gedi.sgld_step must be > 0"),
    ("dataset.name", "rings", "dataset.name must be 'moons' or 'circles'"),
])
def test_bad_configs_are_refused(field, value, match):
    config = toy.get_config("runlocal")
    config.update_from_flattened_dict({field: value})
    with pytest.raises(ValueError, match=match):
        GEDI(config)
