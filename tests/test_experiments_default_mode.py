"""Nightly: every config of every experiment, in its default mode, builds and traces its step.

The end-to-end harness trains only each experiment's primary config in its ``runlocal`` mode;
the README numbers come from the default mode. This smoke check loads every config file's
default mode, builds its dataset and model, and traces (``jax.eval_shape``: no compilation, no
training) the initial state and one training step on the first batch, so a change to a shared
preset, model or loss that breaks a default-mode config fails here. In a chain
(``config.stages``) the first stage is checked (later stages restore earlier ones' parameters).
Procedures train nothing and are skipped.
"""

from __future__ import annotations

import jax
import pytest

from likelihood_jax import main as cli
from likelihood_jax.data import batch_at_step
from likelihood_jax.train import loop, stages
from likelihood_jax.train.procedure import Procedure
from tests.discovery import EXPERIMENTS, slugs_on_disk


def _config_files() -> list[tuple[str, str]]:
    return [(slug, path.stem) for slug in slugs_on_disk()
            for path in sorted((EXPERIMENTS / slug / "configs").glob("*.py"))
            if path.stem != "__init__" and "def get_config" in path.read_text()]


@pytest.mark.nightly
@pytest.mark.parametrize("slug,config_name", _config_files(),
                         ids=[f"{s}:{c}" for s, c in _config_files()])
def test_default_mode_builds_and_traces_one_step(slug, config_name):
    spec = str(EXPERIMENTS / slug / "configs" / f"{config_name}.py")
    config = cli.load_config(spec)
    names = stages.stage_names(config)
    if names:
        config = stages.stage_config(config, names[0], "/nonexistent-workdir")
    cls = cli.experiment_class(config.experiment, spec)
    if isinstance(cls, type) and issubclass(cls, Procedure):
        pytest.skip(f"{config.experiment} is a Procedure (nothing to train)")
    experiment = cls(config)
    run = loop.make_run(experiment)
    batch = batch_at_step(experiment.dataset.train, config.batch_size, config.seed, 0)
    state = jax.eval_shape(lambda: loop.init_state(run))
    new_state, metrics = jax.eval_shape(loop.make_train_step(run), state, batch)
    assert "loss" in metrics, sorted(metrics)
    assert jax.tree.structure(new_state.params) == jax.tree.structure(state.params)
