r"""Meta-learned block proposals for Metropolis-Hastings [P081].

Wang, Wu, Moore & Russell (NeurIPS 2018), "Meta-Learning MCMC Proposals" (arXiv:1708.06040).
A *motif* is a recurring piece of a graphical model: a block of variables ``x_B`` and its
Markov blanket ``x_MB``. A neural proposal ``q_phi(x_B | x_MB)`` (here a mixture-density
network, MDN: a diagonal Gaussian mixture whose parameters a network reads off the blanket)
is trained once, on joint draws ``(x_B, x_MB) ~ p`` of the motif from the model itself::

    min_phi  E_{p(x_B, x_MB)} [-log q_phi(x_B | x_MB)]
          =  E_{p(x_MB)} KL(p(x_B | x_MB) || q_phi(x_B | x_MB)) + const,

so it is an amortised fit to the block's Gibbs conditional (Sec. 3 of the paper). On every
occurrence of the motif in an unseen model it then serves as a Metropolis-Hastings block
proposal (:func:`likelihood_jax.energy.mcmc.metropolis_hastings`): where ``q = p(x_B | x_MB)``
exactly it is block Gibbs and every proposal is accepted; where it is only close, the
Hastings ratio keeps the target exact.

Functions:

* :func:`mdn_params`, :func:`mdn_log_prob`, :func:`mdn_sample`: the MDN's density;
* :func:`random_scan_block_proposal`: ``(proposal_sample, proposal_log_prob)`` for
  :func:`~likelihood_jax.energy.mcmc.metropolis_hastings` over a state of ``J`` blocks
  (rows): pick block ``j`` with probability ``w_j``, redraw that row only;
* :func:`mdn_block_conditional`, :func:`random_walk_block_conditional`,
  :func:`independent_block_conditional`: the per-block proposals it mixes;
* motifs with analytic truth: the conjugate Gaussian motif
  (:func:`sample_gaussian_motif`, :func:`gaussian_motif_posterior`) and the mixture-means
  motif of an open-universe-style Gaussian mixture (:func:`sample_gmm_instance`,
  :func:`gmm_log_posterior`, :func:`gmm_blanket_features`, :func:`matched_mean_error`);
* :func:`effective_sample_size` of a chain (autocorrelation, Geyer's initial positive
  sequence).
"""

from __future__ import annotations

import itertools
import math
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from likelihood_jax import _checks, distributions

Array = jax.Array

LOG_SCALE_RANGE = (-7.0, 4.0)
"""MDN log standard deviations are clipped to this range (numerical safety only)."""


class MDNParams(NamedTuple):
    """A diagonal Gaussian mixture over ``R^D`` with ``M`` components.

    Attributes:
      logits: unnormalized log weights ``(M,)``.
      means: ``(M, D)``.
      log_scales: log standard deviations ``(M, D)``.
    """

    logits: Array
    means: Array
    log_scales: Array


def mdn_output_size(num_components: int, dim: int) -> int:
    """Length of the raw network output :func:`mdn_params` splits: ``M (1 + 2 D)``."""
    _checks.require_integer_at_least("mdn_output_size", "num_components", num_components, 1)
    _checks.require_integer_at_least("mdn_output_size", "dim", dim, 1)
    return num_components * (1 + 2 * dim)


def mdn_params(raw: Array, num_components: int, dim: int) -> MDNParams:
    """Splits a raw output vector ``(M (1 + 2 D),)`` into :class:`MDNParams`.

    The layout is ``[logits (M), means (M D), log_scales (M D)]``; log scales are clipped to
    :data:`LOG_SCALE_RANGE`.
    """
    size = mdn_output_size(num_components, dim)
    _checks.require_shape("mdn_params", "raw", raw, (size,), "(M (1 + 2 D),)")
    logits = raw[:num_components]
    means = raw[num_components:num_components * (1 + dim)].reshape(num_components, dim)
    log_scales = raw[num_components * (1 + dim):].reshape(num_components, dim)
    return MDNParams(logits, means, jnp.clip(log_scales, *LOG_SCALE_RANGE))


