"""RealNVP by maximum likelihood on a 2D toy (default: checkerboard).

Paper: Dinh et al. 2017, "Density estimation using Real NVP" (the MLE baseline of
EBFlow [P001] and data mollification [P162]).
Modes: ``runlocal`` (150 steps, the end-to-end test), default (the README
numbers), ``full`` (longer, wider): :func:`likelihood_jax.flows.presets.realnvp_toy2d_modes`.
The dataset is a field: ``--config.dataset.name=moons``. Expected numbers: see
experiments/mle_flow/README.md.
"""

from likelihood_jax.flows import presets
from likelihood_jax.train.config import apply_mode, base_config, runlocal, set_fields


def get_config(arg=None):
    config = base_config("mle_flow", dataset="checkerboard")
    config.model = presets.realnvp_model((2,))
    set_fields(config, presets.realnvp_toy2d_fields())
    # The end-to-end test: 150 steps at a larger learning rate.
    apply_mode(config, arg, presets.realnvp_toy2d_modes(), {"runlocal": runlocal(
        150, {"optim.lr": 3e-3}, eval_batch_size=1000)})
    return config
