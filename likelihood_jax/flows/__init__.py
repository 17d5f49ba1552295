"""Normalizing flows: bijectors, flows, and the flow papers' methods.

**Direction convention.** ``forward`` maps **data x -> latent z** (the normalizing direction:
RealNVP's ``f: X -> Z``, Dinh et al. 2017; EBFlow's ``g``, Chao et al. 2023) and ``inverse``
maps **latent z -> data x** (sampling). ``log p(x) = log N(f(x); 0, I) + log|det df/dx|``.

**The bijector contract** (:mod:`~likelihood_jax.flows.base`). Every bijector is a frozen,
hashable dataclass of static configuration, with explicit params and an optional context
(the conditioning of a conditional flow ``p(x | c)``; unconditional layers ignore it):

* ``init(key, x_batch, context=None) -> params`` (a batch, for data-dependent init such as
  ActNorm);
* ``forward_and_log_det(params, x, context=None) -> (z, log|det dz/dx|)`` on one example;
* ``inverse_and_log_det(params, z, context=None) -> (x, log|det dx/dz|)`` on one example;
* ``log_det_depends_on_x``: False for ActNorm, Reverse, Permute, Dense, Reshape, Flatten;
  True for AffineCoupling, Logit, the smooth nonlinearities and FloWaveNet; for a Chain,
  whether any layer's is.

:class:`Chain` composes any bijectors (handing the context to each), and :class:`Flow` puts a
standard-normal base under one: ``log_prob(params, x, context=None)``,
``sample(params, key, n, context=None)``.

Modules (method modules name their paper's id):

* ``base``, ``chain``, ``flow``: the contract, composition (with EBFlow's split of the log-det
  into x-dependent and constant parts), :class:`Flow` and :func:`realnvp` (Dinh et al. 2017);
* ``coupling``, ``elementwise``, ``linear``, ``nonlinear``, ``reshape``: the layers;
* ``splines``: monotone rational-quadratic splines with linear tails, the spline coupling
  and :func:`spline_coupling_flow` (Durkan et al. 2019, neural spline flows);
* ``autoregressive``: MADE masks (Germain et al. 2015), masked autoregressive layers with
  affine or spline transforms (MAF, Papamakarios et al. 2017) and the inverse direction (IAF,
  Kingma et al. 2016), :func:`masked_autoregressive_flow`;
* ``glow``: Glow's invertible 1x1 convolution (LU and unconstrained), channel coupling,
  squeeze and the multi-scale image flow :func:`multiscale_glow` (Kingma & Dhariwal 2018);
* ``planar_radial``: planar and radial flows for variational inference (Rezende & Mohamed
  2015), with numerical inverses;
* ``residual``: invertible residual blocks, power-series and Russian-roulette log-dets with
  Hutchinson probes (Behrmann et al. 2019, Chen et al. 2019);
* ``conditional``: :func:`conditional_realnvp`, the label flow's conditional RealNVP [P134];
* ``ebflow``: EBFlow's score-matching objectives on a flow's energy [P001];
* ``path_gradients``: fast path-gradient estimators for reverse and forward KL [P004];
* ``mollification``: Gaussian data mollification annealed to zero [P162];
* ``weak_supervision``: weak signals, constraint sets and label learning flows [P134];
* ``wavenet``: FloWaveNet, a mel-conditioned flow for raw audio, and its autoregressive
  WaveNet baseline [P026];
* ``unlearning``: unlearning by gradient orthogonalization (UNO) and its baselines [P246];
* ``trade``: TraDE, a causal-transformer autoregressive density with MoG/softmax
  conditionals, trained by NLL + lambda MMD^2 [P027];
* ``injective``: free-form injective flows, the Hutchinson surrogate of
  ``1/2 log det(J_g^T J_g)`` and the stabilised objective [P009];
* ``tarflow``: TarFlow, the transformer autoregressive flow over patches of STARFlow, with
  alternating block orders and sampling through the transformer's KV cache [P008];
* ``pixelcnn``: the PixelCNN++ density over discrete images (discretized logistic mixture
  of any number of levels, sequential sampling; network in ``models.pixelcnn``) [P070];
* ``marginalization``: generative marginalization models, one network per marginal
  ``log p(x_S)`` with the self-consistency penalty [P033];
* ``any_order``: any-order autoregressive objectives (masked conditionals; permuted table
  cells for an encoder-decoder) and order search at inference [P046];
* ``density``: the family's adapters to the density contract (:mod:`likelihood_jax.density`):
  the flow bodies by name, TarFlow [P008], PixelCNN++ [P070] and TraDE [P027];
* ``experiment``: the family's Experiment bases (:class:`~likelihood_jax.flows.experiment.
  MLEFlow`), the only module that imports ``likelihood_jax.train``;
* ``presets``: config blocks shared by the family's experiments (ml_collections only).

Names are loaded on first use (PEP 562), so a config file importing ``flows.presets`` does
not import jax.

Example::

    from likelihood_jax import flows
    flow = flows.Flow(flows.realnvp(2), event_shape=(2,))
    params = flow.init(jax.random.key(0), x_batch)
    nll = -jax.vmap(flow.log_prob, in_axes=(None, 0))(params, x_batch).mean()
    samples = flow.sample(params, jax.random.key(1), 1000)
"""

