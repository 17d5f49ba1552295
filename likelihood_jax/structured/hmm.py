"""Hidden Markov models with Gaussian emissions: forward-backward, Baum-Welch EM, Viterbi.

A ``K``-state HMM over observations ``x_1..x_T in R^D`` (Rabiner 1989) has

    p(x, z) = pi[z_1] b_1[z_1] prod_{t>1} A[z_{t-1}, z_t] b_t[z_t],
    b_t[k] = N(x_t; mu_k, Sigma_k),

with ``initial = pi (K,)``, ``transition = A (K, K)`` (rows sum to one), ``means (K, D)`` and
``covariances (K, D, D)`` (symmetric positive definite; a diagonal model keeps them
diagonal). Everything is in log space with ``lax.scan``: the forward algorithm gives
``log p(x) = logsumexp_z log p(x, z)`` exactly in ``O(T K^2)``; forward-backward gives the
posterior marginals ``p(z_t | x)`` and expected transition counts; one Baum-Welch step
(EM, Baum et al. 1970) never decreases the total log-likelihood of its sequences (with
``reg_covar = 0``). This is the model of "Latent State Models of Training Dynamics" [P209]
(Hu et al. 2023), who fit it to per-step training metrics.

One sequence per call (``x (T, D)``, callers ``jax.vmap``), except :func:`hmm_em_step` and
:func:`hmm_fit`, which take a batch ``xs (N, T, D)``. Sequences of different lengths are
padded to one ``T`` with a ``mask (T,)`` (``True`` on a prefix of valid steps, at least the
first): padded steps change nothing (their entries of ``x`` are ignored).

Argument checks: shapes are checked when a function is traced (free under ``jax.jit``) and
raise a ``ValueError`` naming the function and the argument; with ``validate_args=True``
the values are checked too (``initial`` and the rows of ``transition`` are probabilities,
``covariances`` symmetric positive definite) through ``jax.experimental.checkify``, as in
:mod:`likelihood_jax._checks`.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from likelihood_jax import _checks, distributions
from likelihood_jax.structured.crf import crf_viterbi

Array = jax.Array
COVARIANCE_TYPES = ("full", "diag")


class HMMParams(NamedTuple):
    """Parameters of a Gaussian HMM.

    ``initial (K,)``, ``transition (K, K)``, ``means (K, D)``, ``covariances (K, D, D)``.
    """

    initial: Array
    transition: Array
    means: Array
    covariances: Array


class HMMPosteriors(NamedTuple):
    """Forward-backward output for one sequence.

    Attributes:
      state_probs: ``p(z_t = k | x)``, shape ``(T, K)`` (zero rows at padded steps).
      transition_counts: ``sum_t p(z_t = i, z_{t+1} = j | x)`` over valid pairs, ``(K, K)``.
      log_likelihood: ``log p(x)``, a scalar.
    """

    state_probs: Array
    transition_counts: Array
    log_likelihood: Array


def _check_params(function: str, initial, transition, means, covariances,
                  validate_args: bool) -> HMMParams:
    """The parameters as arrays of one floating dtype, shapes checked (values if asked)."""
    means = jnp.asarray(means)
    _checks.require_rank(function, "means", means, 2, "(K, D)")
    if not jnp.issubdtype(means.dtype, jnp.floating):
        means = means.astype(jnp.float32)
    num_states, dim = means.shape
    if num_states < 1 or dim < 1:
        raise _checks.error(function, "means", "of shape (K, D) with K >= 1 and D >= 1",
                            f"shape {means.shape}")
    _checks.require_shape(function, "initial", initial, (num_states,), "(K,)")
    _checks.require_shape(function, "transition", transition, (num_states, num_states),
                          "(K, K)")
    _checks.require_shape(function, "covariances", covariances, (num_states, dim, dim),
                          "(K, D, D)")
    initial, transition, covariances = (jnp.asarray(v, means.dtype)
                                        for v in (initial, transition, covariances))
    if validate_args:
        _checks.check_probabilities(function, "initial", initial)
        _checks.check_probabilities(function, "transition", transition, axis=-1)
        _checks.check_positive_definite(function, "covariances", covariances,
                                        jnp.linalg.cholesky(covariances))
    return HMMParams(initial, transition, means, covariances)


def _check_sequence(function: str, x, mask, params: HMMParams) -> tuple[Array, Array]:
    """One sequence ``x (T, D)`` (padded entries zeroed) and its boolean mask ``(T,)``."""
    x = jnp.asarray(x, params.means.dtype)
    _checks.require_rank(function, "x", x, 2, "(T, D)",
                         "; jax.vmap over a batch of sequences" if x.ndim == 3 else "")
    if x.shape[0] < 1:
        raise _checks.error(function, "x", "of shape (T, D) with T >= 1", f"shape {x.shape}")
    _checks.require_shape(function, "x", x, (x.shape[0], params.means.shape[1]), "(T, D)")
    if mask is None:
        return x, jnp.ones(x.shape[:1], bool)
    _checks.require_shape(function, "mask", mask, x.shape[:1], "(T,)")
    mask = jnp.asarray(mask).astype(bool)
    return jnp.where(mask[:, None], x, 0.0), mask


def hmm_emission_log_probs(x: Array, means: Array, covariances: Array) -> Array:
    """``log N(x_t; mu_k, Sigma_k)`` for every step and state, shape ``(T, K)``.

    One Cholesky factorization per state (``O(K D^3)``), then ``O(T K D^2)``.

    Args:
      x: one sequence, shape ``(T, D)``.
      means: shape ``(K, D)``.
      covariances: symmetric positive definite, shape ``(K, D, D)``.
    """
    per_step = jax.vmap(distributions.multivariate_normal_log_prob, in_axes=(0, None, None))
    return jax.vmap(per_step, in_axes=(None, 0, 0), out_axes=1)(x, means, covariances)


def _forward(log_b: Array, log_pi: Array, log_a: Array, mask: Array) -> tuple[Array, Array]:
    """Log forward variables ``alpha (T, K)`` and ``log p(x)``; padded steps copy alpha."""

    def step(alpha, inputs):
        log_b_t, valid = inputs
        updated = jax.nn.logsumexp(alpha[:, None] + log_a, axis=0) + log_b_t
        alpha = jnp.where(valid, updated, alpha)
        return alpha, alpha

    alpha_1 = log_pi + log_b[0]
    alpha_t, alphas = lax.scan(step, alpha_1, (log_b[1:], mask[1:]))
    return jnp.concatenate([alpha_1[None], alphas]), jax.nn.logsumexp(alpha_t)


def _backward(log_b: Array, log_a: Array, mask: Array) -> Array:
    """Log backward variables ``beta (T, K)``: ``beta_T = 0``, zero at padded steps."""

    def step(beta_next, inputs):
        log_b_next, valid_next = inputs
        updated = jax.nn.logsumexp(log_a + (log_b_next + beta_next)[None, :], axis=1)
        beta = jnp.where(valid_next, updated, beta_next)
        return beta, beta

    beta_last = jnp.zeros(log_b.shape[1], log_b.dtype)
    _, betas = lax.scan(step, beta_last, (log_b[1:], mask[1:]), reverse=True)
    return jnp.concatenate([betas, beta_last[None]])


def hmm_log_likelihood(x: Array, initial: Array, transition: Array, means: Array,
                       covariances: Array, mask: Array | None = None, *,
                       validate_args: bool = False) -> Array:
    """Log-likelihood ``log p(x_1..x_T)`` of one sequence (forward algorithm) [P209].

    ``alpha_1 = log pi + log b_1``, ``alpha_t[j] = logsumexp_i(alpha_{t-1}[i] + log A[i, j])
    + log b_t[j]`` with ``b_t[j] = N(x_t; mu_j, Sigma_j)``, ``log p(x) = logsumexp_j
    alpha_T[j]``: exact (the sum over all ``K^T`` state paths) in ``O(T K^2)``.

    Args:
      x: one sequence, shape ``(T, D)`` with ``T >= 1``.
      initial: ``pi``, shape ``(K,)``, a probability vector.
      transition: ``A[i, j] = p(z_{t+1} = j | z_t = i)``, shape ``(K, K)``, rows summing to 1.
      means: shape ``(K, D)``.
      covariances: symmetric positive definite, shape ``(K, D, D)``.
      mask: optional boolean ``(T,)``, ``True`` on the valid prefix (padded steps ignored).
      validate_args: also check the values of the parameters (module docstring).

    Returns:
      A scalar, ``log p(x)`` in nats.

    Raises:
      ValueError: for shapes other than those above; with ``validate_args``, for
        parameters that are not probabilities or covariances that are not positive definite.
    """
    function = "hmm_log_likelihood"
    params = _check_params(function, initial, transition, means, covariances, validate_args)
    x, mask = _check_sequence(function, x, mask, params)
    log_b = hmm_emission_log_probs(x, params.means, params.covariances)
    _, log_likelihood = _forward(log_b, jnp.log(params.initial), jnp.log(params.transition),
                                 mask)
    return log_likelihood


def hmm_posteriors(x: Array, initial: Array, transition: Array, means: Array,
                   covariances: Array, mask: Array | None = None, *,
                   validate_args: bool = False) -> HMMPosteriors:
    """Posterior state marginals and expected transitions of one sequence (forward-backward).

    ``gamma_t[k] = exp(alpha_t[k] + beta_t[k] - log p(x))`` and
    ``xi_t[i, j] = exp(alpha_t[i] + log A[i, j] + log b_{t+1}[j] + beta_{t+1}[j] - log p(x))``
    with ``beta_T = 0``, ``beta_t[i] = logsumexp_j(log A[i, j] + log b_{t+1}[j] +
    beta_{t+1}[j])`` (Rabiner 1989). Exact, ``O(T K^2)``, two ``lax.scan`` passes [P209].

    Args: as :func:`hmm_log_likelihood`.

    Returns:
      :class:`HMMPosteriors` ``(state_probs (T, K), transition_counts (K, K) = sum_t xi_t,
      log_likelihood)``.

    Raises:
      ValueError: as :func:`hmm_log_likelihood`.
    """
    function = "hmm_posteriors"
    params = _check_params(function, initial, transition, means, covariances, validate_args)
    x, mask = _check_sequence(function, x, mask, params)
    return _posteriors(x, mask, params)


def _posteriors(x: Array, mask: Array, params: HMMParams) -> HMMPosteriors:
    """:func:`hmm_posteriors` on checked arguments."""
    log_b = hmm_emission_log_probs(x, params.means, params.covariances)
    log_a = jnp.log(params.transition)
    alphas, log_likelihood = _forward(log_b, jnp.log(params.initial), log_a, mask)
    betas = _backward(log_b, log_a, mask)
    state_probs = jnp.exp(alphas + betas - log_likelihood) * mask[:, None]
    log_xi = (alphas[:-1, :, None] + log_a[None] + (log_b[1:] + betas[1:])[:, None, :]
              - log_likelihood)
    transition_counts = jnp.sum(jnp.exp(log_xi) * mask[1:, None, None], axis=0)
    return HMMPosteriors(state_probs, transition_counts, log_likelihood)


def hmm_viterbi(x: Array, initial: Array, transition: Array, means: Array,
                covariances: Array, *, validate_args: bool = False) -> tuple[Array, Array]:
    """Most likely state path ``argmax_z log p(x, z)`` of one sequence (Viterbi) [P209].

    The max-product recursion of a linear-chain CRF with unary scores ``log b_t``,
    transition scores ``log A`` and start scores ``log pi``
    (:func:`likelihood_jax.structured.crf_viterbi`). Exact, ``O(T K^2)``. Ties go to the
    lowest state index. For a padded sequence pass its valid prefix.

    Args: as :func:`hmm_log_likelihood` (no mask).

    Returns:
      ``(states, log_joint)``: int32 ``(T,)`` and ``max_z log p(x, z)``.

    Raises:
      ValueError: as :func:`hmm_log_likelihood`.
    """
    function = "hmm_viterbi"
    params = _check_params(function, initial, transition, means, covariances, validate_args)
    x, _ = _check_sequence(function, x, None, params)
    log_b = hmm_emission_log_probs(x, params.means, params.covariances)
    return crf_viterbi(log_b, jnp.log(params.transition), jnp.log(params.initial))


def _check_batch(function: str, xs, masks, params: HMMParams) -> tuple[Array, Array]:
    """A batch ``xs (N, T, D)`` with masks ``(N, T)`` (all valid when None)."""
    xs = jnp.asarray(xs, params.means.dtype)
    _checks.require_rank(function, "xs", xs, 3, "(N, T, D)")
    if xs.shape[0] < 1 or xs.shape[1] < 1 or xs.shape[2] != params.means.shape[1]:
        raise _checks.error(function, "xs", f"of shape (N, T, D) with N, T >= 1 and "
                            f"D = {params.means.shape[1]}", f"shape {xs.shape}")
    if masks is None:
        return xs, jnp.ones(xs.shape[:2], bool)
    _checks.require_shape(function, "masks", masks, xs.shape[:2], "(N, T)")
    masks = jnp.asarray(masks).astype(bool)
    return jnp.where(masks[..., None], xs, 0.0), masks


def _m_step(xs: Array, masks: Array, posteriors: HMMPosteriors, covariance_type: str,
            reg_covar: float) -> HMMParams:
    """Closed-form maximizers of the expected complete-data log-likelihood."""
    gamma = posteriors.state_probs  # (N, T, K), zero at padded steps
    initial = jnp.mean(gamma[:, 0], axis=0)
    counts = jnp.sum(posteriors.transition_counts, axis=0)
    rows = jnp.sum(counts, axis=1, keepdims=True)
    num_states = counts.shape[0]
    transition = jnp.where(rows > 0, counts / jnp.where(rows > 0, rows, 1.0), 1.0 / num_states)
    occupancy = jnp.sum(gamma, axis=(0, 1)) + 10.0 * jnp.finfo(xs.dtype).eps
    means = jnp.einsum("ntk,ntd->kd", gamma, xs) / occupancy[:, None]
    centered = xs[:, :, None, :] - means  # (N, T, K, D)
    covariances = jnp.einsum("ntk,ntki,ntkj->kij", gamma, centered, centered)
    covariances = covariances / occupancy[:, None, None]
    if covariance_type == "diag":
        covariances = jnp.eye(xs.shape[-1], dtype=xs.dtype) * covariances
    covariances = covariances + reg_covar * jnp.eye(xs.shape[-1], dtype=xs.dtype)
    return HMMParams(initial, transition, means, covariances)


def _check_em_options(function: str, covariance_type: str, reg_covar) -> None:
    _checks.require_option(function, "covariance_type", covariance_type, COVARIANCE_TYPES)
    _checks.require_at_least(function, "reg_covar", reg_covar, 0.0)


def hmm_em_step(xs: Array, initial: Array, transition: Array, means: Array,
                covariances: Array, masks: Array | None = None, *,
                covariance_type: str = "full", reg_covar: float = 0.0,
                validate_args: bool = False) -> tuple[HMMParams, Array]:
    """One Baum-Welch (EM) iteration over a batch of sequences [P209].

    E-step: forward-backward per sequence (``jax.vmap``), giving ``gamma^n_t`` and
    ``xi^n = sum_t xi^n_t``. M-step (closed form): ``pi = (1/N) sum_n gamma^n_1``,
    ``A[i, j] = sum_n xi^n[i, j] / sum_{n, j'} xi^n[i, j']`` (a state never left keeps a
    uniform row), ``mu_k = sum gamma x / N_k``, ``Sigma_k = sum gamma (x - mu_k)(x - mu_k)^T
    / N_k + reg_covar I`` with ``N_k = sum_{n, t} gamma^n_t[k]`` (plus ``10 eps``, so an
    unused state does not divide by zero); ``covariance_type="diag"`` keeps only the
    diagonal (hmmlearn's ``"diag"``, the model of [P209]'s code). With ``reg_covar = 0`` the
    total log-likelihood never decreases (Baum et al. 1970; Dempster, Laird and Rubin 1977).
    Cost: ``O(N T K (K + D^2))``.

    Args:
      xs: sequences, shape ``(N, T, D)`` (shorter ones padded, see ``masks``).
      initial: ``pi``, shape ``(K,)``.
      transition: ``A``, shape ``(K, K)``, rows summing to one.
      means: shape ``(K, D)``.
      covariances: shape ``(K, D, D)``, symmetric positive definite.
      masks: optional boolean ``(N, T)``, ``True`` on each sequence's valid prefix.
      covariance_type: ``"full"`` or ``"diag"``.
      reg_covar: non-negative value added to each new covariance's diagonal.
      validate_args: also check the values of the parameters (module docstring).

    Returns:
      ``(new_params, log_likelihood)``: the updated :class:`HMMParams` and the total
      log-likelihood ``sum_n log p(x^n)`` under the parameters passed in.

    Raises:
      ValueError: for shapes other than those above, an unknown ``covariance_type`` or a
        negative ``reg_covar``; with ``validate_args``, for bad parameter values.
    """
    function = "hmm_em_step"
    _check_em_options(function, covariance_type, reg_covar)
    params = _check_params(function, initial, transition, means, covariances, validate_args)
    xs, masks = _check_batch(function, xs, masks, params)
    posteriors = jax.vmap(_posteriors, in_axes=(0, 0, None))(xs, masks, params)
    new_params = _m_step(xs, masks, posteriors, covariance_type, reg_covar)
    return new_params, jnp.sum(posteriors.log_likelihood)


def hmm_fit(xs: Array, initial: Array, transition: Array, means: Array, covariances: Array,
            masks: Array | None = None, *, num_iters: int, covariance_type: str = "full",
            reg_covar: float = 0.0) -> tuple[HMMParams, Array]:
    """``num_iters`` Baum-Welch iterations (:func:`hmm_em_step`) in one ``lax.scan`` [P209].

    Args:
      xs: sequences, shape ``(N, T, D)``.
      initial: ``pi``, shape ``(K,)``.
      transition: ``A``, shape ``(K, K)``.
      means: shape ``(K, D)``.
      covariances: shape ``(K, D, D)``.
      masks: optional boolean ``(N, T)``.
      num_iters: the number of EM iterations, an integer ``>= 1``.
      covariance_type: ``"full"`` or ``"diag"`` (:func:`hmm_em_step`).
      reg_covar: non-negative, added to each new covariance's diagonal.

    Returns:
      ``(params, log_likelihoods)``: the parameters after the last iteration and the total
      log-likelihood before each iteration, shape ``(num_iters,)`` (non-decreasing with
      ``reg_covar = 0``).

    Raises:
      ValueError: as :func:`hmm_em_step`, or ``num_iters < 1``.
    """
    function = "hmm_fit"
    _checks.require_integer_at_least(function, "num_iters", num_iters, 1)
    _check_em_options(function, covariance_type, reg_covar)
    params = _check_params(function, initial, transition, means, covariances, False)
    xs, masks = _check_batch(function, xs, masks, params)

    def step(params, _):
        posteriors = jax.vmap(_posteriors, in_axes=(0, 0, None))(xs, masks, params)
        new_params = _m_step(xs, masks, posteriors, covariance_type, reg_covar)
        return new_params, jnp.sum(posteriors.log_likelihood)

    return lax.scan(step, params, None, length=int(num_iters))


def hmm_initial_params(key: Array, xs: Array, num_states: int, masks: Array | None = None, *,
                       stay_probability: float = 0.5,
                       covariance_type: str = "full") -> HMMParams:
    """A starting point for EM: means at ``num_states`` distinct random valid observations.

    ``pi`` uniform, ``A = stay I + (1 - stay) / K`` off and on the diagonal (rows sum to
    one), every covariance the pooled covariance of the valid observations plus ``1e-3 I``
    (its diagonal for ``covariance_type="diag"``).

    Args:
      key: a ``jax.random.key``.
      xs: sequences ``(N, T, D)``.
      num_states: ``K >= 1``, at most the number of valid observations.
      masks: optional boolean ``(N, T)``.
      stay_probability: extra self-transition mass in ``[0, 1)``.
      covariance_type: ``"full"`` or ``"diag"``.

    Raises:
      ValueError: for a bad shape or option.
    """
    function = "hmm_initial_params"
    _checks.require_integer_at_least(function, "num_states", num_states, 1)
    _checks.require_option(function, "covariance_type", covariance_type, COVARIANCE_TYPES)
    xs = jnp.asarray(xs)
    _checks.require_rank(function, "xs", xs, 3, "(N, T, D)")
    if not jnp.issubdtype(xs.dtype, jnp.floating):
        xs = xs.astype(jnp.float32)
    masks = jnp.ones(xs.shape[:2], bool) if masks is None else jnp.asarray(masks, bool)
    _checks.require_shape(function, "masks", masks, xs.shape[:2], "(N, T)")
    points, weights = xs.reshape(-1, xs.shape[-1]), masks.reshape(-1).astype(xs.dtype)
    chosen = jax.random.choice(key, points.shape[0], (num_states,), replace=False,
                               p=weights / jnp.sum(weights))
    mean = jnp.sum(points * weights[:, None], 0) / jnp.sum(weights)
    centered = (points - mean) * jnp.sqrt(weights)[:, None]
    pooled = centered.T @ centered / jnp.sum(weights)
    eye = jnp.eye(xs.shape[-1], dtype=xs.dtype)
    if covariance_type == "diag":
        pooled = pooled * eye
    transition = (stay_probability * jnp.eye(num_states)
                  + (1.0 - stay_probability) / num_states)
    return HMMParams(jnp.full((num_states,), 1.0 / num_states, xs.dtype),
                     transition.astype(xs.dtype), points[chosen],
                     jnp.broadcast_to(pooled + 1e-3 * eye,
                                      (num_states, *pooled.shape)))


def hmm_sample(key: Array, num_steps: int, initial: Array, transition: Array, means: Array,
               covariances: Array) -> tuple[Array, Array]:
    """One sequence ``(states (T,), x (T, D))`` drawn from the HMM (ancestral sampling).

    Raises:
      ValueError: for bad shapes or ``num_steps < 1``.
    """
    function = "hmm_sample"
    _checks.require_integer_at_least(function, "num_steps", num_steps, 1)
    params = _check_params(function, initial, transition, means, covariances, False)
    state_key, noise_key = jax.random.split(key)

    def step(state, step_key):
        following = jax.random.categorical(step_key, jnp.log(params.transition[state]))
        return following, following

    keys = jax.random.split(state_key, int(num_steps))
    first = jax.random.categorical(keys[0], jnp.log(params.initial))
    _, rest = lax.scan(step, first, keys[1:])
    states = jnp.concatenate([first[None], rest]).astype(jnp.int32)
    chol = jnp.linalg.cholesky(params.covariances)[states]
    noise = jax.random.normal(noise_key, (int(num_steps), params.means.shape[1]),
                              params.means.dtype)
    return states, params.means[states] + jnp.einsum("tij,tj->ti", chol, noise)


def hmm_num_parameters(num_states: int, dim: int, covariance_type: str = "full") -> int:
    """The number of free parameters of a Gaussian HMM (hmmlearn's count).

    ``(K - 1) + K (K - 1) + K D`` plus ``K D`` (diag) or ``K D (D + 1) / 2`` (full)
    covariance entries.
    """
    function = "hmm_num_parameters"
    _checks.require_integer_at_least(function, "num_states", num_states, 1)
    _checks.require_integer_at_least(function, "dim", dim, 1)
    _checks.require_option(function, "covariance_type", covariance_type, COVARIANCE_TYPES)
    covariance = dim if covariance_type == "diag" else dim * (dim + 1) // 2
    return (num_states - 1) + num_states * (num_states - 1) + num_states * (dim + covariance)


def hmm_bic(log_likelihood: float, num_points: int, num_states: int, dim: int,
            covariance_type: str = "full") -> float:
    """Bayesian information criterion ``-2 log L + p log n`` (smaller is better).

    ``p`` from :func:`hmm_num_parameters`; ``n`` the number of observations (time steps,
    summed over sequences), as hmmlearn's ``bic``, which [P209]'s code evaluates on
    held-out sequences to choose ``K``.
    """
    _checks.require_integer_at_least("hmm_bic", "num_points", num_points, 1)
    return (-2.0 * float(log_likelihood)
            + hmm_num_parameters(num_states, dim, covariance_type) * math.log(num_points))
