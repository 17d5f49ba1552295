"""Energy-based, implicit and likelihood-free training (catalog family EBM).

GANs, IMLE, contrastive divergence, Langevin and MCMC-trained models. Empty until the
family's papers land; the layout rule is in the package docstring of ``likelihood_jax``.
"""
