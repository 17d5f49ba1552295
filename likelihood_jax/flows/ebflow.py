"""EBFlow [P001] training objectives on a flow's energy, one example at a time.

Chao et al. (2023), "Training Energy-Based Normalizing Flow with Score-Matching Objectives"
(NeurIPS). A flow's density is an energy-based model ``p(x) = exp(-E(x)) / Z`` where ``E``
omits the log-dets that are constant in x (``flows.Flow.energy``). Every objective below
except ``"ml"`` needs only ``E`` (or its x-derivatives), never ``Z``, so no determinant of a
dense layer is computed during training:

* ``"ml"``: ``-log p(x)``, the exact NLL (needs ``log_prob_fn``, i.e. ``slogdet``: O(D^3)).
* ``"sml"``: sampling-based ML, ``E(x) - E(x')`` with ``x' ~ p`` drawn by the flow's inverse
  and held fixed (``stop_gradient``); its parameter gradient is unbiased for the ML gradient
  because ``grad_theta log Z = -E_p[grad_theta E]`` (needs ``model_sample``).
* ``"sm"``: exact score matching ``0.5 |s|^2 + tr(ds/dx)`` (``D`` products; tests, small D).
* ``"ssm"``: sliced score matching (Hutchinson estimate of the trace, ``jax.jvp``).
* ``"dsm"``: denoising score matching with Gaussian noise ``sigma``.
* ``"fdssm"``: finite-difference sliced score matching (energy evaluations only).

with ``s = grad_x(-E)`` (:func:`likelihood_jax.score_matching.score_from_log_prob`). The
score-matching values follow :mod:`likelihood_jax.score_matching`'s normalization ("sm",
"ssm" and "fdssm" have the same expectation at each x). Cost per example: "ssm" one forward,
one backward and one jvp of the backward per slice; "dsm" one forward and one backward;
"fdssm" ``1 + 2 * num_slices`` forward passes; "sml" two forward passes plus the sampling.

Also the paper's flow bodies (:func:`build_body`: Glow-like blocks for the 2D toys, the
fully-connected model of Gresele et al. 2020 for MNIST) and its toy oracle: the test set of
a Gaussian-smoothed toy ``p_sigma = p * N(0, sigma^2 I)`` with kernel-density estimates of
its log-density and score (:func:`smoothed_dataset`, :func:`kde_log_prob_and_score`).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from likelihood_jax import score_matching
from likelihood_jax.data import Dataset
from likelihood_jax.flows.base import Bijector
from likelihood_jax.flows.chain import Chain
from likelihood_jax.flows.coupling import AffineCoupling, alternating_mask
from likelihood_jax.flows.elementwise import ActNorm
from likelihood_jax.flows.linear import Dense
from likelihood_jax.flows.nonlinear import SmoothLeakyReLU

Array = jax.Array

OBJECTIVES = ("ml", "sml", "sm", "ssm", "dsm", "fdssm")


def flow_score_matching_loss(objective: str, energy_fn: Callable[[Array], Array], x: Array,
                             key: Array, *, log_prob_fn: Callable[[Array], Array] | None = None,
                             model_sample: Array | None = None, num_slices: int = 1,
                             probe: str = "rademacher", variance_reduction: bool = True,
                             sigma: float = 0.1, eps: float = 0.1,
                             fd_probe: str = "sphere") -> Array:
    """Per-example EBFlow objective named by ``objective`` (see the module docstring).

    Args:
      objective: one of ``OBJECTIVES``.
      energy_fn: ``E: R^D -> R`` for one example (e.g. ``partial(flow.energy, params)``).
      x: one example.
      key: PRNG key (projections for "ssm"/"fdssm", noise for "dsm").
      log_prob_fn: the exact ``log p`` of one example; required by "ml".
      model_sample: one model sample ``x' ~ p`` paired with ``x``; required by "sml".
      num_slices: projections per example for "ssm" and "fdssm".
      probe: projection distribution of "ssm" (EBFlow's code: Rademacher).
      variance_reduction: "ssm" uses ``0.5 |s|^2`` instead of ``0.5 (v^T s)^2`` (SSM-VR;
        EBFlow's released code does).
      sigma: noise standard deviation of "dsm".
      eps: finite-difference step length of "fdssm".
      fd_probe: direction distribution of "fdssm" (``"sphere"``: uniform unit directions).

    Returns:
      A scalar; lower is better.

    Raises:
      ValueError: for an unknown objective or a missing ``log_prob_fn`` / ``model_sample``.
    """
    if objective not in OBJECTIVES:
        raise ValueError(f"Unknown EBFlow objective {objective!r}; expected one of {OBJECTIVES}.")

    def unnormalized_log_prob(v):
        return -energy_fn(v)

    score_fn = score_matching.score_from_log_prob(unnormalized_log_prob)
    if objective == "ml":
        if log_prob_fn is None:
            raise ValueError("objective 'ml' needs log_prob_fn (the exact log-density).")
        return -log_prob_fn(x)
    if objective == "sml":
        if model_sample is None:
            raise ValueError("objective 'sml' needs model_sample (one sample of the model).")
        return energy_fn(x) - energy_fn(jax.lax.stop_gradient(model_sample))
    # x is one example of any event shape (an image without MaP): declare its axes.
    event_ndim = jnp.ndim(x)
    if objective == "sm":
        return score_matching.exact_score_matching(score_fn, x, event_ndim=event_ndim)
    if objective == "ssm":
        return score_matching.sliced_score_matching(
            score_fn, x, key, num_slices=num_slices, probe=probe,
            variance_reduction=variance_reduction, event_ndim=event_ndim)
    if objective == "dsm":
        return score_matching.denoising_score_matching(score_fn, x, key, sigma,
                                                       event_ndim=event_ndim)
    return score_matching.finite_difference_sliced_score_matching(
        unnormalized_log_prob, x, key, eps=eps, num_slices=num_slices, probe=fd_probe,
        event_ndim=event_ndim)


# -- The paper's architectures and its toy oracle -----------------------------------------

ARCHITECTURES = ("glow", "fc", "linear")


def build_body(model, dim: int) -> Chain:
    """The flow body on vectors ``(dim,)`` described by ``config.model``.

    * ``"glow"`` (the paper's 2D toys): ``num_blocks`` x [Dense, AffineCoupling, ActNorm],
      then a final Dense; couplings alternate the even/odd halves.
    * ``"fc"`` (the paper's FC-based MNIST model, from Gresele et al. 2020): ``num_layers``
      Dense layers with a SmoothLeakyReLU(``activation_alpha``) between consecutive ones,
      optionally preceded by an ActNorm (``model.actnorm``).
    * ``"linear"``: [ActNorm, Dense], a Gaussian model (for tests).
    """
    arch = model.get("arch", "glow")
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown model.arch {arch!r}; choose one of {ARCHITECTURES}")
    layers: list[Bijector] = []
    if arch == "glow":
        if dim < 2:
            raise ValueError(f"the glow architecture needs dim >= 2, got {dim}")
        for i in range(model.num_blocks):
            layers += [Dense(),
                       AffineCoupling(alternating_mask(dim, i % 2),
                                            tuple(model.hidden_dims),
                                            model.get("scale_fn", "tanh")),
                       ActNorm()]
        layers.append(Dense())
    elif arch == "fc":
        if model.get("actnorm", False):
            layers.append(ActNorm())
        for i in range(model.num_layers):
            layers.append(Dense())
            if i + 1 < model.num_layers:
                layers.append(SmoothLeakyReLU(alpha=model.get("activation_alpha", 0.3)))
    else:
        layers = [ActNorm(), Dense()]
    return Chain(tuple(layers))


def smoothed_dataset(dataset: Dataset, config, sigma: float) -> Dataset:
    """Noised test points with the smoothed density and score of each (KDE oracle).

    The test points are noised once with ``N(0, sigma^2 I)`` (seed
    ``config.test_noise_seed``); ``log_p_true`` and ``score_true`` are the KDE estimates of
    :func:`kde_log_prob_and_score` over the first ``config.oracle_reference_size`` clean
    training points.
    """
    rng = np.random.default_rng(config.get("test_noise_seed", 12345))
    test_x = np.asarray(dataset.test["x"], np.float32)
    noised = test_x + sigma * rng.standard_normal(test_x.shape).astype(np.float32)
    reference = np.asarray(dataset.train["x"], np.float32)
    reference = reference[:config.get("oracle_reference_size", len(reference))]
    log_p, score = kde_log_prob_and_score(noised, reference, sigma)
    test = {"x": noised, "log_p_true": log_p, "score_true": score}
    return dataclasses.replace(dataset, test=test)


def kde_log_prob_and_score(x: np.ndarray, centers: np.ndarray, sigma: float,
                           chunk: int = 500) -> tuple[np.ndarray, np.ndarray]:
    """Log-density and score of the Gaussian mixture ``mean_j N(x; c_j, sigma^2 I)``.

    With ``c_j`` i.i.d. from ``p``, the mixture density is an unbiased estimate of
    ``(p * N(0, sigma^2 I))(x)``; its log and score (``sum_j w_j (c_j - x) / sigma^2`` with
    softmax weights ``w``) estimate those of the smoothed density (EBFlow's toy oracle).

    Args:
      x: query points ``(N, D)``.
      centers: kernel centers ``(M, D)``.
      sigma: kernel standard deviation.
      chunk: query points per vectorized block.

    Returns:
      ``(log_p (N,), score (N, D))`` as float32 numpy arrays.
    """
    with jax.ensure_compile_time_eval():  # concrete even when first called under jit
        centers = jnp.asarray(centers, jnp.float32)
        dim = centers.shape[-1]
        const = -math.log(centers.shape[0]) - 0.5 * dim * math.log(2 * math.pi * sigma**2)

        @jax.jit
        def block(q):
            diff = centers[None] - q[:, None]
            logits = -0.5 * jnp.sum(jnp.square(diff), -1) / sigma**2
            log_p = jax.scipy.special.logsumexp(logits, axis=1) + const
            weights = jax.nn.softmax(logits, axis=1)
            return log_p, jnp.einsum("nm,nmd->nd", weights, diff) / sigma**2

        outs = [block(jnp.asarray(x[i:i + chunk], jnp.float32)) for i in range(0, len(x), chunk)]
        return (np.concatenate([np.asarray(o[0]) for o in outs]),
                np.concatenate([np.asarray(o[1]) for o in outs]))
