"""Unlearning by gradient orthogonalization (UNO) [P246] and its baselines, on gradients.

Mandal & Gottwald (2025), "UNO: Unlearning via Orthogonalization in Generative Models",
arXiv:2506.04712. A trained likelihood model is to *forget* a set ``F`` (e.g. one class)
while keeping what it learned from the retained set ``R``. With the per-set losses

    L_F(theta) = mean_{x in F} NLL(x),      L_R(theta) = mean_{x in R} NLL(x),

every method below returns a **descent direction** ``d`` (a pytree shaped like the
parameters): the optimizer applies ``theta <- theta - lr * d`` (or feeds ``d`` to optax as the
"gradient"). Inputs are the gradients ``g_F = grad L_F`` and ``g_R = grad L_R``. Unlearning
*raises* ``L_F``, so the forget task's descent direction is ``-g_F``.

* :func:`gradient_ascent_direction`: ``d = -g_F`` (plus ``retain_weight * g_R`` if asked):
  ascend the forget NLL; nothing protects the retained data.
* :func:`uno_direction` (the orthogonalized update): remove from the forget direction its
  component along the retain gradient,

      P(v) = v - (<v, g_R> / ||g_R||^2) g_R,      d = P(-g_F) + retain_weight * g_R,

  so with ``retain_weight = 0`` the step is orthogonal to ``g_R`` and leaves ``L_R``
  unchanged to first order: ``L_R(theta - lr d) = L_R(theta) - lr <g_R, d> + O(lr^2)``
  with ``<g_R, d> = 0``. Variants: ``"single"`` projects against one retain gradient (the
  mean over a retain batch); ``"subspace"`` against the span of several retain gradients
  (e.g. one per retained class, orthonormalized by QR), which protects each of them to
  first order (:func:`project_out_subspace`).
* :func:`gradient_surgery_direction` (PCGrad, Yu et al. 2020, "Gradient Surgery for
  Multi-Task Learning", as used for unlearning by Bae et al. 2023): the two task directions
  ``a = -g_F`` and ``r = g_R`` are each projected onto the normal plane of the other **only
  when they conflict** (negative inner product), and then added.

Cost: one gradient of each loss per step; projections are O(P) (O(P k^2) for a k-vector
subspace), with P the number of parameters. Pytrees are flattened with
``jax.flatten_util.ravel_pytree``. Everything here is pure and jit-able.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

PyTree = Any

_EPS = 1e-12


def tree_dot(a: PyTree, b: PyTree) -> jax.Array:
    """``<a, b>`` summed over all leaves (pytrees of the same structure)."""
    leaves = jax.tree.leaves(jax.tree.map(lambda x, y: jnp.sum(x * y), a, b))
    return sum(leaves, jnp.zeros((), jnp.result_type(*jax.tree.leaves(a))))


def project_out(v: PyTree, u: PyTree) -> PyTree:
    """``v - (<v, u> / ||u||^2) u``: the part of ``v`` orthogonal to ``u`` (``v`` if u = 0)."""
    coef = tree_dot(v, u) / jnp.maximum(tree_dot(u, u), _EPS)
    return jax.tree.map(lambda x, y: x - coef * y, v, u)


def project_out_subspace(v: PyTree, basis: list[PyTree]) -> PyTree:
    """The part of ``v`` orthogonal to ``span(basis)`` (QR-orthonormalized, rank-safe).

    Args:
        v: a pytree.
        basis: a non-empty list of pytrees shaped like ``v``.

    Returns:
        ``v - U U^T v`` with ``U`` an orthonormal basis of the span (columns of ``basis``
        whose QR diagonal is below ``1e-6`` of the largest are dropped as dependent).
    """
    if not basis:
        raise ValueError("project_out_subspace needs at least one basis vector.")
    flat_v, unravel = ravel_pytree(v)
    matrix = jnp.stack([ravel_pytree(b)[0] for b in basis], axis=1)  # (P, k)
    q, r = jnp.linalg.qr(matrix)
    diag = jnp.abs(jnp.diagonal(r))
    keep = diag > 1e-6 * jnp.maximum(jnp.max(diag), _EPS)
    q = q * keep[None, :]
    return unravel(flat_v - q @ (q.T @ flat_v))


def _add_retain(d: PyTree, g_retain: PyTree, retain_weight: float) -> PyTree:
    if not retain_weight:
        return d
    return jax.tree.map(lambda x, y: x + retain_weight * y, d, g_retain)


def gradient_ascent_direction(g_forget: PyTree, g_retain: PyTree | None = None,
                              retain_weight: float = 0.0) -> PyTree:
    """Gradient ascent on the forget NLL: ``d = -g_F + retain_weight * g_R``.

    Args:
        g_forget: gradient of the forget-set NLL.
        g_retain: gradient of the retain-set NLL (needed when ``retain_weight != 0``).
        retain_weight: weight of a retain-set descent term.

    Returns:
        The descent direction ``d`` (apply ``theta - lr * d``).
    """
    d = jax.tree.map(jnp.negative, g_forget)
    if retain_weight:
        if g_retain is None:
            raise ValueError("retain_weight != 0 needs g_retain.")
        d = _add_retain(d, g_retain, retain_weight)
    return d


def uno_direction(g_forget: PyTree, g_retain: PyTree | list[PyTree], variant: str = "single",
                  retain_weight: float = 0.0) -> PyTree:
    """UNO's orthogonalized unlearning direction ``d = P(-g_F) + retain_weight * g_R``.

    Args:
        g_forget: gradient of the forget-set NLL.
        g_retain: ``"single"``: the retain-set NLL gradient; ``"subspace"``: a list of retain
            gradients (e.g. one per retained class) whose span is projected out.
        variant: ``"single"`` or ``"subspace"``.
        retain_weight: weight of the retain descent term added after the projection (0 gives
            a step exactly orthogonal to the retain gradient(s)).

    Returns:
        The descent direction ``d`` (apply ``theta - lr * d``).
    """
    ascent = jax.tree.map(jnp.negative, g_forget)
    if variant == "single":
        if isinstance(g_retain, list):
            raise ValueError("variant 'single' takes one retain gradient, not a list.")
        return _add_retain(project_out(ascent, g_retain), g_retain, retain_weight)
    if variant == "subspace":
        if not isinstance(g_retain, list):
            raise ValueError("variant 'subspace' takes a list of retain gradients.")
        d = project_out_subspace(ascent, g_retain)
        if retain_weight:
            mean = jax.tree.map(lambda *xs: sum(xs) / len(xs), *g_retain)
            d = _add_retain(d, mean, retain_weight)
        return d
    raise ValueError(f"unknown UNO variant {variant!r}; choose 'single' or 'subspace'.")


def gradient_surgery_direction(g_forget: PyTree, g_retain: PyTree) -> PyTree:
    """PCGrad on the two tasks "raise the forget NLL" and "lower the retain NLL".

    With ``a = -g_F`` and ``r = g_R``: if ``<a, r> < 0``, ``a' = a - <a,r>/||r||^2 r`` and
    ``r' = r - <r,a>/||a||^2 a`` (each against the *original* other gradient, as PCGrad for
    two tasks), else ``a' = a, r' = r``; ``d = a' + r'``.

    Args:
        g_forget: gradient of the forget-set NLL.
        g_retain: gradient of the retain-set NLL.

    Returns:
        The descent direction ``d``.
    """
    ascent = jax.tree.map(jnp.negative, g_forget)
    conflict = tree_dot(ascent, g_retain) < 0
    a = jax.tree.map(lambda p, q: jnp.where(conflict, p, q),
                     project_out(ascent, g_retain), ascent)
    r = jax.tree.map(lambda p, q: jnp.where(conflict, p, q),
                     project_out(g_retain, ascent), g_retain)
    return jax.tree.map(jnp.add, a, r)


METHODS = ("uno", "uno_subspace", "gradient_ascent", "gradient_surgery")


def unlearning_direction(method: str, g_forget: PyTree, g_retain: PyTree | list[PyTree],
                         retain_weight: float = 0.0) -> PyTree:
    """Dispatches on ``method`` in :data:`METHODS` (``uno_subspace`` takes a list).

    For ``"uno_subspace"``, ``g_retain`` is a list and ``"gradient_ascent"`` /
    ``"gradient_surgery"`` / ``"uno"`` use its mean when a list is given.
    """
    if method not in METHODS:
        raise ValueError(f"unknown unlearning method {method!r}; choose one of {METHODS}.")
    if method == "uno_subspace":
        return uno_direction(g_forget, g_retain, "subspace", retain_weight)
    if isinstance(g_retain, list):
        g_retain = jax.tree.map(lambda *xs: sum(xs) / len(xs), *g_retain)
    if method == "uno":
        return uno_direction(g_forget, g_retain, "single", retain_weight)
    if method == "gradient_ascent":
        return gradient_ascent_direction(g_forget, g_retain, retain_weight)
    return gradient_surgery_direction(g_forget, g_retain)