def _check_mdn(function: str, params: MDNParams, x: Array) -> None:
    _checks.require_rank(function, "params.means", params.means, 2, "(M, D)")
    num_components, dim = jnp.shape(params.means)
    _checks.require_shape(function, "params.logits", params.logits, (num_components,), "(M,)")
    _checks.require_shape(function, "params.log_scales", params.log_scales,
                          (num_components, dim), "(M, D)")
    if x is not None:
        _checks.require_shape(function, "x", x, (dim,), "(D,)")


def mdn_log_prob(params: MDNParams, x: Array) -> Array:
    """``log q(x) = logsumexp_m [log softmax(logits)_m + sum_d log N(x_d; mu_md, s_md^2)]``.

    Exact; one point ``x (D,)`` (``jax.vmap`` over a batch). Cost ``O(M D)``.
    """
    _check_mdn("mdn_log_prob", params, x)
    per_component = jnp.sum(distributions.normal_log_prob(x, params.means, params.log_scales),
                            axis=-1)
    return jax.nn.logsumexp(jax.nn.log_softmax(params.logits) + per_component)


def mdn_sample(key: Array, params: MDNParams) -> Array:
    """One draw ``(D,)`` of the mixture: a component ``m ~ softmax(logits)``, then its Gaussian."""
    _check_mdn("mdn_sample", params, None)
    component_key, noise_key = jax.random.split(key)
    m = jax.random.categorical(component_key, params.logits)
    noise = jax.random.normal(noise_key, params.means.shape[1:], params.means.dtype)
    return params.means[m] + jnp.exp(params.log_scales[m]) * noise


# -- Block proposals for metropolis_hastings ------------------------------------------------


BlockConditional = Callable
"""``(x (J, d), j) -> (sample_fn(key) -> (d,), log_prob_fn(value (d,)) -> scalar)``: the
proposal of block ``j`` given the whole current state ``x`` (for a Gibbs-like proposal only
its Markov blanket is read)."""


def random_scan_block_proposal(block_conditional: BlockConditional, block_weights: Array):
    """The random-scan block proposal as ``(proposal_sample, proposal_log_prob)``.

    The state ``x`` has ``J`` blocks as rows ``(J, d)``. A draw picks block ``j`` with
    probability ``w_j`` and replaces row ``j`` by ``x'_j ~ q_j(. | x)``; every other row is
    kept. Its density (with respect to the matching mixture of base measures) is::

        q(x' | x) = sum_j w_j [x'_{-j} = x_{-j}] q_j(x'_j | x),

    which :func:`~likelihood_jax.energy.mcmc.metropolis_hastings` uses in the Hastings ratio
    (for a continuous proposal exactly one row differs almost surely, so the sum has one
    term; where no row differs every term with ``w_j > 0`` counts, consistently in both
    directions). A proposal ``q_j`` that reads only ``x_{-j}`` and equals the conditional
    ``p(x_j | x_{-j})`` makes the ratio 1 (random-scan Gibbs) [P081].

    Args:
      block_conditional: see :data:`BlockConditional`.
      block_weights: ``(J,)`` non-negative selection probabilities summing to one (zero
        for blocks that must never move, e.g. padding).

    Returns:
      ``proposal_sample(key, x) -> x'`` and ``proposal_log_prob(x_to, x_from) -> scalar``.
    """
    function = "random_scan_block_proposal"
    _checks.require_callable(function, "block_conditional", block_conditional)
    _checks.require_rank(function, "block_weights", block_weights, 1, "(J,)")
    log_weights = jnp.log(jnp.asarray(block_weights))

    def proposal_sample(key, x):
        _checks.require_shape(function, "x", x, (log_weights.shape[0], x.shape[-1]), "(J, d)")
        block_key, draw_key = jax.random.split(key)
        j = jax.random.categorical(block_key, log_weights)
        sample_fn, _ = block_conditional(x, j)
        return x.at[j].set(sample_fn(draw_key).astype(x.dtype))

    def proposal_log_prob(x_to, x_from):
        def term(j):
            _, log_prob_fn = block_conditional(x_from, j)
            others_equal = jnp.all((x_to == x_from) | (jnp.arange(x_to.shape[0]) == j)[:, None])
            return jnp.where(others_equal & (log_weights[j] > -jnp.inf),
                             log_weights[j] + log_prob_fn(x_to[j]), -jnp.inf)

        return jax.nn.logsumexp(jax.vmap(term)(jnp.arange(x_to.shape[0])))

    return proposal_sample, proposal_log_prob


