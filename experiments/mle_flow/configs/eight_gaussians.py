"""RealNVP by maximum likelihood on the ring of 8 Gaussians: the baseline of the GAN [P072].

Paper: Dinh et al. 2017, "Density estimation using Real NVP"; used by experiments/gan as the
likelihood baseline for mode coverage. Same model and schedule as ``toy2d.py``, on
``8gaussians``; ``model_metrics`` adds modes hit, the high-quality fraction, the mode-share
total variation and the squared MMD (bandwidth 0.5) of 2000 samples against held-out data,
as the GAN reports them. Measured (3 seeds): see experiments/gan/README.md.
"""

from experiments.mle_flow.configs import toy2d


def get_config(arg=None):
    config = toy2d.get_config(arg)
    config.dataset.name = "8gaussians"
    return config
