"""Flax (linen) networks shared by the families.

MLPs, time-conditioned MLPs, a U-Net, transformer and GRU language models, a tiny
encoder-decoder and a permutation-equivariant graph network. Import the module you need
(``likelihood_jax.models.transformer``, ...).
"""
