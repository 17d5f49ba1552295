r"""Self-supervised clustering and energy-based models in one objective (GEDI) [P039].

Sansone & Manhaeve (TMLR 2025), "Unifying Self-Supervised Clustering and Energy-Based Models"
(arXiv:2401.00873; code github.com/emsansone/GEDI). One network ``f: R^D -> R^K`` gives both

* cluster probabilities ``p(y | x) = softmax(f(x))`` over ``K`` clusters, and
* an energy ``E(x) = -logsumexp_y f(x)_y`` (the unnormalized ``p(x) ∝ exp(-E(x))``, as in JEM),

and is trained on the sum of (every term per example, to be minimized):

* the generative term (:func:`generative_loss`): ``E(x) - mean_j E(x^-_j)`` with ``x^-`` drawn
  from the model by Langevin dynamics (persistent chains, under ``stop_gradient``); its
  gradient is the contrastive-divergence estimate of ``grad_theta -log p(x)``
  (``grad E(x) - E_{p_theta}[grad E]``);
* the invariance term (:func:`invariance_loss`): the symmetrized cross-entropy between the
  cluster probabilities of two augmentations ``x', x''`` of ``x``,
  ``-(1/2) [p(y|x')^T log p(y|x'') + p(y|x'')^T log p(y|x')]``, which also rewards confident
  assignments;
* the prior term (:func:`uniform_prior_loss`): ``KL(p_bar || U_K) = sum_y p_bar_y log p_bar_y
  + log K`` of the batch's mean assignment ``p_bar = mean_i p(y | x_i)``, which penalizes
  cluster collapse (a batch-level value, the same for every example).

The paper shows the sum lower-bounds the data log-likelihood of its graphical model and
penalizes the failure modes of cluster-based self-supervised learning (representation
collapse by the generative term, cluster collapse by the prior term, permutation-ambiguity
by invariance). :func:`gedi_loss` combines the terms with weights; :func:`langevin_negatives`
moves chains by :func:`likelihood_jax.energy.mcmc.ula` on ``exp(-E)``.
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

from likelihood_jax import _checks
from likelihood_jax.energy import mcmc

Array = jax.Array


def energy_from_logits(logits: Array) -> Array:
    """``E(x) = -logsumexp_y f(x)_y`` over the last axis (JEM's energy of the logits)."""
    _checks.require_min_rank("energy_from_logits", "logits", logits, 1, "(..., K)")
    return -jax.nn.logsumexp(logits, axis=-1)


def generative_loss(energy_data: Array, energy_negatives: Array) -> Array:
    """Per-example ``E(x_i) - mean_j E(x^-_j)``: contrastive divergence with model samples.

    With ``x^-`` samples of ``p_theta ∝ exp(-E)`` held fixed (``stop_gradient``), the mean over
    the batch has the gradient ``mean_i grad E(x_i) - mean_j grad E(x^-_j)``, an unbiased
    estimate of the gradient of the mean negative log-likelihood ``E(x) + log Z``.

    Args:
      energy_data: ``(B,)`` energies of the data.
      energy_negatives: ``(M,)`` energies of the negatives.

    Returns:
      ``(B,)``.
    """
    _checks.require_rank("generative_loss", "energy_data", energy_data, 1, "(B,)")
    _checks.require_rank("generative_loss", "energy_negatives", energy_negatives, 1, "(M,)")
    return energy_data - jnp.mean(energy_negatives)


def invariance_loss(logits_a: Array, logits_b: Array) -> Array:
    """Per-example symmetrized cross-entropy between the assignments of two views ``(B,)``.

    ``-(1/2) [softmax(a)^T log_softmax(b) + softmax(b)^T log_softmax(a)]``; at least the mean
    entropy of the two assignments, with equality when they agree.
    """
    _checks.require_rank("invariance_loss", "logits_a", logits_a, 2, "(B, K)")
    _checks.require_shape("invariance_loss", "logits_b", logits_b, logits_a.shape, "(B, K)")
    log_a, log_b = jax.nn.log_softmax(logits_a), jax.nn.log_softmax(logits_b)
    return -0.5 * (jnp.sum(jnp.exp(log_a) * log_b, -1) + jnp.sum(jnp.exp(log_b) * log_a, -1))


def uniform_prior_loss(logits: Array) -> Array:
    """``KL(p_bar || U_K) = sum_y p_bar_y log p_bar_y + log K``, ``p_bar = mean_i softmax``.

    Zero iff the batch uses every cluster equally on average; ``log K`` when every example
    goes to one cluster (cluster collapse). A scalar.
    """
    _checks.require_rank("uniform_prior_loss", "logits", logits, 2, "(B, K)")
    p_bar = jnp.mean(jax.nn.softmax(logits), axis=0)
    return jnp.sum(p_bar * jnp.log(jnp.clip(p_bar, 1e-30))) + math.log(logits.shape[-1])


class GEDITerms(NamedTuple):
    """The terms of :func:`gedi_loss`.

    ``total``, ``generative`` and ``invariance`` are per example ``(B,)``; ``prior`` a scalar.
    """

    total: Array
    generative: Array
    invariance: Array
    prior: Array


def gedi_loss(logits_data: Array, logits_view_a: Array, logits_view_b: Array,
              logits_negatives: Array, *, generative_weight: float = 1.0,
              invariance_weight: float = 1.0, prior_weight: float = 1.0) -> GEDITerms:
    """The GEDI objective per example [P039].

    ``total_i = w_gen (E(x_i) - mean_j E(x^-_j)) + w_inv inv(x'_i, x''_i) + w_prior KL(p_bar||U)``
    with the energy and assignments of :func:`energy_from_logits` / ``softmax``; ``p_bar``
    is taken over both views. A zero weight removes a term (the EBM-only ablation is
    ``(1, 0, 0)``, the self-supervised-only one ``(0, 1, 1)``).

    Args:
      logits_data: ``(B, K)`` of the data.
      logits_view_a: ``(B, K)`` of one augmentation of the data.
      logits_view_b: ``(B, K)`` of another.
      logits_negatives: ``(M, K)`` of the Langevin negatives (``stop_gradient`` on the
        points, not on the network).
      generative_weight: weight of the generative term, ``>= 0``.
      invariance_weight: weight of the invariance term, ``>= 0``.
      prior_weight: weight of the prior term, ``>= 0``.

    Returns:
      :class:`GEDITerms`.
    """
    function = "gedi_loss"
    for name, value in (("generative_weight", generative_weight),
                        ("invariance_weight", invariance_weight),
                        ("prior_weight", prior_weight)):
        _checks.require_at_least(function, name, value, 0.0)
    _checks.require_rank(function, "logits_data", logits_data, 2, "(B, K)")
    gen = generative_loss(energy_from_logits(logits_data), energy_from_logits(logits_negatives))
    inv = invariance_loss(logits_view_a, logits_view_b)
    prior = uniform_prior_loss(jnp.concatenate([logits_view_a, logits_view_b]))
    total = generative_weight * gen + invariance_weight * inv + prior_weight * prior
    return GEDITerms(total, gen, inv, prior)


def langevin_negatives(energy_fn: Callable[[Array], Array], x0: Array, key: Array, *,
                       step_size: float, num_steps: int) -> Array:
    """Moves each row of ``x0 (M, D)`` by ``num_steps`` Langevin steps on ``p ∝ exp(-E)``.

    :func:`likelihood_jax.energy.mcmc.ula` per chain
    (``x <- x - (h/2) grad E(x) + sqrt(h) xi``); ``energy_fn`` maps one point ``(D,)`` to a
    scalar.
    """
    _checks.require_rank("langevin_negatives", "x0", x0, 2, "(M, D)")
    log_prob = mcmc.log_prob_from_energy(energy_fn)
    chain = lambda x, k: mcmc.ula(log_prob, x, k, step_size=step_size,  # noqa: E731
                                  num_steps=num_steps).state
    return jax.vmap(chain)(x0, jax.random.split(key, x0.shape[0]))
