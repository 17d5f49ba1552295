r"""Product-of-experts debiasing with a frozen weak learner (Sanh et al. 2021) [P069].

Sanh, Wolf, Belinkov & Rush (ICLR 2021), "Learning from others' mistakes: Avoiding dataset
biases without modeling them". A *weak learner* (a model of limited capacity, trained on the
same data with plain cross-entropy and then frozen) picks up the easy, often spurious
features of a dataset. The main model is trained through the product of the two experts,

    log p_PoE(y | x) = log_softmax_y(log p_weak(y | x) + log p_main(y | x)),

with cross-entropy ``-log p_PoE(label | x)`` and no gradient into the weak learner
(``stop_gradient``). Where the weak learner is already confident and right, the product is
confident whatever the main model says and the main model's gradient is small; where it is
wrong, the main model must correct it. At test time the main model is used alone.

The gradient with respect to the main logits ``z`` is ``p_PoE - onehot(label)`` (softmax of
``log p_weak + log_softmax(z)`` equals softmax of ``log p_weak + z``), against ``p_main -
onehot(label)`` for plain cross-entropy; with a uniform weak learner both are the same.

All functions act on the last axis (classes) and broadcast over any leading axes: one example
``(C,)`` with a scalar label, or a batch ``(B, C)`` with labels ``(B,)``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

Array = jax.Array


def _check_shapes(main_logits: Array, weak_log_probs: Array, label: Array | None = None):
    main_logits, weak_log_probs = jnp.asarray(main_logits), jnp.asarray(weak_log_probs)
    if main_logits.ndim == 0 or main_logits.shape != weak_log_probs.shape:
        raise ValueError(f"main and weak outputs must have the same shape (..., C); got "
                         f"{main_logits.shape} and {weak_log_probs.shape}")
    if label is not None and jnp.shape(label) != main_logits.shape[:-1]:
        raise ValueError(f"label must have shape {main_logits.shape[:-1]} (the logits' "
                         f"leading axes), got {jnp.shape(label)}")
    return main_logits, weak_log_probs


def product_of_experts_log_probs(main_logits: Array, weak_log_probs: Array) -> Array:
    """``log_softmax(log_softmax(main_logits) + stop_gradient(weak_log_probs))``.

    Args:
      main_logits: the main model's logits ``(..., C)``.
      weak_log_probs: the weak learner's log-probabilities (or logits: any per-example
        additive constant cancels) ``(..., C)``; no gradient flows into them.

    Returns:
      The product of experts' log-probabilities ``(..., C)``.

    Raises:
      ValueError: if the shapes differ.
    """
    main_logits, weak_log_probs = _check_shapes(main_logits, weak_log_probs)
    combined = jax.nn.log_softmax(main_logits, axis=-1) + jax.lax.stop_gradient(weak_log_probs)
    return jax.nn.log_softmax(combined, axis=-1)


def product_of_experts_loss(main_logits: Array, weak_log_probs: Array, label: Array) -> Array:
    """Cross-entropy of the product of experts: ``-log p_PoE(label | x)`` (Sanh et al. 2021).

    Only the main model is trained (the weak learner is behind ``stop_gradient``). One
    forward pass of each model; the weak learner's outputs can be precomputed.

    Args:
      main_logits: the main model's logits ``(..., C)``.
      weak_log_probs: the frozen weak learner's log-probabilities (or logits) ``(..., C)``.
      label: integer class labels, the logits' leading shape.

    Returns:
      The per-example loss, shape ``label.shape``.

    Raises:
      ValueError: if the shapes do not fit.
    """
    main_logits, weak_log_probs = _check_shapes(main_logits, weak_log_probs, label)
    log_probs = product_of_experts_log_probs(main_logits, weak_log_probs)
    label = jnp.asarray(label, jnp.int32)
    return -jnp.take_along_axis(log_probs, label[..., None], axis=-1)[..., 0]


def cross_entropy(logits: Array, label: Array) -> Array:
    """Plain cross-entropy ``-log_softmax(logits)[label]`` (the baseline; PoE's neutral case).

    Args:
      logits: logits ``(..., C)``.
      label: integer labels, the logits' leading shape.

    Returns:
      The per-example loss, shape ``label.shape``.

    Raises:
      ValueError: if the label's shape does not fit.
    """
    logits = jnp.asarray(logits)
    if logits.ndim == 0 or jnp.shape(label) != logits.shape[:-1]:
        raise ValueError(f"label must have shape {logits.shape[:-1]} for logits of shape "
                         f"{logits.shape}, got {jnp.shape(label)}")
    log_probs = jax.nn.log_softmax(logits, axis=-1)
    label = jnp.asarray(label, jnp.int32)
    return -jnp.take_along_axis(log_probs, label[..., None], axis=-1)[..., 0]
