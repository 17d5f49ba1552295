"""RealNVP by maximum likelihood on scikit-learn's 8x8 digits (17 levels).

Paper: Dinh et al. 2017, "Density estimation using Real NVP". Uniform
dequantization and RealNVP's logit preprocessing; the headline metric is test
bits/dim of the discrete data (see likelihood_jax.metrics). Modes: ``runlocal``,
default, ``full`` (:func:`likelihood_jax.flows.presets.realnvp_digits_modes`).
Expected numbers: see experiments/mle_flow/README.md.
"""

from likelihood_jax.flows import presets
from likelihood_jax.train.config import apply_mode, base_config, set_fields


def get_config(arg=None):
    config = base_config("mle_flow", dataset="digits")
    config.model = presets.realnvp_model((8, 8, 1), logit_alpha=0.05)
    set_fields(config, presets.realnvp_digits_fields())
    apply_mode(config, arg, presets.realnvp_digits_modes())
    return config
