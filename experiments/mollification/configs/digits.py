"""Data mollification [P162]: RealNVP by maximum likelihood on the 8x8 digits (17 levels).

Paper: Tran et al. 2023 (see toy2d.py). The flow and training are those of
``experiments/mle_flow/configs/digits.py``. Mollification acts in the flow's logit
space (after dequantization). Metrics: test bits/dim and a Fréchet distance in the
hidden features of a small MLP digit classifier trained on the training split
("FID-like"). Compare ``--config.mollify.enabled=True`` (default) with ``False``.
Measured numbers: experiments/mollification/README.md.
"""

from experiments.mle_flow.configs import digits as mle_digits


def get_config(arg=None):
    config = mle_digits.get_config(arg)
    config.experiment = "mollification"
    config.mollify.enabled = True
    config.mollify.fraction = 0.5
    config.num_eval_samples = 297
    return config
