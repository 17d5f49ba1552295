"""Sequence presets: the shared config blocks merge into a base config and take their modes."""

import ast
import inspect

import ml_collections
import pytest

from likelihood_jax.sequence import presets
from likelihood_jax.train.config import apply_mode, base_config


def test_presets_import_only_ml_collections():
    tree = ast.parse(inspect.getsource(presets))
    imported = {alias.name.split(".")[0] for node in ast.walk(tree)
                if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module}
    assert imported <= {"ml_collections", "__future__", "collections", "typing"}


STEPS = {"synthetic_lm": (100, 1500), "shakespeare_lm": (40, 1000), "masked_lm": (60, 2000)}


@pytest.mark.parametrize("group", sorted(STEPS))
@pytest.mark.parametrize("mode", ["runlocal", None, "full"])
def test_every_group_applies_all_of_its_modes(group, mode):
    config = base_config("x", dataset="unused")
    config.update(getattr(presets, group)())
    apply_mode(config, mode, getattr(presets, f"{group}_modes")())
    assert config.dataset.name in ("markov", "shakespeare_char", "markov_mixture")
    runlocal, default = STEPS[group]
    assert config.total_steps == {"runlocal": runlocal, None: default, "full": 20000}[mode]


def test_block_overrides_and_unknown_fields():
    source = presets.markov_source(num_test=2000)
    assert source.num_test == 2000 and source.vocab_size == 20 and source.name == "markov"
    assert presets.transformer(width=96).width == 96
    config = base_config("x", dataset="markov")
    config.update(presets.synthetic_lm())
    with pytest.raises(KeyError, match="dataset.bogus"):
        apply_mode(config, "runlocal", {"runlocal": {"dataset.bogus": 1}})
    assert isinstance(config.eval, ml_collections.ConfigDict)
