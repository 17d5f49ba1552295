"""Conditional flows ``p(y | c)`` [P134]: the label flow's conditional RealNVP.

Lu, Song, Arachie & Huang, "Weakly Supervised Label Learning Flows" (Neural Networks 2025,
arXiv:2302.09649). Direction: ``forward`` maps the modelled variable y -> latent z,
``inverse`` maps z -> y (the convention of :mod:`likelihood_jax.flows.base`). The context
``c`` (e.g. the features of an input x) is never transformed.

A conditional flow needs no classes of its own: every bijector takes an optional
``context`` (:mod:`likelihood_jax.flows.base`), a conditional
:class:`~likelihood_jax.flows.AffineCoupling` (``conditional=True``) feeds ``concat(y_c, c)``
to its conditioner (RealNVP's
coupling, Dinh et al. 2017, Eq. 4-9)::

    z_c = y_c,   z_t = y_t * exp(s(y_c, c)) + t(y_c, c),   log|det dz/dy| = sum_j s_j(y_c, c),
    y_t = (z_t - t(z_c, c)) * exp(-s(z_c, c))                              (the inverse),

a :class:`~likelihood_jax.flows.Chain` hands the context to every layer (unconditional ones
such as :class:`~likelihood_jax.flows.Reverse` ignore it), and
:class:`~likelihood_jax.flows.Flow` gives ``log p(y | c) = log N(f(y; c); 0, I) +
log|det df/dy|`` with ``log_prob(params, y, context)`` and ``sample(params, key, n, context)``.

The raw log-scale is bounded, ``s = a * tanh(r)``: ``a`` is learned per dimension
(initialized to 1) when ``log_scale_bound`` is None, else the fixed number
``log_scale_bound``. A fixed bound bounds the flow's log-det, which keeps objectives that
maximize the likelihood of the flow's own samples (LLF's inverse training) from collapsing
the distribution to a point.
"""

from __future__ import annotations

import math

from likelihood_jax.flows.base import Bijector
from likelihood_jax.flows.chain import Chain
from likelihood_jax.flows.coupling import AffineCoupling
from likelihood_jax.flows.linear import Reverse


def conditional_realnvp(event_dim: int, num_layers: int = 4,
                        hidden_dims: tuple[int, ...] = (64, 64),
                        log_scale_bound: float | None = None) -> Chain:
    """A conditional RealNVP on vectors: couplings that see the context, Reverse between.

    ``Chain([Coupling(mask_0), Reverse, Coupling(mask_0), Reverse, ...])`` with the first
    ``ceil(D / 2)`` dimensions conditioning, so every dimension is transformed. No ActNorm:
    its data-dependent init needs samples of y, which inverse-trained label flows never have.
    Initialize it with a batch of contexts: ``Chain.init(key, y, context)``.

    Args:
        event_dim: D >= 2.
        num_layers: number of coupling layers.
        hidden_dims: hidden widths of each conditioner.
        log_scale_bound: see :class:`~likelihood_jax.flows.AffineCoupling`.

    Returns:
        A :class:`~likelihood_jax.flows.Chain`.
    """
    if event_dim < 2:
        raise ValueError(f"A coupling flow needs event_dim >= 2, got {event_dim}.")
    if num_layers < 1:
        raise ValueError(f"num_layers must be >= 1, got {num_layers}.")
    mask = tuple(int(i < math.ceil(event_dim / 2)) for i in range(event_dim))
    layers: list[Bijector] = []
    for i in range(num_layers):
        if i:
            layers.append(Reverse())
        layers.append(AffineCoupling(mask, tuple(hidden_dims), log_scale_bound=log_scale_bound,
                                     conditional=True))
    return Chain(tuple(layers))
