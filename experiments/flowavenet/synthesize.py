r"""Writes generated audio for a trained FloWaveNet workdir.

Usage::

    python -m experiments.flowavenet.synthesize --config experiments/flowavenet/configs/speech.py \\
        --workdir runs/flowavenet_speech [--config.sample_temperature=0.6]

Restores the newest good checkpoint in the workdir (the EMA parameters when the config uses
EMA) and calls :meth:`FloWaveNetExperiment.write_artifacts`: ``generated.wav`` (a clip sampled
in parallel for the mel of the first test clip), ``reference.wav`` and ``waveforms.png``.
"""

from __future__ import annotations

import os
import sys

from likelihood_jax.main import apply_override, load_config


def synthesize(experiment, workdir: str) -> dict[str, str]:
    """Restores ``workdir``'s newest checkpoint and writes the audio artifacts there."""
    import jax

    from likelihood_jax.train import loop
    from likelihood_jax.train.checkpoints import Checkpoints

    run = loop.make_run(experiment)
    checkpoints = Checkpoints(os.path.join(workdir, loop.CHECKPOINT_DIR))
    try:
        state = checkpoints.restore_latest(loop.init_state(run))
    finally:
        checkpoints.close()
    if state is None:
        raise FileNotFoundError(f"no checkpoint in {workdir}/{loop.CHECKPOINT_DIR}")
    config = experiment.config
    params = state.ema_params if config.get("ema_decay", 0.0) else state.params
    return experiment.write_artifacts(jax.device_get(params), workdir)


def main(argv: list[str]) -> int:
    """``--config FILE[:MODE] --workdir DIR [--config.field=value ...]``."""
    config_spec = workdir = None
    overrides = []
    args = iter(argv)
    for arg in args:
        name, _, value = arg.partition("=")
        if not value and name in ("--config", "--workdir"):
            value = next(args)
        if name == "--config":
            config_spec = value
        elif name == "--workdir":
            workdir = value
        elif name.startswith("--config."):
            overrides.append((name[len("--config."):], value))
        else:
            raise SystemExit(f"unknown argument {arg!r}")
    if config_spec is None or workdir is None:
        raise SystemExit("--config and --workdir are required")
    config = load_config(config_spec)
    for field, value in overrides:
        apply_override(config, field, value)
    from experiments.flowavenet.experiment import FloWaveNetExperiment

    paths = synthesize(FloWaveNetExperiment(config), workdir)
    for name, path in paths.items():
        print(f"{name}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
