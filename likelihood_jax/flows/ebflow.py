"""EBFlow training objectives on a flow's energy, one example at a time.

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
"""

from __future__ import annotations

from typing import Callable

import jax

from likelihood_jax import score_matching

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
    if objective == "sm":
        return score_matching.exact_score_matching(score_fn, x)
    if objective == "ssm":
        return score_matching.sliced_score_matching(
            score_fn, x, key, num_slices=num_slices, probe=probe,
            variance_reduction=variance_reduction)
    if objective == "dsm":
        return score_matching.denoising_score_matching(score_fn, x, key, sigma)
    return score_matching.finite_difference_sliced_score_matching(
        unnormalized_log_prob, x, key, eps=eps, num_slices=num_slices, probe=fd_probe)
