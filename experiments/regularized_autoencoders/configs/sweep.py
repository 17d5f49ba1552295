"""The sigma table of regularized auto-encoders [P029] in one command.

Every variant of ``sweep.variants`` (``cae``: contractive, exact Jacobian norm;
``cae_hutchinson``: contractive, one Hutchinson probe through ``jax.jvp``; ``dae``: denoising)
at every ``sweep.sigmas``, over ``sweep.seeds``; each run is :mod:`mixture` (same modes, every
``--config.<field>`` flag reaches all runs). Writes ``table.md`` (mean +- 95% interval) and
``results.json``. Run by :class:`experiments.regularized_autoencoders.experiment.SigmaSweep`;
numbers: experiments/regularized_autoencoders/README.md.
"""

import ml_collections

from experiments.regularized_autoencoders.configs import mixture
from likelihood_jax.train.config import apply_mode


def get_config(arg=None):
    config = mixture.get_config(arg)
    config.experiment = "regularized_autoencoders:SigmaSweep"
    config.sweep = ml_collections.ConfigDict({
        "variants": ("cae", "cae_hutchinson", "dae"), "sigmas": (0.02, 0.05, 0.1, 0.2, 0.4),
        "seeds": (0, 1, 2)})
    apply_mode(config, arg, {"runlocal": {"sweep.variants": ("cae",), "sweep.sigmas": (0.1,),
                                          "sweep.seeds": (0, 1)}})
    return config
