"""Score-matching objectives, one example at a time.

Score matching (Hyvärinen 2005) fits a model score ``s(x) ~ grad_x log p_data(x)``
without the normalizing constant by minimizing the Fisher divergence
``0.5 E|s(x) - grad log p_data(x)|^2``, which integration by parts turns into

    J(x) = 0.5 |s(x)|^2 + tr(ds/dx)          (+ a constant independent of s).

Every function here returns the **per-example** objective (lower is better);
its expectation over data (and over the noise or projections it draws) is the
quantity named. Callers ``jax.vmap`` over a batch and take the mean.

Normalization (so the objectives can be swapped in a config): for a fixed
``x``, the expectation over the random projections of
:func:`sliced_score_matching` (with or without variance reduction) and of
:func:`finite_difference_sliced_score_matching` equals
:func:`exact_score_matching` at that ``x`` -- exactly for the sliced
objective, and for FD-SSM exactly when ``log p`` is quadratic and up to
``O(eps^2)`` otherwise. :func:`denoising_score_matching` targets a different
quantity (the score of the noise-smoothed data) and is not comparable in value.

``score_fn`` maps an array of shape ``x.shape`` to the same shape; ``x`` is one
floating example of shape ``(D,)`` (an event of several axes, e.g. an image, is
declared with ``event_ndim``, and traces are over the flattened event). A batch
``(B, D)`` is refused with the advice to ``jax.vmap``: the objective of a
flattened batch is neither the per-example value nor the batch sum. Bad arguments
raise a ``ValueError`` naming the function and the argument, at trace time.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from likelihood_jax import _checks, estimators
from likelihood_jax.types import LogProbFn, ScoreFn

Array = jax.Array

FD_PROBES = ("sphere", "rademacher", "gaussian")


def _sum_event(a: Array) -> Array:
    """Sums ``(P,) + event`` over the event axes -> ``(P,)``."""
    return jnp.sum(a.reshape(a.shape[0], -1), axis=-1)


def _check_slices(function: str, key, num_slices: int, probe: str, probes: tuple) -> None:
    """The static checks of the sliced objectives' key, slice count and probe."""
    if key is None:
        raise _checks.error(function, "key", "a PRNG key", "None")
    _checks.require_integer_at_least(function, "num_slices", num_slices, 1)
    _checks.require_option(function, "probe", probe, probes)


def exact_score_matching(score_fn: ScoreFn, x: Array, *, event_ndim: int = 1) -> Array:
    """Hyvärinen's (2005) implicit score-matching objective, computed exactly.

    ``J(x) = 0.5 |s(x)|^2 + tr(ds/dx)``, whose expectation over data equals the
    Fisher divergence ``0.5 E|s - grad log p_data|^2`` up to a constant
    (Hyvärinen 2005, "Estimation of non-normalized statistical models by score
    matching").

    Exact (no estimator noise). Cost: one forward pass plus ``D``
    Jacobian-vector products (the full Jacobian diagonal via one linearization
    of ``score_fn``), so it only scales to small ``D``.

    Args:
      score_fn: model score ``s: R^D -> R^D`` (e.g. ``score_from_log_prob(f)``).
      x: one example, a floating array of shape ``(D,)`` (``jax.vmap`` over a
        batch).
      event_ndim: the number of axes of one example (``>= 1``).

    Returns:
      A scalar, the per-example objective.

    Raises:
      ValueError: if ``x`` is not one floating example of ``event_ndim`` axes or
        ``score_fn(x)`` is not shaped like ``x``.
    """
    s, trace = estimators._divergence_and_value(  # its errors name this function
        "exact_score_matching", score_fn, x, None, 1, "rademacher", "jvp", event_ndim,
        field="score_fn")
    return 0.5 * jnp.sum(s * s) + trace


