"""Likelihood scores of sequences: Min-K% Prob [P105] and Min-K%++ [P251].

Membership-inference scores of a text under a causal LM: a higher score says the text is
more likely to have been in the model's training data. Each function scores **one
sequence** of ``T`` tokens (vmap over a batch) from its token log-probabilities
``token_log_probs[t] = log p(x_t | x_<t)`` and, for Min-K%++, the model's whole next-token
distributions ``log_probs[t, z] = log p(z | x_<t)``.

* :func:`min_k_percent`: the mean of the lowest ``max(1, floor(k T))`` token log-probabilities
  (Shi et al. 2024, "Detecting Pretraining Data from Large Language Models") [P105]. An unseen
  text tends to hold a few outlier tokens of low probability; a seen one fewer.
* :func:`min_k_plus_plus`: :func:`min_k_percent` of the standardized token scores
  :func:`standardized_log_probs`, ``(log p(x_t | x_<t) - mu_t) / sigma_t`` with ``mu_t`` and
  ``sigma_t`` the mean and standard deviation of ``log p(z | x_<t)`` for ``z ~ p(. | x_<t)``,
  computed exactly over the vocabulary by :func:`log_prob_moments` (Zhang et al. 2025,
  "Min-K%++: Improved Baseline for Detecting Pre-Training Data from Large Language Models")
  [P251]. Training by maximum likelihood pushes each training token towards a local mode of
  the next-token distribution, which the standardized score measures relative to the other
  candidate tokens.

Padding: every function takes an optional ``mask (T,)`` (``True`` = a real token); masked
positions are left out, and ``T`` becomes the number of real tokens ``n`` (the lowest
``max(1, floor(k n))`` of them count). A sequence with no real token scores NaN.

``k`` is a Python number in ``(0, 1]`` (static under ``jax.jit``: close over it or mark it
static); ``floor(k T)`` is Python's ``int(k * T)`` in double precision, as in the papers'
code, for masked sequences too (a table over ``n = 0 .. T``). Shapes and ``k`` are checked
when a function is called or traced; values (finite token log-probabilities, normalized
next-token distributions) with ``validate_args=True`` through ``jax.experimental.checkify``.
Every error is a ``ValueError`` naming the argument.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from likelihood_jax import _checks

Array = jax.Array

__all__ = ["log_prob_moments", "min_k_percent", "min_k_plus_plus", "standardized_log_probs"]


def _check_k(function: str, k) -> None:
    """``k`` is a concrete number in ``(0, 1]``."""
    if _checks.is_traced(k) or np.ndim(k) != 0:
        raise _checks.error(function, "k", "a Python number in (0, 1]", repr(k))
    _checks.require_greater(function, "k", k, 0.0)
    if not float(k) <= 1.0:
        raise _checks.error(function, "k", "<= 1", repr(k))


def _check_mask(function: str, mask, length: int) -> Array | None:
    """``mask`` as a bool ``(T,)`` array, or None."""
    if mask is None:
        return None
    mask = jnp.asarray(mask)
    _checks.require_shape(function, "mask", mask, (length,), "(T,)")
    if mask.dtype != jnp.bool_:
        raise _checks.error(function, "mask", "a boolean array", f"dtype {mask.dtype}")
    return mask


def _check_token_log_probs(function: str, token_log_probs) -> Array:
    """``token_log_probs`` as a floating ``(T,)`` array with ``T >= 1``."""
    token_log_probs = jnp.asarray(token_log_probs)
    _checks.require_rank(function, "token_log_probs", token_log_probs, 1, "(T,)",
                         " (one sequence: vmap over a batch)")
    _checks.require_floating(function, "token_log_probs", token_log_probs)
    if token_log_probs.shape[0] < 1:
        raise _checks.error(function, "token_log_probs", "of shape (T,) with T >= 1",
                            f"shape {token_log_probs.shape}")
    return token_log_probs


def _lowest_mean(scores: Array, k: float, mask: Array | None) -> Array:
    """The mean of the lowest ``max(1, int(k n))`` entries of ``scores`` where ``mask`` holds."""
    length = scores.shape[0]
    if mask is None:
        count = max(1, int(k * length))
        return jnp.mean(jnp.sort(scores)[:count])
    counts = jnp.asarray([max(1, int(k * n)) for n in range(length + 1)], jnp.int32)
    num_real = jnp.sum(mask)
    count = counts[num_real]
    ordered = jnp.sort(jnp.where(mask, scores, jnp.inf))
    lowest = jnp.where(jnp.arange(length) < count, ordered, 0.0)
    mean = jnp.sum(lowest) / count.astype(scores.dtype)
    return jnp.where(num_real > 0, mean, jnp.nan)


def min_k_percent(token_log_probs, *, k: float = 0.2, mask=None) -> Array:
    """Min-K% Prob: the mean of the lowest ``max(1, floor(k T))`` token log-probabilities [P105].

        MinK%(x) = (1 / |S|) sum_{t in S} log p(x_t | x_<t),

    ``S`` the ``max(1, floor(k T))`` positions of lowest log-probability (which of tied
    positions does not change the mean). Higher means "more likely a training member".
    ``k = 1`` gives the mean token log-probability (the loss baseline).

    Args:
      token_log_probs: ``(T,)`` floating, ``log p(x_t | x_<t)`` of one sequence (``-inf``
        allowed: a token of probability zero).
      k: the fraction of tokens kept, a Python number in ``(0, 1]``.
      mask: optional ``(T,)`` bool, ``True`` at real tokens; the others are left out and
        ``T`` becomes their count ``n`` (NaN when ``n = 0``).

    Returns:
      The scalar score.

    Raises:
      ValueError: ``token_log_probs`` not ``(T,)`` floating with ``T >= 1``; ``k`` outside
        ``(0, 1]`` or traced; ``mask`` not a ``(T,)`` bool array.
    """
    function = "min_k_percent"
    token_log_probs = _check_token_log_probs(function, token_log_probs)
    _check_k(function, k)
    mask = _check_mask(function, mask, token_log_probs.shape[0])
    return _lowest_mean(token_log_probs, float(k), mask)


def log_prob_moments(log_probs) -> tuple[Array, Array]:
    """Mean and standard deviation of ``log p(z)`` for ``z ~ p``, exactly over the vocabulary.

        mu = sum_z p(z) log p(z) = -H(p),    sigma^2 = sum_z p(z) (log p(z) - mu)^2,

    over the last axis (terms with ``p(z) = 0`` contribute nothing); the statistics of
    Min-K%++ [P251].

    Args:
      log_probs: ``(..., V)`` floating, normalized log-probabilities over the last axis.

    Returns:
      ``(mu, sigma)``, each of shape ``(...)``.

    Raises:
      ValueError: ``log_probs`` of rank 0 or not floating.
    """
    function = "log_prob_moments"
    log_probs = jnp.asarray(log_probs)
    _checks.require_min_rank(function, "log_probs", log_probs, 1, "(..., V)")
    _checks.require_floating(function, "log_probs", log_probs)
    mu, sigma = _moments_about(log_probs, jnp.zeros(log_probs.shape[:-1], log_probs.dtype))
    return mu, sigma


def _moments_about(log_probs: Array, center: Array) -> tuple[Array, Array]:
    """``(mu, sigma)`` of ``log p(z)``, accumulated as deviations from ``center (...)``.

    Centering at the target's log-probability makes a uniform distribution's deviations
    exactly zero (so its ``sigma`` is exactly 0, not rounding noise).
    """
    p = jnp.exp(log_probs)
    support = p > 0
    deviation = jnp.where(support, log_probs - center[..., None], 0.0)
    mean_deviation = jnp.sum(p * deviation, -1)
    variance = jnp.sum(jnp.where(support, p * (deviation - mean_deviation[..., None]) ** 2, 0.0),
                       -1)
    return center + mean_deviation, jnp.sqrt(variance)


def standardized_log_probs(token_log_probs, log_probs, *, validate_args: bool = False) -> Array:
    """Min-K%++ token scores ``(log p(x_t | x_<t) - mu_t) / sigma_t`` [P251].

    ``mu_t``, ``sigma_t``: :func:`log_prob_moments` of the next-token distribution
    ``log_probs[t]``. Where ``sigma_t = 0`` (a distribution uniform on its support, e.g. a
    point mass) the score is 0: the token is exactly as likely as a typical draw.

    Args:
      token_log_probs: ``(T,)`` floating, finite ``log p(x_t | x_<t)``.
      log_probs: ``(T, V)`` floating, the normalized ``log p(z | x_<t)`` over the vocabulary.
      validate_args: check that ``token_log_probs`` is finite and each row of ``log_probs``
        sums (as probabilities) to one, also when traced (checkify).

    Returns:
      ``(T,)`` scores.

    Raises:
      ValueError: bad shapes or dtypes; bad values with ``validate_args`` (see above).
    """
    return _standardized("standardized_log_probs", token_log_probs, log_probs, validate_args)


def _standardized(function: str, token_log_probs, log_probs, validate_args: bool) -> Array:
    token_log_probs = _check_token_log_probs(function, token_log_probs)
    log_probs = jnp.asarray(log_probs)
    _checks.require_rank(function, "log_probs", log_probs, 2, "(T, V)",
                         " (one sequence: vmap over a batch)")
    _checks.require_floating(function, "log_probs", log_probs)
    if log_probs.shape[0] != token_log_probs.shape[0]:
        raise _checks.error(function, "log_probs", f"of shape (T, V) with T = "
                            f"{token_log_probs.shape[0]} (as token_log_probs)",
                            f"shape {log_probs.shape}")
    if validate_args:
        _checks.check_finite(function, "token_log_probs", token_log_probs)
        _checks.check_probabilities(function, "log_probs", jnp.exp(log_probs))
    mu, sigma = _moments_about(log_probs, token_log_probs)
    spread = sigma > 0
    return jnp.where(spread, (token_log_probs - mu) / jnp.where(spread, sigma, 1.0), 0.0)


def min_k_plus_plus(token_log_probs, log_probs, *, k: float = 0.2, mask=None,
                    validate_args: bool = False) -> Array:
    """Min-K%++: :func:`min_k_percent` of the standardized token scores [P251].

        s_t = (log p(x_t | x_<t) - mu_t) / sigma_t,    MinK%++(x) = mean of the lowest k% s_t,

    with ``mu_t = E_{z ~ p(.|x_<t)} log p(z | x_<t)`` and ``sigma_t`` its standard deviation,
    exact over the vocabulary (:func:`standardized_log_probs`; 0 where ``sigma_t = 0``).
    Higher means "more likely a training member". Cost: ``O(T V)`` on top of the model's
    forward pass, which already produced ``log_probs``.

    Args:
      token_log_probs: ``(T,)`` floating, finite ``log p(x_t | x_<t)`` of one sequence.
      log_probs: ``(T, V)`` floating, the model's normalized next-token log-probabilities.
      k: the fraction of tokens kept, a Python number in ``(0, 1]``.
      mask: optional ``(T,)`` bool, ``True`` at real tokens (see :func:`min_k_percent`).
      validate_args: check values also when traced (see :func:`standardized_log_probs`).

    Returns:
      The scalar score.

    Raises:
      ValueError: bad shapes, dtypes, ``k`` or ``mask`` (see :func:`min_k_percent`); bad
        values with ``validate_args``.
    """
    function = "min_k_plus_plus"
    scores = _standardized(function, token_log_probs, log_probs, validate_args)
    _check_k(function, k)
    mask = _check_mask(function, mask, scores.shape[0])
    return _lowest_mean(scores, float(k), mask)
