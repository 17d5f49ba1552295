"""Normalizing-flow bijectors: ``(value, log|det J|)`` layers, composition and flows.

**Direction convention.** ``forward`` maps **data x -> latent z** (the normalizing direction:
RealNVP's ``f: X -> Z``, Dinh et al. 2017; EBFlow's ``g``, Chao et al. 2023) and ``inverse``
maps **latent z -> data x** (sampling). ``log p(x) = log N(f(x); 0, I) + log|det df/dx|``.

Every bijector is a frozen, hashable dataclass of static configuration, with explicit params:

* ``init(key, x_batch) -> params`` (a batch, for data-dependent init such as ActNorm);
* ``forward_and_log_det(params, x) -> (z, log|det dz/dx|)`` on one example;
* ``inverse_and_log_det(params, z) -> (x, log|det dx/dz|)`` on one example;
* ``log_det_depends_on_x``: False for ActNorm, Reverse, Permute, Dense, Reshape, Flatten;
  True for AffineCoupling and Logit; for a Chain, whether any layer's is.

Example::

    from likelihood_jax import flows
    flow = flows.Flow(flows.realnvp(2), event_shape=(2,))
    params = flow.init(jax.random.key(0), x_batch)
    nll = -jax.vmap(flow.log_prob, in_axes=(None, 0))(params, x_batch).mean()
    samples = flow.sample(params, jax.random.key(1), 1000)
"""

from likelihood_jax.flows.base import Bijector
from likelihood_jax.flows.chain import Chain, forward_and_x_dependent_log_det
from likelihood_jax.flows.conditional import (
    ConditionalAffineCoupling,
    ConditionalBijector,
    ConditionalChain,
    ConditionalFlow,
    conditional_realnvp,
)
from likelihood_jax.flows.coupling import AffineCoupling, alternating_mask, checkerboard_mask
from likelihood_jax.flows.elementwise import ActNorm, Logit
from likelihood_jax.flows.flow import Flow, realnvp, standard_normal_log_prob
from likelihood_jax.flows.linear import Dense, Permute, Reverse
from likelihood_jax.flows.nonlinear import SmoothLeakyReLU, SmoothTanh
from likelihood_jax.flows.reshape import Flatten, Reshape
from likelihood_jax.flows.wavenet import AutoregressiveWaveNet, FloWaveNet, MelUpsampler, WaveNet

__all__ = [
    "ActNorm",
    "AffineCoupling",
    "Bijector",
    "Chain",
    "Dense",
    "Flatten",
    "Flow",
    "Logit",
    "Permute",
    "Reshape",
    "Reverse",
    "alternating_mask",
    "checkerboard_mask",
    "realnvp",
    "standard_normal_log_prob",
    "SmoothLeakyReLU",
    "SmoothTanh",
    "forward_and_x_dependent_log_det",
    "ConditionalAffineCoupling",
    "ConditionalBijector",
    "ConditionalChain",
    "ConditionalFlow",
    "conditional_realnvp",
    "AutoregressiveWaveNet",
    "FloWaveNet",
    "MelUpsampler",
    "WaveNet",
]