def sliced_score_matching(score_fn: ScoreFn, x: Array, key: Array, *, num_slices: int = 1,
                          probe: str = "rademacher", variance_reduction: bool = False,
                          event_ndim: int = 1) -> Array:
    """Sliced score matching (Song et al. 2019), an unbiased estimate of exact SM.

    For random projections ``v`` with ``E[v v^T] = I``,

        J_v(x) = v^T (ds/dx) v + 0.5 (v^T s(x))^2                 (SSM)
        J_v(x) = v^T (ds/dx) v + 0.5 |s(x)|^2                     (SSM-VR)

    averaged over ``num_slices`` independent projections. Because
    ``E[v^T A v] = tr A`` and ``E[(v^T s)^2] = |s|^2``, both are **unbiased** for
    :func:`exact_score_matching` at ``x``; the variance-reduced form replaces the
    second term by its expectation (Song, Garg, Shi and Ermon 2019, "Sliced score
    matching: a scalable approach to density and score estimation").

    Cost: one forward pass plus one Jacobian-vector product per slice
    (``score_fn`` is linearized once with ``jax.linearize``, i.e. forward mode
    ``jax.jvp``, and the slices are vmapped).

    Args:
      score_fn: model score ``s: R^D -> R^D``.
      x: one example, a floating array of shape ``(D,)``; a batch ``(B, D)`` is
        refused (``jax.vmap`` over it).
      key: PRNG key for the projections.
      num_slices: number of projections averaged, an integer ``>= 1``.
      probe: ``"rademacher"``, ``"gaussian"`` (the paper's choice) or
        ``"sphere"`` (uniform on the sphere of radius ``sqrt(D)``).
      variance_reduction: use ``0.5 |s|^2`` instead of ``0.5 (v^T s)^2``
        (SSM-VR in the paper).
      event_ndim: the number of axes of one example (``>= 1``), e.g. ``3`` for
        an image ``(H, W, C)``.

    Returns:
      A scalar, the per-example objective.

    Raises:
      ValueError: for an unknown ``probe``, ``num_slices < 1``, a ``None`` key,
        an ``x`` that is not one floating example, or a ``score_fn(x)`` not
        shaped like ``x``.
    """
    _check_slices("sliced_score_matching", key, num_slices, probe, estimators.PROBES + ("sphere",))
    _checks.require_callable("sliced_score_matching", "score_fn", score_fn)
    x = _checks.one_example("sliced_score_matching", x, event_ndim)
    v = estimators.sample_probes(key, (num_slices,) + x.shape, probe, x.dtype)
    s, score_jvp = jax.linearize(score_fn, x)
    _checks.require_field_output("sliced_score_matching", "score_fn", s, x)
    jacobian_term = _sum_event(v * jax.vmap(score_jvp)(v))
    if variance_reduction:
        norm_term = 0.5 * jnp.sum(s * s)
    else:
        norm_term = 0.5 * _sum_event(v * s[None]) ** 2
    return jnp.mean(jacobian_term + norm_term)


def denoising_score_matching(score_fn: ScoreFn, x: Array, key: Array, sigma, *,
                             event_ndim: int = 1) -> Array:
    """Denoising score matching with Gaussian noise (Vincent 2011).

    ``J(x) = 0.5 |s(x + sigma eps) + eps / sigma|^2`` with ``eps ~ N(0, I)``: the
    regression target ``-eps/sigma = grad log q(x_tilde | x)`` is the score of the
    Gaussian corruption kernel. Its expectation over data and noise equals the
    Fisher divergence to the **smoothed** data density ``q_sigma`` up to a
    constant, so it is an unbiased objective for ``grad log q_sigma``, a biased
    one (``O(sigma^2)``) for ``grad log p_data`` (Vincent 2011, "A connection
    between score matching and denoising autoencoders"). Its value is not
    comparable with :func:`exact_score_matching`: even the optimal score leaves
    a positive remainder.

    Cost: one forward pass, no derivatives of ``score_fn``.

    Args:
      score_fn: model score ``s: R^D -> R^D``.
      x: one clean example, a floating array of shape ``(D,)`` (``jax.vmap``
        over a batch).
      key: PRNG key for ``eps``.
      sigma: noise standard deviation, a scalar ``> 0`` (checked when it is a
        Python number or a concrete array).
      event_ndim: the number of axes of one example (``>= 1``).

    Returns:
      A scalar, the per-example objective.

    Raises:
      ValueError: for ``sigma <= 0`` or not a scalar, a ``None`` key, an ``x``
        that is not one floating example, or a ``score_fn`` output not shaped
        like ``x``.
    """
    if key is None:
        raise _checks.error("denoising_score_matching", "key", "a PRNG key", "None")
    _checks.require_rank("denoising_score_matching", "sigma", sigma, 0, "() (a scalar)")
    _checks.require_greater("denoising_score_matching", "sigma", sigma, 0.0)
    _checks.require_callable("denoising_score_matching", "score_fn", score_fn)
    x = _checks.one_example("denoising_score_matching", x, event_ndim)
    eps = jax.random.normal(key, x.shape, x.dtype)
    s = score_fn(x + sigma * eps)
    _checks.require_field_output("denoising_score_matching", "score_fn", s, x)
    residual = s + eps / sigma
    return 0.5 * jnp.sum(residual * residual)


