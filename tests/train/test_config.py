import ml_collections
import pytest

from likelihood_jax.train.config import apply_mode, base_config, set_fields


def _config():
    config = base_config("mle_flow", dataset="moons")
    config.model = ml_collections.ConfigDict({"hidden_dims": (64, 64), "num_layers": 8})
    return config


def test_apply_mode_sets_dotted_fields_of_the_chosen_mode_only():
    modes = {"runlocal": {"total_steps": 3, "model.hidden_dims": (8,)},
             "full": {"total_steps": 99, "model.num_layers": 16}}
    config = _config()
    assert apply_mode(config, "runlocal", modes) == "runlocal"
    assert config.total_steps == 3 and config.model.hidden_dims == (8,)
    assert config.model.num_layers == 8
    config = _config()
    assert apply_mode(config, None, modes) == "default"
    assert config.total_steps == 1000 and config.model.hidden_dims == (64, 64)
    config = _config()
    apply_mode(config, "full", modes)
    assert (config.total_steps, config.model.num_layers) == (99, 16)


def test_apply_mode_rejects_unknown_modes_and_fields():
    with pytest.raises(ValueError, match="unknown config mode 'fast'"):
        apply_mode(_config(), "fast", {})
    with pytest.raises(ValueError, match="unknown config mode"):
        apply_mode(_config(), None, {"runlcoal": {"total_steps": 3}})
    with pytest.raises(KeyError, match="model.hiden_dims"):
        apply_mode(_config(), "runlocal", {"runlocal": {"model.hiden_dims": (8,)}})
    with pytest.raises(KeyError, match="no group 'modle'"):
        apply_mode(_config(), "runlocal", {"runlocal": {"modle.hidden_dims": (8,)}})


def test_set_fields_turns_dicts_into_groups_and_may_change_a_type():
    config = _config()
    set_fields(config, {"model": {"width": 4}, "optim.lr": 1})
    assert isinstance(config.model, ml_collections.ConfigDict) and config.model.width == 4
    assert config.optim.lr == 1


def test_apply_mode_applies_several_blocks_in_order_later_ones_win():
    family = {"runlocal": {"total_steps": 3, "model.num_layers": 2}, "full": {"batch_size": 9}}
    own = {"runlocal": {"model.num_layers": 1}}
    config = _config()
    apply_mode(config, "runlocal", family, own)
    assert (config.total_steps, config.model.num_layers, config.batch_size) == (3, 1, 256)
    config = _config()
    apply_mode(config, "full", family, own)
    assert (config.total_steps, config.model.num_layers, config.batch_size) == (1000, 8, 9)
    with pytest.raises(ValueError, match="unknown config mode"):
        apply_mode(_config(), None, family, {"fulll": {}})
