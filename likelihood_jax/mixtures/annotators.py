"""Learning from several noisy annotators: the true label as a latent mixture component [P127].

Herde, Huseljic, Sick (TMLR 2023), "Multi-annotator Deep Learning: A Probabilistic Framework
for Classification" (MaDL). A ground-truth model ``p(y | x)`` and an annotator-performance
model ``P_a(z | y, x)`` (annotator ``a``'s confusion matrix, from an annotator embedding and
optionally the instance) explain each annotation ``z_a`` through the unobserved true label:

    p(z_a | x) = sum_y p(y | x) P_a(z_a | y, x),

a ``C``-component mixture per annotator, computed with ``logsumexp``. Training maximizes
``sum_a m_a w_a log p(z_a | x)`` over the observed annotations (``m_a`` the mask) with
annotator weights ``w_a`` that down-weight groups of similar (correlated) annotators.

Per-example functions (one instance; ``jax.vmap`` over a batch):

* :func:`annotation_log_probs`: ``log p(z_a = z | x)`` for all annotators and labels ``(A, C)``;
* :func:`multi_annotator_nll`: the weighted negative log-likelihood of observed annotations.

Batch helpers: :func:`annotator_weights` (MaDL's kernel-based weights from annotator
embeddings), :func:`annotator_accuracies` (``sum_y p(y) P_a(y | y)``, the probability that
annotator ``a`` is right), :func:`majority_vote` (the baseline).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from likelihood_jax import _checks

Array = jax.Array


def annotation_log_probs(class_log_probs: Array, confusion_log_probs: Array) -> Array:
    """``log p(z_a = z | x) = logsumexp_y [log p(y | x) + log P_a(z | y, x)]``: ``(A, C)`` [P127].

    Args:
      class_log_probs: ``log p(y | x)``, shape ``(C,)`` (normalized).
      confusion_log_probs: ``log P_a(z | y, x)``, shape ``(A, C, C)`` indexed ``[a, y, z]``
        (each row ``[a, y, :]`` normalized over ``z``).

    Returns:
      ``(A, C)``; each row sums to one in probability (a mixture of normalized rows).
    """
    _checks.require_rank("annotation_log_probs", "class_log_probs", class_log_probs, 1, "(C,)")
    c = jnp.shape(class_log_probs)[0]
    _checks.require_rank("annotation_log_probs", "confusion_log_probs", confusion_log_probs,
                         3, "(A, C, C)")
    if jnp.shape(confusion_log_probs)[1:] != (c, c):
        raise _checks.error("annotation_log_probs", "confusion_log_probs",
                            f"of shape (A, C, C) with C = {c}",
                            f"shape {jnp.shape(confusion_log_probs)}")
    return jax.nn.logsumexp(class_log_probs[None, :, None] + confusion_log_probs, axis=1)


def multi_annotator_nll(class_logits: Array, confusion_logits: Array, annotations: Array,
                        mask: Array, weights: Array | None = None) -> Array:
    """``-sum_a m_a w_a log p(z_a | x) / sum_a m_a`` for one instance [P127].

    ``p(y | x) = softmax(class_logits)``, ``P_a(. | y, x) = softmax(confusion_logits[a, y])``.
    With one perfect annotator (``P(z | y) = [z = y]``) this is the cross-entropy
    ``-log p(z | x)`` of its label. An instance without annotations gives 0.

    Args:
      class_logits: ``(C,)``.
      confusion_logits: ``(A, C, C)`` indexed ``[a, y, z]``.
      annotations: integer labels ``(A,)`` (any value where ``mask`` is 0).
      mask: ``(A,)``, 1 where annotator ``a`` labeled the instance.
      weights: annotator weights ``(A,)`` (default ones).

    Returns:
      A scalar.
    """
    _checks.require_integer("multi_annotator_nll", "annotations", annotations)
    log_p = annotation_log_probs(jax.nn.log_softmax(class_logits),
                                 jax.nn.log_softmax(confusion_logits, axis=-1))
    num_annotators, num_classes = log_p.shape
    _checks.require_shape("multi_annotator_nll", "annotations", annotations,
                          (num_annotators,), "(A,)")
    _checks.require_shape("multi_annotator_nll", "mask", mask, (num_annotators,), "(A,)")
    safe = jnp.clip(annotations, 0, num_classes - 1)
    picked = jnp.take_along_axis(log_p, safe[:, None], axis=1)[:, 0]
    mask = jnp.asarray(mask, log_p.dtype)
    weighted = mask if weights is None else mask * weights
    return -jnp.sum(weighted * picked) / jnp.maximum(jnp.sum(mask), 1.0)


def annotator_weights(embeddings: Array, bandwidth: float) -> Array:
    """MaDL's annotator weights: ``w_a = A (1 / n_a) / sum_b (1 / n_b)`` [P127].

    ``n_a = sum_b exp(-||e_a - e_b||^2 / (2 bandwidth^2))`` counts the annotators similar to
    ``a`` (itself included), so a group of ``k`` identical annotators carries the weight of
    about one and a lone annotator keeps ``n_a = 1``. The weights sum to ``A``.

    Args:
      embeddings: ``(A, E)`` annotator embeddings (callers pass them through
        ``stop_gradient``, as MaDL does).
      bandwidth: the kernel width (``> 0``).
    """
    _checks.require_rank("annotator_weights", "embeddings", embeddings, 2, "(A, E)")
    _checks.require_greater("annotator_weights", "bandwidth", bandwidth)
    sq = jnp.sum((embeddings[:, None, :] - embeddings[None, :, :]) ** 2, axis=-1)
    inverse = 1.0 / jnp.sum(jnp.exp(-sq / (2.0 * bandwidth**2)), axis=1)
    return embeddings.shape[0] * inverse / jnp.sum(inverse)


def annotator_accuracies(confusion: Array, class_probs: Array) -> Array:
    """``acc_a = sum_y p(y) P_a(y | y)``: the probability that annotator ``a`` is right.

    Args:
      confusion: ``(A, C, C)`` confusion matrices ``P_a(z | y)`` indexed ``[a, y, z]``.
      class_probs: the class distribution ``p(y)`` ``(C,)``.
    """
    _checks.require_rank("annotator_accuracies", "confusion", confusion, 3, "(A, C, C)")
    return jnp.einsum("ayy,y->a", confusion, class_probs)


def majority_vote(annotations: Array, mask: Array, num_classes: int) -> Array:
    """The most frequent observed label per row (ties to the smallest label): ``(N,)``.

    Args:
      annotations: ``(N, A)`` integer labels.
      mask: ``(N, A)``, 1 where observed.
      num_classes: ``C``. A row without annotations gets label 0.
    """
    _checks.require_rank("majority_vote", "annotations", annotations, 2, "(N, A)")
    _checks.require_shape("majority_vote", "mask", mask, jnp.shape(annotations), "(N, A)")
    votes = jnp.einsum("nac,na->nc", jax.nn.one_hot(annotations, num_classes),
                       jnp.asarray(mask, jnp.float32))
    return jnp.argmax(votes, axis=1)