def finite_difference_sliced_score_matching(log_prob_fn: LogProbFn, x: Array, key: Array, *,
                                            eps: float = 0.1, num_slices: int = 1,
                                            probe: str = "sphere",
                                            event_ndim: int = 1) -> Array:
    """Finite-difference sliced score matching (FD-SSM, Pang et al. 2020).

    Uses only evaluations of the (unnormalized) log-density at ``x`` and
    ``x +- eps u`` for random unit directions ``u``. With ``l(z) = log p(z)``:

        second difference  l(x + eps u) + l(x - eps u) - 2 l(x) = eps^2 u^T H u + O(eps^4)
        central difference (l(x + eps u) - l(x - eps u)) / (2 eps) = u^T s(x) + O(eps^2)

    (``H`` the Hessian of ``l``, ``s = grad l``), and the objective per direction is

        J_u(x) = (D / eps^2) * [ l(x+eps u) + l(x-eps u) - 2 l(x)
                                 + (l(x+eps u) - l(x-eps u))^2 / 8 ]
               = D * (u^T H u + 0.5 (u^T s)^2) + O(eps^2),

    averaged over ``num_slices`` directions (``l(x)`` is evaluated once).

    Normalization: Pang et al. (2020, "Efficient learning of generative models
    via finite-difference score matching", Eq. for FD-SSM with projections
    uniform on the sphere of radius ``eps``) write the bracket divided by
    ``eps^2``; we multiply by ``D`` (as their released code does). Since
    ``E[u u^T] = I / D`` for ``u`` uniform on the unit sphere,
    ``E_u[J_u(x)] = tr H + 0.5 |s|^2``, i.e. :func:`exact_score_matching` of
    ``score_from_log_prob(log_prob_fn)`` at ``x``: **exactly** when ``l`` is
    quadratic (both differences are then exact for every ``eps``), with
    ``O(eps^2)`` bias otherwise. So FD-SSM, SSM and exact SM have the same
    expected value and can be swapped in a config.

    Step length is ``eps`` along a unit direction (independent of ``D``). With
    ``probe="rademacher"`` or ``"gaussian"`` the direction is ``v / sqrt(D)`` for
    such a ``v`` (``E[v v^T] = I``), which keeps the expectation unchanged.
    Default ``eps = 0.1`` is the paper's; in float32 the second difference
    loses about ``|l| * 1e-7 / eps^2`` to rounding, so do not take ``eps`` much
    smaller unless using float64.

    Cost: ``1 + 2 * num_slices`` evaluations of ``log_prob_fn`` (all vmapped),
    no derivatives at all; its parameter gradient is a single backward pass
    through those evaluations.

    Args:
      log_prob_fn: unnormalized log-density ``R^D -> R`` (a scalar per example).
      x: one example, a floating array of shape ``(D,)`` (``jax.vmap`` over a
        batch).
      key: PRNG key for the directions.
      eps: finite-difference step length, ``> 0``.
      num_slices: number of directions averaged, an integer ``>= 1``.
      probe: ``"sphere"`` (uniform unit directions, the paper's choice),
        ``"rademacher"`` or ``"gaussian"``.
      event_ndim: the number of axes of one example (``>= 1``).

    Returns:
      A scalar, the per-example objective.

    Raises:
      ValueError: for an unknown ``probe``, ``num_slices < 1``, ``eps <= 0``, a
        ``None`` key, an ``x`` that is not one floating example, or a
        ``log_prob_fn`` that does not return a scalar.
    """
    function = "finite_difference_sliced_score_matching"
    _check_slices(function, key, num_slices, probe, FD_PROBES)
    _checks.require_greater(function, "eps", eps, 0.0)
    _checks.require_callable(function, "log_prob_fn", log_prob_fn)
    x = _checks.one_example(function, x, event_ndim)
    dim = x.size
    v = estimators.sample_probes(key, (num_slices,) + x.shape, probe, x.dtype)
    steps = (eps / jnp.sqrt(jnp.asarray(dim, x.dtype))) * v
    points = jnp.concatenate([x[None], x[None] + steps, x[None] - steps], axis=0)
    log_probs = jax.vmap(log_prob_fn)(points)
    if jnp.shape(log_probs) != (points.shape[0],):
        raise _checks.error(function, "log_prob_fn", "a scalar log-density per example",
                            f"an output of shape {jnp.shape(log_probs)[1:]}")
    center, plus, minus = log_probs[0], log_probs[1:num_slices + 1], log_probs[num_slices + 1:]
    second = plus + minus - 2.0 * center
    first = plus - minus
    return (dim / eps**2) * jnp.mean(second + 0.125 * first * first)


def score_from_log_prob(log_prob_fn: Callable[..., Array]) -> Callable[..., Array]:
    """Turns an (unnormalized) log-density into a score function via ``jax.grad``.

    ``s(x) = grad_x log p(x)``; the normalizing constant does not depend on ``x``
    and drops out (Hyvärinen 2005). Cost of one score evaluation: one forward
    and one backward pass of ``log_prob_fn``.

    Args:
      log_prob_fn: scalar function ``f(x, *args)`` (a callable); the gradient is
        taken with respect to the first argument.

    Returns:
      ``score_fn(x, *args) = jax.grad(log_prob_fn)(x, *args)``.

    Raises:
      ValueError: if ``log_prob_fn`` is not callable.
    """
    _checks.require_callable("score_from_log_prob", "log_prob_fn", log_prob_fn)

    def score_fn(x, *args):
        return jax.grad(log_prob_fn)(x, *args)

    return score_fn