def mdn_block_conditional(params_fn: Callable[[Array, Array], MDNParams]) -> BlockConditional:
    """The learned proposal ``q_phi(x_j | x_MB(j)) = MDN(params_fn(x, j))`` as a block proposal.

    ``params_fn(x, j)`` must read only the Markov blanket of block ``j`` (not ``x[j]``), so
    that the proposal is an independence proposal given the blanket, like a Gibbs update.
    """
    _checks.require_callable("mdn_block_conditional", "params_fn", params_fn)

    def conditional(x, j):
        params = params_fn(x, j)
        return (lambda key: mdn_sample(key, params)), (lambda v: mdn_log_prob(params, v))

    return conditional


def random_walk_block_conditional(scale) -> BlockConditional:
    """Single-site random-walk Metropolis: ``x'_j ~ N(x_j, scale^2 I)`` (symmetric)."""
    _checks.require_greater("random_walk_block_conditional", "scale", scale)
    log_scale = math.log(float(scale))

    def conditional(x, j):
        center = x[j]
        return ((lambda key: center + scale * jax.random.normal(key, center.shape, center.dtype)),
                (lambda v: jnp.sum(distributions.normal_log_prob(v, center, log_scale))))

    return conditional


def independent_block_conditional(mean, scale) -> BlockConditional:
    """``x'_j ~ N(mean, scale^2 I)`` whatever the state (e.g. the block's prior)."""
    _checks.require_greater("independent_block_conditional", "scale", scale)
    log_scale = math.log(float(scale))

    def conditional(x, j):
        center = jnp.broadcast_to(jnp.asarray(mean, x.dtype), x.shape[1:])
        return ((lambda key: center + scale * jax.random.normal(key, center.shape, center.dtype)),
                (lambda v: jnp.sum(distributions.normal_log_prob(v, center, log_scale))))

    return conditional


# -- The conjugate Gaussian motif ------------------------------------------------------------


class GaussianMotif(NamedTuple):
    """One occurrence of ``mu ~ N(m0, s0^2)``, ``y_i | mu ~ N(mu, sigma^2)``, ``i <= n``.

    Attributes:
      prior_mean, prior_log_std, noise_log_std: ``m0``, ``log s0``, ``log sigma`` (scalars).
      observations: ``y (n,)``, the Markov blanket of the block ``mu``.
      block: ``mu`` (shape ``(1,)``), the block.
    """

    prior_mean: Array
    prior_log_std: Array
    noise_log_std: Array
    observations: Array
    block: Array


def sample_gaussian_motif(key: Array, num_observations: int, *, prior_mean_range=(-3.0, 3.0),
                          prior_log_std_range=(-1.0, 1.0),
                          noise_log_std_range=(-1.0, 1.0)) -> GaussianMotif:
    """An ancestral draw of the motif with its parameters drawn uniformly from the ranges.

    Training on many parameter draws is what lets one proposal serve unseen models [P081].
    """
    _checks.require_integer_at_least("sample_gaussian_motif", "num_observations",
                                     num_observations, 1)
    k_m, k_s, k_n, k_mu, k_y = jax.random.split(key, 5)
    uniform = lambda k, r: jax.random.uniform(k, (), minval=r[0], maxval=r[1])  # noqa: E731
    m0, log_s0 = uniform(k_m, prior_mean_range), uniform(k_s, prior_log_std_range)
    log_sigma = uniform(k_n, noise_log_std_range)
    mu = m0 + jnp.exp(log_s0) * jax.random.normal(k_mu, (1,))
    y = mu + jnp.exp(log_sigma) * jax.random.normal(k_y, (num_observations,))
    return GaussianMotif(m0, log_s0, log_sigma, y, mu)


