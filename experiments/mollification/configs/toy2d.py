"""Data mollification [P162]: RealNVP by maximum likelihood on a multimodal 2D toy.

Paper: Tran et al. 2023, "One-Line-of-Code Data Mollification Improves Optimization
of Likelihood-based Generative Models". The flow and training are those of
``experiments/mle_flow/configs/toy2d.py`` (both from :mod:`likelihood_jax.flows.presets`);
compare ``--config.mollify.enabled=True`` (the default here) with ``False``. Metrics: test
NLL (nats) and the 2-Wasserstein distance between 2000 samples and 2000 test points.
Default dataset 8gaussians (well-separated modes); ``--config.dataset.name=...``.
Measured numbers: experiments/mollification/README.md.
"""

from likelihood_jax.flows import presets
from likelihood_jax.train.config import apply_mode, base_config, runlocal, set_fields


def get_config(arg=None):
    config = base_config("mollification", dataset="8gaussians")
    config.model = presets.realnvp_model((2,))
    config.mollify = presets.mollify(enabled=True, fraction=0.5)
    config.num_eval_samples = 2000
    set_fields(config, presets.realnvp_toy2d_fields())
    modes = presets.realnvp_toy2d_modes()
    modes["default"]["total_steps"] = 4000
    # The end-to-end test: 150 steps at a larger learning rate; W2 from the 256 samples
    # that the plot draws too (one compilation of the sampler).
    apply_mode(config, arg, modes, {"runlocal": runlocal(
        150, {"optim.lr": 3e-3}, num_eval_samples=256, eval_batch_size=1000)})
    return config
