r"""Incremental Gaussian mixtures on precision matrices [P138, P211].

The Incremental Gaussian Mixture Network (IGMN; Engel & Heinen) learns a full-covariance
Gaussian mixture from a stream in a single pass: each point updates every component once and
is discarded. Pinto & Engel (2015), "A Fast Incremental Gaussian Mixture Model" (PLOS ONE)
[P138], and "Scalable and Incremental Learning of Gaussian Mixture Models" (arXiv:1701.03940)
[P211] keep the **precision** ``Lambda_k = Sigma_k^{-1}`` and ``log det Sigma_k`` instead of
``Sigma_k``, so that a point costs ``O(K D^2)`` instead of the ``O(K D^3)`` of an inversion.

One point ``x`` (:func:`incremental_gmm_update`):

1. **Novelty.** ``d_k^2 = (x - mu_k)^T Lambda_k (x - mu_k)``. When no active component has
   ``d_k^2 < chi^2_{D, 1 - tau}`` (:func:`novelty_threshold`), a component is created at
   ``mu = x`` with ``Sigma = diag(sigma_ini^2)`` (``sigma_ini = delta * std(data)``, the
   paper's initial width), ``sp = 1``, ``v = 1``.
2. **Posterior.** ``p(k | x) = sp_k N(x; mu_k, Sigma_k) / sum_j sp_j N(x; mu_j, Sigma_j)``
   (priors ``p(k) = sp_k / sum_j sp_j``), from ``d_k^2`` and ``log det Sigma_k``.
3. **Update** of every component: ``v_k += 1``, ``sp_k += p(k|x)``, ``w = p(k|x) / sp_k``,
   ``Delta mu = w (x - mu_k)``, ``mu_k += Delta mu``, ``e* = x - mu_k`` (new mean), and the
   IGMN covariance recursion ``Sigma_k <- (1 - w) Sigma_k + w e* e*^T - Delta mu Delta mu^T``,
   carried out on the precision by two rank-one updates:

   * Sherman-Morrison for the added term, ``u = sqrt(w) e*``, ``A = Lambda / (1 - w)``:
     ``Lambda_bar = A - (A u)(A u)^T / (1 + u^T A u)``; matrix determinant lemma:
     ``det Sigma_bar = (1 - w)^D det Sigma (1 + u^T A u)``;
   * and for the subtracted term: ``Lambda = Lambda_bar + (Lambda_bar Dmu)(Lambda_bar Dmu)^T
     / (1 - Dmu^T Lambda_bar Dmu)``, ``det Sigma = det Sigma_bar (1 - Dmu^T Lambda_bar Dmu)``.
4. **Removal** of spurious components: ``v_k > v_min`` and ``sp_k < sp_min``.

(The IGMN recursion subtracts ``Delta mu Delta mu^T``; the exact weighted covariance would add
``(1 - w) Delta mu Delta mu^T``, i.e. ``(1 - w)(Sigma + w e e^T)`` with ``e = x - mu_old``.
The two differ at ``O(w^2)``; ``recursion="igmn"`` (the default) follows the papers and their
public code. Its subtraction makes a covariance indefinite when ``w`` exceeds
``(3 - sqrt 5) / 2 ~ 0.38`` and the point is far, e.g. for the second point of a component
created with a small posterior; ``recursion="exact"`` is one Sherman-Morrison update whose
denominator is at least 1, so ``Sigma`` stays positive definite.)

``method="refactorize"`` is the ``O(K D^3)`` reference (the IGMN as it was): it carries
``Sigma_k`` itself, applies the same recursion to it and refactorizes (Cholesky, inverse,
log-determinant) after every point. Both methods give the same mixture up to rounding.

Shapes follow :mod:`likelihood_jax.mixtures.gmm`: a stream ``x (N, D)``; a state holds
``capacity = K`` slots, of which ``active`` are in use (a fixed size, so that ``lax.scan`` and
``jax.vmap`` apply). When every slot is in use, a novel point updates the existing components
instead of creating one.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from scipy import stats

from likelihood_jax import _checks

Array = jax.Array

METHODS = ("rank_one", "refactorize")
RECURSIONS = ("igmn", "exact")


class IncrementalGMM(NamedTuple):
    """The state of an incremental Gaussian mixture of ``K`` slots in ``D`` dimensions.

    Attributes:
      means: ``mu_k``, shape ``(K, D)``.
      precisions: ``Lambda_k = Sigma_k^{-1}``, shape ``(K, D, D)``.
      log_dets: ``log det Sigma_k``, shape ``(K,)``.
      counts: ``sp_k``, the accumulated posterior of each component, shape ``(K,)``.
      ages: ``v_k``, the number of points each component has seen, shape ``(K,)``.
      active: which slots hold a component, shape ``(K,)`` bool.
      covariances: ``Sigma_k`` ``(K, D, D)``, kept only by ``method="refactorize"``
        (None otherwise).
    """

    means: Array
    precisions: Array
    log_dets: Array
    counts: Array
    ages: Array
    active: Array
    covariances: Array | None = None


def incremental_gmm_init(capacity: int, dim: int, *, dtype=jnp.float32,
                         method: str = "rank_one") -> IncrementalGMM:
    """An empty state: ``capacity`` slots, none active (the first point creates one).

    Args:
      capacity: the most components the mixture may hold, ``K >= 1``.
      dim: the data dimension ``D >= 1``.
      dtype: a floating dtype.
      method: ``"rank_one"`` or ``"refactorize"`` (which also keeps the covariances).
    """
    function = "incremental_gmm_init"
    _checks.require_integer_at_least(function, "capacity", capacity, 1)
    _checks.require_integer_at_least(function, "dim", dim, 1)
    _checks.require_floating_dtype(function, "dtype", dtype)
    _checks.require_option(function, "method", method, METHODS)
    eye = jnp.broadcast_to(jnp.eye(dim, dtype=dtype), (capacity, dim, dim))
    zeros = jnp.zeros(capacity, dtype)
    return IncrementalGMM(jnp.zeros((capacity, dim), dtype), eye, zeros, zeros, zeros,
                          jnp.zeros(capacity, bool), eye if method == "refactorize" else None)


def novelty_threshold(dim: int, tau: float) -> float:
    """``chi^2_{D, 1 - tau}``: the squared Mahalanobis distance below which a point is "known".

    A point farther than this from every component (probability ``tau`` for a point drawn
    from that component) creates a new one [P138].
    """
    _checks.require_integer_at_least("novelty_threshold", "dim", dim, 1)
    if not 0.0 < float(tau) < 1.0:
        raise _checks.error("novelty_threshold", "tau", "in (0, 1)", repr(tau))
    return float(stats.chi2.ppf(1.0 - float(tau), int(dim)))


def initial_variance(x, delta: float) -> np.ndarray:
    """``sigma_ini^2 = (delta * std(x))^2`` per dimension, the paper's initial covariance.

    ``x (N, D)`` is a sample of the stream (the range of the data is assumed known in advance,
    as in [P138]); a dimension without spread gets the mean variance of the others (or 1).
    """
    x = np.asarray(x, np.float64)
    _checks.require_rank("initial_variance", "x", x, 2, "(N, D)")
    if not float(delta) > 0:
        raise _checks.error("initial_variance", "delta", "> 0", repr(delta))
    var = x.var(axis=0)
    fill = var[var > 0].mean() if np.any(var > 0) else 1.0
    return (float(delta) ** 2 * np.where(var > 0, var, fill)).astype(np.float32)


def _rank_one_precision_update(precision: Array, log_det: Array, w: Array, e_star: Array,
                               delta_mu: Array) -> tuple[Array, Array]:
    """``Sigma <- (1 - w) Sigma + w e* e*^T - Dmu Dmu^T`` on ``(Lambda, log det Sigma)``.

    Two Sherman-Morrison updates and the matrix determinant lemma, ``O(D^2)`` [P138].
    """
    dim = precision.shape[-1]
    scaled = precision / (1.0 - w)
    u = jnp.sqrt(w) * e_star
    au = scaled @ u
    plus = 1.0 + u @ au
    bar = scaled - jnp.outer(au, au) / plus
    bd = bar @ delta_mu
    minus = 1.0 - delta_mu @ bd
    new_precision = bar + jnp.outer(bd, bd) / minus
    new_log_det = log_det + dim * jnp.log1p(-w) + jnp.log(plus) + jnp.log(minus)
    return new_precision, new_log_det


def _exact_precision_update(precision: Array, log_det: Array, w: Array, e_star: Array,
                            delta_mu: Array) -> tuple[Array, Array]:
    """``Sigma <- (1 - w) (Sigma + w e e^T)``, ``e = x - mu_old``: one Sherman-Morrison update.

    The exact recursion of a weighted covariance; its denominator ``1 + w e^T Lambda e >= 1``
    keeps ``Sigma`` positive definite.
    """
    dim = precision.shape[-1]
    e = e_star + delta_mu  # x - mu_old
    pe = precision @ e
    plus = 1.0 + w * (e @ pe)
    new_precision = (precision - (w / plus) * jnp.outer(pe, pe)) / (1.0 - w)
    new_log_det = log_det + dim * jnp.log1p(-w) + jnp.log(plus)
    return new_precision, new_log_det


def _covariance_recursion(covariance: Array, w: Array, e_star: Array, delta_mu: Array,
                          recursion: str) -> Array:
    """The new ``Sigma`` of either recursion, computed on ``Sigma`` itself."""
    if recursion == "exact":
        e = e_star + delta_mu
        return (1.0 - w) * (covariance + w * jnp.outer(e, e))
    return (1.0 - w) * covariance + w * jnp.outer(e_star, e_star) - jnp.outer(delta_mu, delta_mu)


def _refactorized_update(covariance: Array, w: Array, e_star: Array, delta_mu: Array,
                         recursion: str) -> tuple[Array, Array, Array]:
    """The recursion on ``Sigma``, then a Cholesky factorization: ``O(D^3)``."""
    new = _covariance_recursion(covariance, w, e_star, delta_mu, recursion)
    chol = jnp.linalg.cholesky(new)
    eye = jnp.eye(new.shape[-1], dtype=new.dtype)
    precision = jax.scipy.linalg.cho_solve((chol, True), eye)
    log_det = 2.0 * jnp.sum(jnp.log(jnp.diagonal(chol)))
    return new, precision, log_det


def _mahalanobis(state: IncrementalGMM, x: Array) -> Array:
    """``d_k^2 = (x - mu_k)^T Lambda_k (x - mu_k)`` for every slot, shape ``(K,)``."""
    e = x - state.means
    return jnp.einsum("kd,kde,ke->k", e, state.precisions, e)


def _component_log_densities(state: IncrementalGMM, d2: Array) -> Array:
    """``log N(x; mu_k, Sigma_k)`` from ``d_k^2`` and ``log det Sigma_k``, shape ``(K,)``."""
    dim = state.means.shape[-1]
    return -0.5 * (dim * math.log(2.0 * math.pi) + state.log_dets + d2)


def _check_point(function: str, state: IncrementalGMM, x) -> Array:
    if not isinstance(state, IncrementalGMM):
        raise _checks.error(function, "state", "an IncrementalGMM", type(state).__name__)
    x = jnp.asarray(x)
    _checks.require_floating(function, "x", x)
    _checks.require_shape(function, "x", x, state.means.shape[-1:], "(D,)")
    return x


def incremental_gmm_update(state: IncrementalGMM, x: Array, variance: Array, *,
                           threshold: float, min_count: float, min_age: float,
                           method: str = "rank_one", recursion: str = "igmn") -> IncrementalGMM:
    """Learns one point: novelty, creation, posterior, update, removal (module docstring).

    Cost: ``O(K D^2)`` with ``method="rank_one"``, ``O(K D^3)`` with ``"refactorize"``.

    Args:
      state: the current mixture (:func:`incremental_gmm_init`).
      x: one point, shape ``(D,)``.
      variance: the diagonal ``sigma_ini^2`` of a new component's covariance, shape ``(D,)``
        (:func:`initial_variance`), positive.
      threshold: the novelty threshold on ``d^2`` (:func:`novelty_threshold`).
      min_count: ``sp_min``; a component older than ``min_age`` points with an accumulated
        posterior below it is removed.
      min_age: ``v_min``.
      method: ``"rank_one"`` (the papers') or ``"refactorize"`` (the reference; the state
        must come from ``incremental_gmm_init(..., method="refactorize")``).
      recursion: ``"igmn"``, the papers' ``(1 - w) Sigma + w e* e*^T - Dmu Dmu^T`` (two
        rank-one updates), or ``"exact"``, the weighted covariance
        ``(1 - w)(Sigma + w e e^T)`` with ``e = x - mu_old`` (one rank-one update; always
        positive definite).

    Returns:
      The updated state.
    """
    function = "incremental_gmm_update"
    x = _check_point(function, state, x)
    _checks.require_option(function, "method", method, METHODS)
    _checks.require_option(function, "recursion", recursion, RECURSIONS)
    if method == "refactorize" and state.covariances is None:
        raise _checks.error(function, "state", "a state with covariances for "
                            "method='refactorize' (incremental_gmm_init(..., "
                            "method='refactorize'))", "covariances=None")
    variance = jnp.asarray(variance, x.dtype)
    _checks.require_shape(function, "variance", variance, x.shape, "(D,)")
    _checks.require_greater(function, "variance", variance)
    _checks.require_greater(function, "threshold", threshold)

    # 1. Novelty and creation (in the first free slot).
    d2 = _mahalanobis(state, x)
    known = jnp.any(state.active & (d2 < threshold))
    free = ~state.active
    new = (jnp.arange(free.shape[0]) == jnp.argmax(free)) & ~known & jnp.any(free)
    init_precision = jnp.diag(1.0 / variance)
    state = IncrementalGMM(
        means=jnp.where(new[:, None], x, state.means),
        precisions=jnp.where(new[:, None, None], init_precision, state.precisions),
        log_dets=jnp.where(new, jnp.sum(jnp.log(variance)), state.log_dets),
        counts=jnp.where(new, 1.0, state.counts),
        ages=jnp.where(new, 1.0, state.ages),
        active=state.active | new,
        covariances=None if state.covariances is None else jnp.where(
            new[:, None, None], jnp.diag(variance), state.covariances))
    d2 = jnp.where(new, 0.0, d2)

    # 2. Posterior p(k | x), priors sp_k / sum_j sp_j.
    logits = _component_log_densities(state, d2) + jnp.log(jnp.where(state.active,
                                                                      state.counts, 1.0))
    post = jax.nn.softmax(jnp.where(state.active, logits, -jnp.inf))

    # 3. Update every active component.
    counts = state.counts + post
    w = jnp.where(state.active, post / jnp.where(state.active, counts, 1.0), 0.0)
    delta_mu = w[:, None] * (x - state.means)
    means = state.means + delta_mu
    e_star = x - means
    if method == "rank_one":
        update = (_rank_one_precision_update if recursion == "igmn"
                  else _exact_precision_update)
        precisions, log_dets = jax.vmap(update)(state.precisions, state.log_dets, w, e_star,
                                                delta_mu)
        covariances = None
    else:
        covariances, precisions, log_dets = jax.vmap(
            lambda c, *a: _refactorized_update(c, *a, recursion))(state.covariances, w, e_star,
                                                                  delta_mu)
    ages = state.ages + state.active

    # 4. Removal of spurious components.
    active = state.active & ~((ages > min_age) & (counts < min_count))
    return IncrementalGMM(means, precisions, log_dets, counts, ages, active, covariances)


def incremental_gmm_fit(state: IncrementalGMM, xs: Array, variance: Array, *,
                        threshold: float, min_count: float, min_age: float,
                        method: str = "rank_one", recursion: str = "igmn",
                        mask: Array | None = None) -> IncrementalGMM:
    """One pass over a stream ``xs (N, D)`` in order, a ``lax.scan`` of the point update.

    Each step is :func:`incremental_gmm_update` (its arguments). ``mask (N,)`` (bool) skips
    the points where it is False (padding, so that streams of different lengths can be
    ``jax.vmap``-ed).
    """
    function = "incremental_gmm_fit"
    xs = jnp.asarray(xs)
    _checks.require_rank(function, "xs", xs, 2, "(N, D)")
    mask = jnp.ones(xs.shape[0], bool) if mask is None else jnp.asarray(mask, bool)
    _checks.require_shape(function, "mask", mask, xs.shape[:1], "(N,)")

    def step(carry, inputs):
        x, keep = inputs
        updated = incremental_gmm_update(carry, x, variance, threshold=threshold,
                                         min_count=min_count, min_age=min_age, method=method,
                                         recursion=recursion)
        return jax.tree.map(lambda a, b: jnp.where(keep, a, b), updated, carry), None

    return jax.lax.scan(step, state, (xs, mask))[0]


def incremental_gmm_log_prob(state: IncrementalGMM, x: Array) -> Array:
    """``log p(x) = logsumexp_k [log(sp_k / sum_j sp_j) + log N(x; mu_k, Lambda_k^{-1})]``.

    Over the active components, from the maintained precisions and log-determinants:
    ``O(K D^2)``, no factorization. One point ``x (D,)`` (``jax.vmap`` over a batch);
    ``-inf`` for a state without components.
    """
    x = _check_point("incremental_gmm_log_prob", state, x)
    counts = jnp.where(state.active, state.counts, 0.0)
    log_prior = jnp.log(counts) - jnp.log(jnp.sum(counts))
    joint = _component_log_densities(state, _mahalanobis(state, x)) + log_prior
    return jax.nn.logsumexp(jnp.where(state.active, joint, -jnp.inf))


def incremental_gmm_mixture(state: IncrementalGMM) -> tuple[Array, Array, Array]:
    """``(weights, means, covariances)`` of the active components (host side, ``O(K D^3)``).

    For :func:`likelihood_jax.mixtures.gmm.gmm_log_likelihood` or a batch EM started from
    the incremental fit. The state must be concrete (not traced).
    """
    active = np.asarray(state.active)
    counts = np.asarray(state.counts)[active]
    covariances = np.linalg.inv(np.asarray(state.precisions)[active])
    return (jnp.asarray(counts / counts.sum()), jnp.asarray(np.asarray(state.means)[active]),
            jnp.asarray(0.5 * (covariances + np.swapaxes(covariances, -1, -2))))


def class_conditional_fit(xs: Array, labels: Array, num_classes: int, capacity: int,
                          variance: Array, *, threshold: float, min_count: float,
                          min_age: float, method: str = "rank_one",
                          recursion: str = "igmn") -> IncrementalGMM:
    """One incremental mixture per class, each fed its class's points in stream order.

    The classes' streams are padded to one length and fitted together (``jax.vmap`` of
    :func:`incremental_gmm_fit` with a mask). ``xs (N, D)``, ``labels (N,)`` in
    ``0..num_classes-1``; returns a state whose fields have a leading class axis ``C``.
    Other arguments as :func:`incremental_gmm_update` (one ``variance (D,)`` for all classes).
    """
    function = "class_conditional_fit"
    xs = np.asarray(xs)
    labels = np.asarray(labels)
    _checks.require_rank(function, "xs", xs, 2, "(N, D)")
    _checks.require_shape(function, "labels", labels, xs.shape[:1], "(N,)")
    _checks.require_integer_at_least(function, "num_classes", num_classes, 1)
    if labels.size and not (labels.min() >= 0 and labels.max() < num_classes):
        raise _checks.error(function, "labels", f"in [0, {num_classes})",
                            f"min {labels.min()} and max {labels.max()}")
    per_class = [xs[labels == c] for c in range(num_classes)]
    length = max(1, max(len(p) for p in per_class))
    streams = np.zeros((num_classes, length, xs.shape[1]), xs.dtype)
    masks = np.zeros((num_classes, length), bool)
    for c, points in enumerate(per_class):
        streams[c, :len(points)] = points
        masks[c, :len(points)] = True
    init = incremental_gmm_init(capacity, xs.shape[1], dtype=xs.dtype, method=method)

    def fit(stream, mask):
        return incremental_gmm_fit(init, stream, variance, threshold=threshold,
                                   min_count=min_count, min_age=min_age, method=method,
                                   recursion=recursion, mask=mask)

    return jax.jit(jax.vmap(fit))(jnp.asarray(streams), jnp.asarray(masks))


def class_conditional_log_probs(states: IncrementalGMM, x: Array) -> Array:
    """``log p(x | c)`` under each class's mixture (a state with a class axis), shape ``(C,)``.

    The Bayes classifier is ``argmax_c [log p(c) + log p(x | c)]``. One point ``x (D,)``.
    """
    return jax.vmap(incremental_gmm_log_prob, in_axes=(0, None))(states, x)
