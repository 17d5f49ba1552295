"""The density zoo's wiring: every family builds from one config line; FAMILY is honoured."""

import ml_collections
import pytest

from experiments.density_zoo import experiment as zoo
from experiments.density_zoo.configs import digits, toy2d
from likelihood_jax import density
from tests.discovery import family_from_source, family_of


def test_every_family_builds_from_the_config_and_keeps_the_contract():
    config = digits.get_config("runlocal")
    for family in zoo.FAMILIES:
        config.model.family = family
        model = zoo.build_model(config.model, (8, 8, 1), 17)
        assert isinstance(model, density.TrainableDensity), family
        assert density.resolve_objective(model, "auto") == model.objectives[0]
    exact = {f: zoo.build_model(ml_collections.ConfigDict(dict(config.model, family=f)),
                                (8, 8, 1), 17).exact for f in zoo.FAMILIES}
    assert exact == {"realnvp": True, "spline": True, "maf": True, "glow": True, "cnf": True,
                     "diffusion_ode": True, "vdm": False, "transformer": True, "tarflow": True,
                     "pixelcnn": True, "trade": True}


def test_image_only_families_and_unknown_names_raise():
    config = toy2d.get_config("runlocal")
    assert set(zoo.IMAGE_ONLY) == {"glow", "tarflow", "pixelcnn", "transformer"}
    for family in zoo.IMAGE_ONLY:
        config.model.family = family
        with pytest.raises(ValueError, match="image"):
            zoo.build_model(config.model, (2,), None)
    config.model.family = "nope"
    with pytest.raises(ValueError, match="config.model.family"):
        zoo.build_model(config.model, (2,), None)


def test_family_declaration_rule():
    assert family_of("density_zoo") == "flows"
    one = "from likelihood_jax import flows\n"
    several = one + "from likelihood_jax.sequence import density\n"
    assert family_from_source(one) == "flows"
    assert family_from_source(several + 'FAMILY = "sequence"\n') == "sequence"
    with pytest.raises(ValueError, match="exactly one"):
        family_from_source(several)
    with pytest.raises(ValueError, match="not one of the families it imports"):
        family_from_source(several + 'FAMILY = "energy"\n')
