"""Data mollification [P162]: RealNVP by maximum likelihood on a multimodal 2D toy.

Paper: Tran et al. 2023, "One-Line-of-Code Data Mollification Improves Optimization
of Likelihood-based Generative Models". The flow and training are those of
``experiments/mle_flow/configs/toy2d.py``; compare ``--config.mollify.enabled=True``
(the default here) with ``False``. Metrics: test NLL (nats) and the 2-Wasserstein
distance between 2000 samples and 2000 test points. Default dataset 8gaussians
(well-separated modes); ``--config.dataset.name=...``. Measured numbers:
experiments/mollification/README.md.
"""

from experiments.mle_flow.configs import toy2d as mle_toy2d
from likelihood_jax.train.config import check_mode


def get_config(arg=None):
    mode = check_mode(arg)
    config = mle_toy2d.get_config(arg)
    config.experiment = "mollification"
    config.dataset.name = "8gaussians"
    config.mollify.enabled = True
    config.mollify.fraction = 0.5
    config.num_eval_samples = 500 if mode == "runlocal" else 2000
    if mode == "default":
        config.total_steps = 4000
    return config
