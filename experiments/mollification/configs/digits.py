"""Data mollification [P162]: RealNVP by maximum likelihood on the 8x8 digits (17 levels).

Paper: Tran et al. 2023 (see toy2d.py). The flow and training are those of
``experiments/mle_flow/configs/digits.py`` (both from :mod:`likelihood_jax.flows.presets`).
Mollification acts in the flow's logit space (after dequantization). Metrics: test bits/dim
and a Fréchet distance in the hidden features of a small MLP digit classifier trained on
the training split ("FID-like"). Compare ``--config.mollify.enabled=True`` (default) with
``False``. Measured numbers: experiments/mollification/README.md.
"""

from likelihood_jax.flows import presets
from likelihood_jax.train.config import apply_mode, base_config, set_fields


def get_config(arg=None):
    config = base_config("mollification", dataset="digits")
    config.model = presets.realnvp_model((8, 8, 1), logit_alpha=0.05)
    config.mollify = presets.mollify(enabled=True, fraction=0.5)
    config.num_eval_samples = 297
    set_fields(config, presets.realnvp_digits_fields())
    apply_mode(config, arg, presets.realnvp_digits_modes())
    return config