def gaussian_motif_posterior(prior_mean, prior_log_std, noise_log_std, observations):
    """The analytic conditional ``p(mu | y) = N(m_n, s_n^2)``: returns ``(m_n, s_n)``.

    ``1 / s_n^2 = 1 / s0^2 + n / sigma^2``, ``m_n = s_n^2 (m0 / s0^2 + sum_i y_i / sigma^2)``.
    """
    _checks.require_rank("gaussian_motif_posterior", "observations", observations, 1, "(n,)")
    prior_precision = jnp.exp(-2.0 * prior_log_std)
    noise_precision = jnp.exp(-2.0 * noise_log_std)
    precision = prior_precision + observations.shape[0] * noise_precision
    mean = (prior_mean * prior_precision + noise_precision * jnp.sum(observations)) / precision
    return mean, jax.lax.rsqrt(precision)


def gaussian_motif_features(motif: GaussianMotif) -> Array:
    """The network input of the Gaussian motif: ``[m0, log s0, log sigma, y_1..y_n]``."""
    return jnp.concatenate([jnp.stack([motif.prior_mean, motif.prior_log_std,
                                       motif.noise_log_std]), motif.observations])


# -- The mixture-means motif of an open-universe-style Gaussian mixture ----------------------


class GMMInstance(NamedTuple):
    """A Gaussian mixture with ``K`` active of ``K_max`` components and ``N`` points in ``R^2``.

    ``mu_k ~ N(0, prior_std^2 I)`` for active ``k``, ``z_i ~ Uniform(active)``,
    ``x_i ~ N(mu_{z_i}, noise_std^2 I)``. The blocks are the component means.

    Attributes:
      points: ``(N, D)``.
      means: the generating means ``(K_max, D)`` (padding rows are zero).
      active: ``(K_max,)`` float mask, 1 for the ``K`` components of this model.
    """

    points: Array
    means: Array
    active: Array


def sample_gmm_instance(key: Array, *, num_points: int, max_components: int,
                        min_components: int = 1, prior_std: float = 3.0,
                        noise_std: float = 0.5, dim: int = 2) -> GMMInstance:
    """An instance with ``K ~ Uniform{min_components..max_components}`` (open-universe style)."""
    function = "sample_gmm_instance"
    _checks.require_integer_at_least(function, "num_points", num_points, 1)
    _checks.require_integer_at_least(function, "min_components", min_components, 1)
    _checks.require_integer_at_least(function, "max_components", max_components, min_components)
    _checks.require_greater(function, "prior_std", prior_std)
    _checks.require_greater(function, "noise_std", noise_std)
    k_num, k_mu, k_z, k_x = jax.random.split(key, 4)
    num = jax.random.randint(k_num, (), min_components, max_components + 1)
    active = (jnp.arange(max_components) < num).astype(jnp.float32)
    means = prior_std * jax.random.normal(k_mu, (max_components, dim)) * active[:, None]
    z = jax.random.categorical(k_z, jnp.log(active), shape=(num_points,))
    points = means[z] + noise_std * jax.random.normal(k_x, (num_points, dim))
    return GMMInstance(points, means, active)


def _component_log_likelihoods(means: Array, points: Array, noise_std: float) -> Array:
    """``log N(x_i; mu_k, noise_std^2 I)``, shape ``(N, K_max)``."""
    return jnp.sum(distributions.normal_log_prob(points[:, None, :], means[None],
                                                 math.log(noise_std)), axis=-1)