from __future__ import annotations

from likelihood_jax._lazy import lazy_attributes

_EXPORTS = {
    "InverseAutoregressive": "autoregressive",
    "MADE": "autoregressive",
    "MaskedAutoregressive": "autoregressive",
    "made_masks": "autoregressive",
    "masked_autoregressive_flow": "autoregressive",
    "Bijector": "base",
    "Chain": "chain",
    "batched_forward": "chain",
    "forward_and_x_dependent_log_det": "chain",
    "conditional_realnvp": "conditional",
    "AffineCoupling": "coupling",
    "alternating_mask": "coupling",
    "checkerboard_mask": "coupling",
    "ActNorm": "elementwise",
    "Logit": "elementwise",
    "Flow": "flow",
    "realnvp": "flow",
    "standard_normal_log_prob": "flow",
    "ChannelCoupling": "glow",
    "InvertibleConv1x1": "glow",
    "DiscretizedPixelCNN": "pixelcnn",
    "MultiScale": "glow",
    "Squeeze": "glow",
    "multiscale_glow": "glow",
    "Dense": "linear",
    "Permute": "linear",
    "Reverse": "linear",
    "SmoothLeakyReLU": "nonlinear",
    "SmoothTanh": "nonlinear",
    "Planar": "planar_radial",
    "Radial": "planar_radial",
    "Flatten": "reshape",
    "Reshape": "reshape",
    "ResidualBlock": "residual",
    "residual_flow": "residual",
    "SplineCoupling": "splines",
    "rational_quadratic_spline": "splines",
    "inverse_rational_quadratic_spline": "splines",
    "spline_coupling_flow": "splines",
    "Patchify": "tarflow",
    "TarFlowBlock": "tarflow",
    "transformer_autoregressive_flow": "tarflow",
    "AutoregressiveWaveNet": "wavenet",
    "FloWaveNet": "wavenet",
    "MelUpsampler": "wavenet",
    "WaveNet": "wavenet",
}

_SUBMODULES = frozenset({
    "autoregressive", "base", "chain", "conditional", "coupling", "density", "ebflow",
    "elementwise",
    "experiment", "flow", "glow", "injective", "linear", "mollification", "nonlinear",
    "path_gradients", "pixelcnn", "planar_radial", "presets", "reshape", "residual", "splines",
    "tarflow", "trade", "unlearning", "wavenet",
    "weak_supervision", "marginalization", "any_order",
})

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_attributes(__name__, globals(), _EXPORTS, _SUBMODULES)
