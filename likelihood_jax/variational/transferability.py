"""Feature extractors and a baseline score for transferability studies [P204].

Bassignana et al. (2022), "Evidence > Intuition: Transferability Estimation for Encoder
Selection", rank candidate encoders for a target task by LogME (the maximum Bayesian
linear-regression evidence, :func:`likelihood_jax.metrics.logme`) and compare the ranking
with the accuracy each encoder reaches once trained on the task. This module holds the
pieces of such a study at small scale: feature extractors of different quality
(:func:`pca_features`, :func:`random_projection_features`, the hidden layer of a small
classifier trained on disjoint data, :func:`fit_mlp` / :func:`mlp_hidden_features`) and
the H-score of Bao et al. (2019), a closed-form transferability baseline
(:func:`h_score`).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import optax

from likelihood_jax import _checks

Array = jax.Array


def pca_features(x_fit, x, num_components: int) -> Array:
    """``(x - mean) @ W_k``: projections onto the top ``k`` principal axes of ``x_fit``.

    ``mean`` and the axes ``W_k (D, k)`` (right singular vectors of the centred ``x_fit``
    with the largest singular values) come from ``x_fit`` only, so a held-out ``x`` is
    projected without leakage. Signs of the axes are those of the SVD (arbitrary).

    Args:
      x_fit: ``(M, D)`` floating data the axes are fitted on.
      x: ``(N, D)`` floating data to project.
      num_components: ``k``, an integer in ``[1, min(M, D)]``.

    Returns:
      ``(N, k)`` features.
    """
    function = "pca_features"
    x_fit, x = jnp.asarray(x_fit), jnp.asarray(x)
    _checks.require_rank(function, "x_fit", x_fit, 2, "(M, D)")
    _checks.require_floating(function, "x_fit", x_fit)
    _checks.require_rank(function, "x", x, 2, "(N, D)")
    _checks.require_shape(function, "x", x, (x.shape[0], x_fit.shape[1]), "(N, D)")
    _checks.require_integer_at_least(function, "num_components", num_components, 1)
    if num_components > min(x_fit.shape):
        raise _checks.error(function, "num_components", f"<= min(M, D) = {min(x_fit.shape)}",
                            repr(num_components))
    return _pca(x_fit, x, int(num_components))


@functools.partial(jax.jit, static_argnums=2)
def _pca(x_fit, x, num_components):
    mean = jnp.mean(x_fit, axis=0)
    _, _, vt = jnp.linalg.svd(x_fit - mean, full_matrices=False)
    return (x - mean) @ vt[:num_components].T


def random_projection_features(key, x, num_components: int) -> Array:
    """``x @ G / sqrt(k)`` with ``G (D, k)`` of independent standard normal entries.

    A data-independent linear extractor (Johnson-Lindenstrauss: ``E ||x G||^2 / k =
    ||x||^2``); the same ``key`` gives the same projection for every split.

    Args:
      key: a ``jax.random.key``.
      x: ``(N, D)`` floating data.
      num_components: ``k``, an integer ``>= 1``.

    Returns:
      ``(N, k)`` features.
    """
    function = "random_projection_features"
    x = jnp.asarray(x)
    _checks.require_rank(function, "x", x, 2, "(N, D)")
    _checks.require_floating(function, "x", x)
    _checks.require_integer_at_least(function, "num_components", num_components, 1)
    return _random_projection(key, x, int(num_components))


@functools.partial(jax.jit, static_argnums=2)
def _random_projection(key, x, num_components):
    g = jax.random.normal(key, (x.shape[1], num_components), x.dtype)
    return x @ g / jnp.sqrt(jnp.asarray(num_components, x.dtype))


def mlp_hidden_features(params: dict, x) -> Array:
    """The hidden layer ``relu(x W1 + b1)`` of a classifier from :func:`fit_mlp`, ``(N, H)``."""
    return jax.nn.relu(jnp.asarray(x) @ params["w1"] + params["b1"])


def mlp_logits(params: dict, x) -> Array:
    """The logits ``relu(x W1 + b1) W2 + b2`` of a classifier from :func:`fit_mlp`."""
    return mlp_hidden_features(params, x) @ params["w2"] + params["b2"]


def fit_mlp(key, x, labels, *, num_classes: int, hidden: int, num_steps: int,
            learning_rate: float = 1e-2, weight_decay: float = 1e-4) -> dict:
    """A one-hidden-layer ReLU classifier trained by full-batch AdamW on cross-entropy.

    Minimizes ``mean_i -log softmax(mlp_logits(x_i))[labels_i]`` with AdamW (decoupled
    ``weight_decay``) for ``num_steps`` steps in one ``lax.scan``; LeCun-normal weights,
    zero biases.

    Args:
      key: a ``jax.random.key`` (initialization).
      x: ``(N, D)`` floating inputs.
      labels: ``(N,)`` integer labels in ``[0, num_classes)``.
      num_classes: output classes, an integer ``>= 2``.
      hidden: hidden width ``H``, an integer ``>= 1``.
      num_steps: optimizer steps, an integer ``>= 0``.
      learning_rate: AdamW step size.
      weight_decay: AdamW decoupled weight decay.

    Returns:
      Parameters ``{"w1", "b1", "w2", "b2"}`` for :func:`mlp_hidden_features`.
    """
    function = "fit_mlp"
    x, labels = jnp.asarray(x), jnp.asarray(labels)
    _checks.require_labelled_rows(function, "x", x, labels)
    _checks.require_integer_at_least(function, "num_classes", num_classes, 2)
    _checks.require_integer_at_least(function, "hidden", hidden, 1)
    _checks.require_integer_at_least(function, "num_steps", num_steps, 0)
    return _fit_mlp(key, x, labels, int(num_classes), int(hidden), int(num_steps),
                    float(learning_rate), float(weight_decay))


@functools.partial(jax.jit, static_argnums=(3, 4, 5, 6, 7))
def _fit_mlp(key, x, labels, num_classes, hidden, num_steps, learning_rate, weight_decay):
    k1, k2 = jax.random.split(key)
    init = jax.nn.initializers.lecun_normal()
    params = {"w1": init(k1, (x.shape[1], hidden), x.dtype), "b1": jnp.zeros(hidden, x.dtype),
              "w2": init(k2, (hidden, num_classes), x.dtype),
              "b2": jnp.zeros(num_classes, x.dtype)}
    optimizer = optax.adamw(learning_rate, weight_decay=weight_decay)

    def loss(p):
        return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(mlp_logits(p, x),
                                                                        labels))

    def step(carry, _):
        p, state = carry
        updates, state = optimizer.update(jax.grad(loss)(p), state, p)
        return (optax.apply_updates(p, updates), state), None

    (params, _), _ = jax.lax.scan(step, (params, optimizer.init(params)), None,
                                  length=num_steps)
    return params


def h_score(features, labels, num_classes: int) -> Array:
    """H-score (Bao et al. 2019): ``tr(pinv(Cov(f)) Cov(E[f | y]))``.

    ``Cov(f)`` is the covariance of the features, ``Cov(E[f | y])`` that of each example's
    class-mean feature (the between-class covariance); for one feature it is the share of
    its variance explained by the class, ``eta^2``. Larger means more linearly separable
    classes; unlike LogME it has no penalty for dimension. ``pinv`` drops singular values
    below ``1e-6`` of the largest (constant directions).

    Args:
      features: ``(N, D)`` floating features.
      labels: ``(N,)`` integer labels in ``[0, num_classes)``.
      num_classes: an integer ``>= 2``.

    Returns:
      The scalar H-score.
    """
    function = "h_score"
    features, labels = jnp.asarray(features), jnp.asarray(labels)
    _checks.require_labelled_rows(function, "features", features, labels)
    _checks.require_integer_at_least(function, "num_classes", num_classes, 2)
    return _h_score(features, labels, int(num_classes))


@functools.partial(jax.jit, static_argnums=2)
def _h_score(features, labels, num_classes):
    centred = features - jnp.mean(features, axis=0)
    sums = jax.ops.segment_sum(centred, labels, num_classes)
    counts = jax.ops.segment_sum(jnp.ones_like(labels, features.dtype), labels, num_classes)
    class_means = (sums / jnp.maximum(counts, 1.0)[:, None])[labels]
    cov_f = centred.T @ centred
    cov_g = class_means.T @ class_means
    return jnp.trace(jnp.linalg.pinv(cov_f, rtol=1e-6, hermitian=True) @ cov_g)