def gmm_log_posterior(means: Array, instance: GMMInstance, *, prior_std: float = 3.0,
                      noise_std: float = 0.5) -> Array:
    """``log p(mu | x) + const`` of the mixture, assignments summed out, inactive rows ignored.

    ``sum_{k active} log N(mu_k; 0, prior_std^2 I)
    + sum_i log sum_{k active} (1 / K) N(x_i; mu_k, noise_std^2 I)``.
    """
    _checks.require_shape("gmm_log_posterior", "means", means, instance.means.shape, "(K_max, D)")
    log_active = jnp.log(instance.active)
    prior = jnp.sum(instance.active[:, None] * distributions.normal_log_prob(
        means, 0.0, math.log(prior_std)))
    mixture = jax.nn.logsumexp(_component_log_likelihoods(means, instance.points, noise_std)
                               + log_active - jnp.log(jnp.sum(instance.active)), axis=-1)
    return prior + jnp.sum(mixture)


def gmm_blanket_features(means: Array, j: Array, instance: GMMInstance, *,
                         noise_std: float = 0.5, floor: float = -20.0) -> Array:
    """The Markov blanket of mean ``j`` as per-point features ``(N, D + 1)``.

    Row ``i`` is ``[x_i, max(l_i, floor) / |floor|]`` with
    ``l_i = log sum_{k active, k != j} N(x_i; mu_k, noise_std^2 I)``: how well the *other*
    components already explain the point (``floor`` where none does). Together with the
    number of components this is everything ``p(mu_j | mu_{-j}, x)`` depends on; ``means[j]``
    itself is never read.
    """
    others = instance.active * (jnp.arange(instance.active.shape[0]) != j)
    explained = jax.nn.logsumexp(_component_log_likelihoods(means, instance.points, noise_std)
                                 + jnp.log(others), axis=-1)
    explained = jnp.maximum(jnp.nan_to_num(explained, neginf=floor), floor) / abs(floor)
    return jnp.concatenate([instance.points, explained[:, None]], axis=-1)


def matched_mean_error(estimate, truth, active) -> float:
    """``min_perm mean_k |estimate_perm(k) - truth_k|`` over the active components (numpy).

    The mixture's likelihood is invariant to relabelling, so the error is taken at the best
    matching (enumerated: ``K! `` permutations, for small ``K``).
    """
    active = np.asarray(active) > 0
    est, tru = np.asarray(estimate)[active], np.asarray(truth)[active]
    if est.shape != tru.shape or est.ndim != 2:
        raise ValueError(f"matched_mean_error: estimate and truth must be (K_max, D) with the "
                         f"same shape, got {np.shape(estimate)} and {np.shape(truth)}")
    best = np.inf
    for perm in itertools.permutations(range(len(est))):
        best = min(best, float(np.mean(np.linalg.norm(est[list(perm)] - tru, axis=-1))))
    return best


def effective_sample_size(trace) -> np.ndarray:
    """Effective sample size of each coordinate of a chain ``trace (T, ...)`` (numpy).

    ``ESS = T / tau`` with ``tau = -1 + 2 sum_m Gamma_m``, ``Gamma_m = rho_{2m} + rho_{2m+1}``
    of the sample autocorrelations ``rho_t`` (by FFT), summed over Geyer's initial positive
    sequence (up to the first non-positive ``Gamma_m``; Geyer 1992). A constant coordinate
    gets ESS 0.
    """
    x = np.asarray(trace, np.float64)
    if x.ndim < 1 or x.shape[0] < 4:
        raise ValueError(f"effective_sample_size: trace must be (T, ...) with T >= 4, got shape "
                         f"{x.shape}")
    num = x.shape[0]
    x = (x - x.mean(0)).reshape(num, -1)
    spectrum = np.fft.rfft(x, n=2 * num, axis=0)
    acov = np.fft.irfft(spectrum * np.conj(spectrum), axis=0)[:num] / num
    variance = acov[0]
    rho = acov / np.where(variance > 0, variance, 1.0)
    pairs = rho[0:num - 1:2] + rho[1:num:2]  # Gamma_m = rho_2m + rho_2m+1, m = 0, 1, ...
    keep = np.cumprod(pairs > 0, axis=0)
    tau = -1.0 + 2.0 * np.sum(pairs * keep, axis=0)
    ess = np.where(variance > 0, num / np.maximum(tau, 1e-12), 0.0)
    return ess.reshape(np.shape(trace)[1:])
