"""Weak supervision [P134]: weak signals, the labelings they allow, label learning flows.

Notation (Arachie & Huang's adversarial/constrained label learning, used by Lu, Song, Arachie &
Huang, "Weakly Supervised Label Learning Flows", Neural Networks 2025, arXiv:2302.09649).
For ``n`` examples, ``K`` classes and ``M`` weak signals,

* a weak signal ``q_m(x) in [0, 1]^K`` is a soft one-vs-rest guess of each class (a weak
  classifier's probabilities, or a labeling rule's 0/1 vote); ``coverage[j, m] = 0`` marks
  that signal ``m`` abstains on example ``j``;
* a labeling ``y_j in [0, 1]^K`` (on the probability simplex for multi-class problems);
* signal ``m``'s expected error on class ``k`` under the labeling ``y`` is::

      err_mk(y) = (1 / n_m) sum_{j covered by m} [ q_mk(x_j) (1 - y_jk) + (1 - q_mk(x_j)) y_jk ],

  linear in ``y``, with ``n_m`` the number of examples that ``m`` covers;
* given error bounds ``b_mk`` (known, or estimated on a few labelled examples with
  :func:`estimate_error_bounds`), the **constraint set** is the convex polytope::

      Omega = { y : err_mk(y) <= b_mk for all m, k;  y_j in the simplex for all j }.

**LLF** models ``p_theta(y | x)`` with a conditional normalizing flow and maximizes the
likelihood of labelings that lie in ``Omega``. Since ``Omega`` cannot be sampled directly, the
flow is trained *inversely*: draw ``z ~ N(0, I)``, generate ``y = f^{-1}(z; x)`` with the
flow's inverse (reparameterized, so gradients reach theta through ``y``) and minimize::

    -log p_theta(y | x) + lambda * P(y),   P(y) = sum_mk relu(err_mk(y) - b_mk)^2
                                              + (box and simplex penalties of each y_j),

the quadratic penalty of the constraints (:func:`constraint_penalty`, :func:`llf_loss`).
Labels are never estimated as free variables. Prediction samples ``y`` for each test ``x``
and averages (:func:`average_prediction`); ``Omega`` is convex, so the average of samples in
``Omega`` stays in it. Batches stand in for the whole data set in ``err_mk`` (minibatch
estimate of a mean, biased inside the nonlinear penalty by O(1 / batch size)).

Baseline: :func:`majority_vote` of the signals' argmax votes.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def _check_signals(signals: jax.Array, labels: jax.Array) -> None:
    if signals.ndim != 3:
        raise ValueError(f"signals must have shape (n, M, K), got {signals.shape}.")
    if labels.ndim != 2 or labels.shape[0] != signals.shape[0] or \
            labels.shape[1] != signals.shape[2]:
        raise ValueError(f"labels must have shape (n, K) = ({signals.shape[0]}, "
                         f"{signals.shape[2]}), got {labels.shape}.")


def _coverage(signals: jax.Array, coverage: jax.Array | None) -> jax.Array:
    if coverage is None:
        return jnp.ones(signals.shape[:2], signals.dtype)
    if coverage.shape != signals.shape[:2]:
        raise ValueError(f"coverage must have shape (n, M) = {signals.shape[:2]}, "
                         f"got {coverage.shape}.")
    return coverage.astype(signals.dtype)


def expected_errors(signals: jax.Array, labels: jax.Array,
                    coverage: jax.Array | None = None) -> jax.Array:
    """Each signal's expected error rate per class under the labeling ``labels``.

    ``err_mk = (1 / n_m) sum_{j covered} [q_jmk (1 - y_jk) + (1 - q_jmk) y_jk]``.

    Args:
        signals: ``q`` of shape ``(n, M, K)`` with values in [0, 1].
        labels: a labeling ``y`` of shape ``(n, K)`` (one-hot or soft).
        coverage: optional ``(n, M)`` 0/1 mask; 0 where a signal abstains.

    Returns:
        ``(M, K)`` error rates (0 where a signal covers no example).
    """
    _check_signals(signals, labels)
    cover = _coverage(signals, coverage)
    y = labels[:, None, :]
    per_example = signals * (1.0 - y) + (1.0 - signals) * y  # (n, M, K)
    total = jnp.sum(per_example * cover[:, :, None], axis=0)
    count = jnp.sum(cover, axis=0)[:, None]
    return total / jnp.maximum(count, 1.0)


def estimate_error_bounds(signals: jax.Array, labels: jax.Array,
                          coverage: jax.Array | None = None, slack: float = 0.0) -> jax.Array:
    """Error bounds ``b_mk`` measured on labelled data (plus an optional ``slack``).

    Args:
        signals: ``(n, M, K)`` weak signals on the labelled examples.
        labels: their true one-hot labels ``(n, K)``.
        coverage: optional ``(n, M)`` abstention mask.
        slack: added to every bound (a margin for the sampling error of the estimate).

    Returns:
        ``(M, K)`` bounds, clipped to [0, 1].
    """
    return jnp.clip(expected_errors(signals, labels, coverage) + slack, 0.0, 1.0)


def constraint_violations(signals: jax.Array, labels: jax.Array, bounds: jax.Array,
                          coverage: jax.Array | None = None) -> jax.Array:
    """``err_mk(y) - b_mk``, shape ``(M, K)``: positive entries are violated constraints."""
    if bounds.shape != signals.shape[1:]:
        raise ValueError(f"bounds must have shape (M, K) = {signals.shape[1:]}, "
                         f"got {bounds.shape}.")
    return expected_errors(signals, labels, coverage) - bounds


def simplex_violations(labels: jax.Array) -> jax.Array:
    """Per-example violation of ``y_j in simplex``: ``sum relu(-y)^2 + relu(y-1)^2 + (1'y-1)^2``.

    Args:
        labels: ``(n, K)``.

    Returns:
        ``(n,)`` nonnegative numbers, zero exactly on the simplex.
    """
    box = jnp.sum(jax.nn.relu(-labels) ** 2 + jax.nn.relu(labels - 1.0) ** 2, axis=-1)
    return box + (jnp.sum(labels, axis=-1) - 1.0) ** 2


def constraint_penalty(signals: jax.Array, labels: jax.Array, bounds: jax.Array,
                       coverage: jax.Array | None = None) -> tuple[jax.Array, jax.Array]:
    """The quadratic penalty of ``Omega``: ``(sum_mk relu(err_mk - b_mk)^2, simplex [n])``.

    Returns:
        The (scalar) error-bound penalty of the whole labeling and the per-example simplex
        penalties ``(n,)``.
    """
    violation = constraint_violations(signals, labels, bounds, coverage)
    return jnp.sum(jax.nn.relu(violation) ** 2), simplex_violations(labels)


def in_constraint_set(signals: jax.Array, labels: jax.Array, bounds: jax.Array,
                      coverage: jax.Array | None = None, atol: float = 1e-6) -> jax.Array:
    """Whether the labeling lies in ``Omega`` up to ``atol`` (a boolean scalar)."""
    ok_bounds = jnp.all(constraint_violations(signals, labels, bounds, coverage) <= atol)
    ok_box = jnp.all((labels >= -atol) & (labels <= 1.0 + atol))
    ok_sum = jnp.all(jnp.abs(jnp.sum(labels, axis=-1) - 1.0) <= atol)
    return ok_bounds & ok_box & ok_sum


def llf_loss(log_prob: jax.Array, labels: jax.Array, signals: jax.Array, bounds: jax.Array,
             penalty_weight: float, coverage: jax.Array | None = None
             ) -> tuple[jax.Array, dict[str, jax.Array]]:
    """LLF's per-example loss for a batch of labels generated by the flow's inverse.

    ``loss_j = -log p(y_j | x_j) + lambda * (P_bounds + P_simplex(y_j))``, whose batch mean
    is the penalized objective of the module docstring (``P_bounds`` is a property of the
    whole batch, so it is added to every example).

    Args:
        log_prob: ``log p_theta(y_j | x_j)`` of the generated labels ``(n,)``.
        labels: the generated ``y = f^{-1}(z; x)``, ``(n, K)``.
        signals: ``(n, M, K)`` weak signals of the batch.
        bounds: ``(M, K)`` error bounds.
        penalty_weight: ``lambda``.
        coverage: optional ``(n, M)`` abstention mask.

    Returns:
        ``(per_example_loss (n,), metrics)`` with the batch's penalties.
    """
    bound_penalty, simplex_penalty = constraint_penalty(signals, labels, bounds, coverage)
    loss = -log_prob + penalty_weight * (bound_penalty + simplex_penalty)
    return loss, {"bound_penalty": bound_penalty, "simplex_penalty": simplex_penalty,
                  "log_prob": log_prob}


def majority_vote(signals: jax.Array, coverage: jax.Array | None = None
                  ) -> tuple[jax.Array, jax.Array]:
    """Majority vote of the signals' argmax classes; ties go to the larger summed ``q``.

    Args:
        signals: ``(n, M, K)``.
        coverage: optional ``(n, M)`` abstention mask (abstaining signals do not vote).

    Returns:
        ``(labels (n,) int32, vote fractions (n, K))``; an example no signal covers gets
        uniform fractions and the class of the largest summed ``q``.
    """
    if signals.ndim != 3:
        raise ValueError(f"signals must have shape (n, M, K), got {signals.shape}.")
    cover = _coverage(signals, coverage)
    num_classes = signals.shape[-1]
    votes = jax.nn.one_hot(jnp.argmax(signals, axis=-1), num_classes) * cover[:, :, None]
    counts = jnp.sum(votes, axis=1)
    soft = jnp.sum(signals * cover[:, :, None], axis=1)
    total = jnp.sum(counts, axis=-1, keepdims=True)
    fractions = jnp.where(total > 0, counts / jnp.maximum(total, 1.0), 1.0 / num_classes)
    # Tie-break: counts dominate; the summed soft signal (< M <= count gap of 1 after
    # scaling) decides among the tied classes.
    score = counts + soft / (signals.shape[1] + 1.0)
    return jnp.argmax(score, axis=-1).astype(jnp.int32), fractions


def average_prediction(samples: jax.Array) -> tuple[jax.Array, jax.Array]:
    """LLF's prediction from sampled labelings: the mean ``y`` and its argmax.

    Args:
        samples: ``(S, n, K)`` (or ``(S, K)``) labelings drawn from ``p(y | x)``.

    Returns:
        ``(mean (n, K), argmax labels (n,))``.
    """
    mean = jnp.mean(samples, axis=0)
    return mean, jnp.argmax(mean, axis=-1).astype(jnp.int32)
