"""Implicit maximum likelihood estimation (IMLE), its rejection-sampled prior, and AMD/AMV.

IMLE (Li & Malik 2018) trains a generator ``G(z)`` (or ``G(z, c)`` given a context ``c``)
without a likelihood: draw ``m`` samples, match every data point to its nearest sample and
pull that sample towards it,

    L = sum_i min_j d(x_i, G(z_j)),      j*(i) = argmin_j d(x_i, G(z_j)).

The selection ``j*`` is a discrete choice made under ``stop_gradient``; the loss is
``d(x_i, G(z_{j*}))`` recomputed through the generator, so only the selected sample of each
data point receives gradient (the others are not moved, unlike a mixture likelihood).

* Social-Implicit [P015] (Mohamed et al. 2022) is conditional IMLE for trajectories: for
  each observed past ``c`` the generator draws ``m`` futures, the nearest to the ground truth
  (L1 summed over the trajectory, as in the paper's code) is selected and its mean L1 error is
  the loss (:func:`nearest_sample_loss`). It also introduced two set-level metrics:
  AMD, the Mahalanobis distance of the ground truth to a Gaussian fitted to the samples,
  averaged over time steps and agents (:func:`average_mahalanobis_distance`), and AMV, the
  largest eigenvalue of the sample covariance averaged over them
  (:func:`average_max_eigenvalue`).
* RS-IMLE [P079] (Vashist, Peng & Li 2024) trains with a different prior: a latent whose
  output lies within ``eps`` of any data point is rejected, so the selected latents look like
  draws from the test-time prior instead of points pinned onto the data
  (:func:`rejection_mask`, :func:`masked_nearest`, :func:`imle_loss` with ``eps``).

Distances (``metric``): ``"sqeuclidean"`` ``|a - b|^2``, ``"euclidean"`` ``|a - b|`` (its
gradient at ``a = b`` is taken as 0) and ``"l1"`` ``sum |a - b|``, over all trailing axes.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from likelihood_jax import _checks, transport

Array = jax.Array

METRICS = ("sqeuclidean", "euclidean", "l1")
_TINY = 1e-12


class Selection(NamedTuple):
    """The sample chosen for each data point.

    Attributes:
      index: ``[N]`` int32, the selected sample of each data point.
      distance: ``[N]`` its distance to the data point.
      valid: ``[N]`` bool; False where every sample was rejected (RS-IMLE). Then ``index``
        and ``distance`` are those of the nearest sample ignoring the rejection, and the loss
        of that data point is 0 (see :func:`masked_nearest`).
    """

    index: Array
    distance: Array
    valid: Array


def _check_metric(function: str, metric: str) -> None:
    _checks.require_option(function, "metric", metric, METRICS)


def _safe_norm(squared: Array) -> Array:
    """``sqrt`` with gradient 0 (not NaN) at 0."""
    positive = squared > _TINY
    return jnp.where(positive, jnp.sqrt(jnp.where(positive, squared, 1.0)), 0.0)


def pairwise_distances(x: Array, samples: Array, metric: str = "sqeuclidean") -> Array:
    """``D_ij = d(x_i, samples_j)``, shape ``[N, M]``; trailing axes are flattened.

    Args:
      x: data points ``[N, ...]``.
      samples: generated samples ``[M, ...]`` of the same trailing shape.
      metric: one of :data:`METRICS`.

    Raises:
      ValueError: an unknown metric, an empty set or points of different shapes.
    """
    _check_metric("pairwise_distances", metric)
    if metric == "l1":
        x, samples = transport._check_batches("pairwise_distances", x, samples,
                                               equal_sizes=False)
        a = jnp.reshape(x, (x.shape[0], 1, -1))
        b = jnp.reshape(samples, (1, samples.shape[0], -1))
        return jnp.sum(jnp.abs(a - b), axis=-1)
    squared = transport.squared_distances(x, samples)
    return squared if metric == "sqeuclidean" else _safe_norm(squared)


def distance(a: Array, b: Array, metric: str = "sqeuclidean") -> Array:
    """``d(a, b)`` of two points of one shape (all axes reduced), differentiable in both."""
    _check_metric("distance", metric)
    diff = jnp.reshape(a - b, (-1,))
    if metric == "l1":
        return jnp.sum(jnp.abs(diff))
    squared = jnp.sum(diff * diff)
    return squared if metric == "sqeuclidean" else _safe_norm(squared)


def rejection_mask(distances: Array, eps: float) -> Array:
    """RS-IMLE's prior [P079]: ``keep_j = min_i D_ij >= eps``, shape ``[M]``.

    A sample is rejected when its output lies within ``eps`` of any of the ``N`` data points
    in ``distances [N, M]``, as in the paper's prior ``P`` (``z ~ N(0, I)`` conditioned on
    ``min_i d(x_i, G(z)) >= eps``) and its code (a pool sample within ``eps`` of any data
    point is removed for every data point). With the whole few-shot set in each batch the
    ``N`` points are the dataset. ``eps = 0`` keeps everything (plain IMLE).

    Raises:
      ValueError: ``distances`` not ``[N, M]`` or a negative ``eps``.
    """
    _checks.require_rank("rejection_mask", "distances", distances, 2, "(N, M)")
    _checks.require_at_least("rejection_mask", "eps", eps, 0.0)
    return jnp.min(jnp.asarray(distances), axis=0) >= eps


def masked_nearest(distances: Array, keep: Array | None = None) -> Selection:
    """The nearest kept sample of each data point: masked ``argmin`` of ``distances [N, M]``.

    ``index_i = argmin_{j : keep_ij} D_ij`` through ``jnp.where(keep, D, inf)``; ``keep`` is
    ``[N, M]`` or ``[M]`` (broadcast over data points), None keeps all (plain IMLE). Ties go
    to the lowest index. Where a row keeps no sample, ``valid`` is False and the row falls back
    to its unmasked nearest sample; :func:`imle_loss` gives such a data point zero loss (no
    sample may be pulled to within ``eps`` of it, and none is moved). The selection is a
    discrete choice: no gradient flows through it (``stop_gradient``).

    Raises:
      ValueError: ``distances`` not ``[N, M]`` or ``keep`` of another shape.
    """
    _checks.require_rank("masked_nearest", "distances", distances, 2, "(N, M)")
    d = jax.lax.stop_gradient(jnp.asarray(distances))
    nearest = jnp.argmin(d, axis=1)
    if keep is None:
        index = nearest
        valid = jnp.ones(d.shape[0], bool)
    else:
        keep = jnp.asarray(keep, bool)
        if keep.shape not in (d.shape, d.shape[1:]):
            raise _checks.error("masked_nearest", "keep", f"of shape {d.shape} or "
                                f"{d.shape[1:]}", f"shape {keep.shape}")
        keep = jnp.broadcast_to(keep, d.shape)
        valid = jnp.any(keep, axis=1)
        masked = jnp.argmin(jnp.where(keep, d, jnp.inf), axis=1)
        index = jnp.where(valid, masked, nearest)
    index = index.astype(jnp.int32)
    return Selection(index, jnp.take_along_axis(d, index[:, None], axis=1)[:, 0], valid)


def imle_loss(x: Array, samples: Array, *, metric: str = "sqeuclidean",
              eps: float | None = None) -> tuple[Array, Selection]:
    """Per-data-point (RS-)IMLE loss ``[N]`` and the selection.

    ``loss_i = valid_i * d(x_i, samples_{j*(i)})`` with ``j*`` from :func:`masked_nearest`
    under ``stop_gradient``, recomputed so that gradient reaches the selected samples only
    (a sample selected by several data points gets the sum of their pulls). ``eps`` None is
    IMLE (Li & Malik 2018); a number applies RS-IMLE's rejection (:func:`rejection_mask`)
    [P079]. The mean over ``i`` is the batch objective ``(1/N) sum_i min_j d(x_i, G(z_j))``.

    Args:
      x: data points ``[N, ...]``.
      samples: generator outputs ``[M, ...]`` (differentiable in the generator).
      metric: one of :data:`METRICS` (used for selection, rejection and loss).
      eps: rejection radius in units of ``metric``, or None.
    """
    d = pairwise_distances(jax.lax.stop_gradient(x), jax.lax.stop_gradient(samples), metric)
    keep = None if eps is None else rejection_mask(d, eps)
    selection = masked_nearest(d, keep)
    chosen = jnp.take(samples, selection.index, axis=0)
    loss = jax.vmap(lambda a, b: distance(a, b, metric))(x, chosen)
    return jnp.where(selection.valid, loss, 0.0), selection


def nearest_sample_loss(samples: Array, target: Array, metric: str = "l1") -> tuple[Array, Array]:
    """Conditional IMLE for one context [P015]: ``(d(y, G(z_{j*}, c)) / size, j*)``.

    ``samples [m, ...]`` are the generator's ``m`` outputs for one context, ``target`` the
    ground truth ``y``. The nearest sample (``metric``, default the paper's L1 over the whole
    trajectory) is selected under ``stop_gradient`` and its distance divided by the number of
    coordinates is returned: with ``"l1"`` the mean absolute error of the selected trajectory,
    Social-Implicit's loss (without its 1e-4-weighted geometric terms). vmap over contexts.
    """
    _checks.require_shape("nearest_sample_loss", "target", target, jnp.shape(samples)[1:],
                          "samples.shape[1:]")
    loss, selection = imle_loss(target[None], samples, metric=metric)
    return loss[0] / target.size, selection.index[0]


# -- Social-Implicit's metrics [P015] --------------------------------------------------------


def gaussian_fit(samples: Array, reg: float = 1e-6) -> tuple[Array, Array]:
    """Mean ``[d]`` and maximum-likelihood covariance ``[d, d]`` (+ ``reg I``) of ``[K, d]``.

    The paper's code fits ``sklearn.mixture.GaussianMixture`` (covariance normalized by ``K``,
    ``reg_covar = 1e-6``); this is its one-component fit.
    """
    _checks.require_rank("gaussian_fit", "samples", samples, 2, "(K, d)")
    mean = jnp.mean(samples, axis=0)
    centred = samples - mean
    cov = centred.T @ centred / samples.shape[0]
    return mean, cov + reg * jnp.eye(samples.shape[1], dtype=cov.dtype)


def mahalanobis_distance(samples: Array, y: Array, reg: float = 1e-6) -> Array:
    """``sqrt((y - mu)^T Sigma^{-1} (y - mu))`` for the Gaussian fit of ``samples [K, d]``.

    The distance itself, not its square, as the paper's code returns (``mdist``). If ``y``
    and the ``K`` samples are i.i.d. Gaussian, the square has mean ``d (K + 1) / (K - d - 2)``
    (Hotelling's ``T^2`` with the ML covariance), which tends to ``d`` for large ``K``.
    """
    _checks.require_shape("mahalanobis_distance", "y", y, jnp.shape(samples)[1:], "(d,)")
    mean, cov = gaussian_fit(samples, reg)
    v = y - mean
    return _safe_norm(v @ jnp.linalg.solve(cov, v))


def average_mahalanobis_distance(samples: Array, target: Array, reg: float = 1e-6) -> Array:
    """AMD of one agent [P015]: the mean over time steps of the Mahalanobis distance.

    ``samples [K, T, d]`` (``K`` predicted trajectories), ``target [T, d]``: a Gaussian is
    fitted to the ``K`` positions of each step ``t`` and ``AMD = (1/T) sum_t
    sqrt((y_t - mu_t)^T Sigma_t^{-1} (y_t - mu_t))``; average it over agents (vmap) for the
    paper's AMD. The paper's code fits a mixture of 1-4 Gaussians chosen by BIC at each step;
    this is its one-component case.
    """
    _checks.require_rank("average_mahalanobis_distance", "samples", samples, 3, "(K, T, d)")
    _checks.require_shape("average_mahalanobis_distance", "target", target, samples.shape[1:],
                          "(T, d)")
    per_step = jax.vmap(lambda s, y: mahalanobis_distance(s, y, reg), in_axes=(1, 0))(
        samples, target)
    return jnp.mean(per_step)


def sample_covariances(samples: Array, reg: float = 1e-6) -> Array:
    """The ML covariance of every time step, ``[T, d, d]``, of ``samples [K, T, d]``."""
    _checks.require_rank("sample_covariances", "samples", samples, 3, "(K, T, d)")
    return jax.vmap(lambda s: gaussian_fit(s, reg)[1], in_axes=1)(samples)


def average_max_eigenvalue(covariances: Array) -> Array:
    """AMV [P015]: the largest eigenvalue (``eigvalsh``) of the mean of ``covariances``.

    ``covariances [..., d, d]`` are the per-step, per-agent sample covariances
    (:func:`sample_covariances`); all leading axes are averaged. The paper's code averages the
    covariances first and takes the largest eigenvalue of the average (the name suggests the
    mean of per-step largest eigenvalues; by convexity of ``lambda_max`` the code's value is
    never larger).
    """
    _checks.require_min_rank("average_max_eigenvalue", "covariances", covariances, 2,
                             "(..., d, d)")
    d = covariances.shape[-1]
    mean = jnp.mean(jnp.reshape(covariances, (-1, d, d)), axis=0)
    return jnp.linalg.eigvalsh(mean)[-1]


def best_of_k_displacement(samples: Array, target: Array) -> tuple[Array, Array]:
    """Best-of-K ``(ADE, FDE)`` of one agent: ``samples [K, T, d]``, ``target [T, d]``.

    ``ADE = min_k (1/T) sum_t |s_kt - y_t|``, ``FDE = min_k |s_kT - y_T|`` (each minimum over
    ``k`` taken on its own, the usual protocol that P015 argues is blind to the spread).
    """
    _checks.require_rank("best_of_k_displacement", "samples", samples, 3, "(K, T, d)")
    _checks.require_shape("best_of_k_displacement", "target", target, samples.shape[1:],
                          "(T, d)")
    errors = jnp.linalg.norm(samples - target[None], axis=-1)  # [K, T]
    return jnp.min(jnp.mean(errors, axis=1)), jnp.min(errors[:, -1])
