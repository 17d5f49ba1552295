r"""Masked language modelling: MLM loss, pseudo-log-likelihood, latent bootstrapping.

Used by MLM scoring [P239], MLM vs CLM pretraining [P192] and latent bootstrapping [P185].

* :func:`mask_tokens`: BERT's corruption (Devlin et al. 2019): each position is
  chosen with probability ``rate``; a chosen position becomes ``[MASK]`` with
  probability ``mask_prob`` (0.8), a uniformly random token with probability
  ``random_prob`` (0.1) and stays itself otherwise (0.1).
* :func:`masked_lm_loss`: the cross-entropy ``-log q(x_t | x~)`` averaged over the
  chosen positions only.
* :func:`masked_copies`, :func:`pseudo_log_likelihood_terms`,
  :func:`pseudo_log_likelihood`, :func:`pseudo_perplexity`: Salazar et al. (2020),
  "Masked Language Model Scoring" (ACL 2020, arXiv:1910.14659) [P239]:
  ``PLL(W) = sum_t log P_MLM(w_t | W_{\t})`` with ``W_{\t}`` the sequence with
  token ``t`` replaced by ``[MASK]``, computed by ``vmap`` over the ``T`` masked
  copies (``T`` forward passes per sequence), and ``PPPL = exp(-sum PLL / N)``
  over a corpus of ``N`` tokens.
* :func:`latent_bootstrapping_loss`, :func:`ema_update`: Samuel (2023), "Mean
  BERTs make erratic language teachers" (BabyLM, arXiv:2310.19420) [P185]:
  the student reads the masked input and predicts, at the masked positions, the
  teacher's final-layer contextual embeddings of the *unmasked* input,
  normalized by a LayerNorm without affine parameters and held under
  ``stop_gradient``; the loss is smooth-L1 (as in the author's code, the same
  as data2vec/BYOL-style latent targets), and the teacher is an exponential
  moving average ("mean teacher") of the student.

Shapes follow :mod:`likelihood_jax.sequence.objectives`: ``logits [..., T, V]``,
``tokens``/``targets``/``target_mask [..., T]``; leading dimensions are free
unless a docstring says "one sequence".
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import optax


def mask_tokens(key: jax.Array, tokens: jax.Array, mask_id: int, vocab_size: int, *,
                rate: float = 0.15, mask_prob: float = 0.8, random_prob: float = 0.1,
                maskable: jax.Array | None = None) -> tuple[jax.Array, jax.Array]:
    """BERT masking of ``tokens [..., T]``: the corrupted inputs and the target mask.

    Each position (where ``maskable``) is a target independently with probability
    ``rate``; a target's input becomes ``mask_id`` with probability ``mask_prob``, a
    token drawn uniformly from ``{0..vocab_size-1}`` with probability ``random_prob``
    (it may equal the original), and is kept with probability
    ``1 - mask_prob - random_prob``. Non-targets are unchanged.

    Args:
      key: PRNG key.
      tokens: ``[..., T]`` int token ids in ``{0..vocab_size-1}``.
      mask_id: the ``[MASK]`` input id (outside the output vocabulary, e.g. ``V``).
      vocab_size: ``V``, the range of random replacements.
      rate: probability that a position is a target (BERT: 0.15).
      mask_prob: probability that a target reads ``[MASK]`` (BERT: 0.8).
      random_prob: probability that a target reads a random token (BERT: 0.1).
      maskable: optional ``[..., T]`` bool, False where a position may not be chosen
        (padding).

    Returns:
      ``(inputs [..., T], target_mask [..., T] bool)``.
    """
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"masking rate must be in [0, 1], got {rate}")
    if mask_prob < 0 or random_prob < 0 or mask_prob + random_prob > 1.0:
        raise ValueError(f"mask_prob {mask_prob} and random_prob {random_prob} must be "
                         f">= 0 and sum to at most 1")
    choose_key, kind_key, random_key = jax.random.split(key, 3)
    target = jax.random.bernoulli(choose_key, rate, tokens.shape)
    if maskable is not None:
        if maskable.shape != tokens.shape:
            raise ValueError(f"maskable shape {maskable.shape} differs from tokens shape "
                             f"{tokens.shape}")
        target = target & maskable.astype(bool)
    u = jax.random.uniform(kind_key, tokens.shape)
    random_tokens = jax.random.randint(random_key, tokens.shape, 0, vocab_size, tokens.dtype)
    corrupted = jnp.where(u < mask_prob, jnp.asarray(mask_id, tokens.dtype),
                          jnp.where(u < mask_prob + random_prob, random_tokens, tokens))
    return jnp.where(target, corrupted, tokens), target


def masked_lm_loss(logits: jax.Array, targets: jax.Array, target_mask: jax.Array) -> jax.Array:
    """Per-sequence MLM loss ``[...]``: mean of ``-log softmax(logits)[x_t]`` over targets.

    ``L = sum_t m_t (-log q(x_t | x~)) / max(1, sum_t m_t)``; positions with
    ``m_t = 0`` do not enter (their logits have zero gradient). A sequence without
    targets has loss 0.

    Args:
      logits: ``[..., T, V]`` per-position logits of the bidirectional model.
      targets: ``[..., T]`` the original (uncorrupted) tokens.
      target_mask: ``[..., T]`` bool, True at the positions to predict.
    """
    if logits.ndim < 2 or logits.shape[:-1] != targets.shape:
        raise ValueError(f"logits [..., T, V] and targets [..., T] do not fit: "
                         f"{logits.shape} vs {targets.shape}")
    if target_mask.shape != targets.shape:
        raise ValueError(f"target_mask shape {target_mask.shape} differs from targets shape "
                         f"{targets.shape}")
    mask = target_mask.astype(logits.dtype)
    log_probs = jax.nn.log_softmax(logits, -1)
    nll = -jnp.take_along_axis(log_probs, targets[..., None].astype(jnp.int32), -1)[..., 0]
    nll = jnp.where(target_mask, nll, 0.0)
    return jnp.sum(nll, -1) / jnp.maximum(jnp.sum(mask, -1), 1.0)


def masked_copies(tokens: jax.Array, mask_id: int) -> jax.Array:
    """The ``T`` copies ``[T, T]`` of one sequence ``tokens [T]``; copy ``t`` masks token ``t``."""
    if tokens.ndim != 1:
        raise ValueError(f"masked_copies takes one sequence [T], got shape {tokens.shape}")
    length = tokens.shape[0]
    eye = jnp.eye(length, dtype=bool)
    return jnp.where(eye, jnp.asarray(mask_id, tokens.dtype), tokens[None, :])


def pseudo_log_likelihood_terms(logits_fn: Callable[[jax.Array], jax.Array],
                                tokens: jax.Array, mask_id: int) -> jax.Array:
    r"""``log P_MLM(w_t | W_{\t})`` for every position of one sequence: ``[T]``.

    ``logits_fn`` maps one sequence ``[T]`` to its logits ``[T, V]``; it is
    ``vmap``-ed over the ``T`` masked copies (one forward pass per position, all
    in one batch), and copy ``t`` contributes the log-softmax of its row ``t`` at
    ``w_t`` (Salazar et al. 2020, eq. 1).

    Args:
      logits_fn: ``[T] -> [T, V]`` (e.g. ``lambda s: model.apply(p, s[None])[0]``).
      tokens: ``[T]`` int tokens.
      mask_id: the ``[MASK]`` input id.
    """
    copies = masked_copies(tokens, mask_id)
    positions = jnp.arange(tokens.shape[0])

    def term(t, copy):
        log_probs = jax.nn.log_softmax(logits_fn(copy)[t], -1)
        return log_probs[tokens[t]]

    return jax.vmap(term)(positions, copies)


def pseudo_log_likelihood(logits_fn: Callable[[jax.Array], jax.Array], tokens: jax.Array,
                          mask_id: int, valid: jax.Array | None = None) -> jax.Array:
    r"""``PLL(W) = sum_t log P_MLM(w_t | W_{\t})`` of one sequence ``tokens [T]`` (a scalar).

    Cost: ``T`` forward passes of length ``T``. ``valid [T]`` (optional) restricts
    the sum to real tokens (padding positions are still read as context). Not a
    normalized log-likelihood: ``sum_W exp(PLL(W))`` need not be 1, even for the
    exact conditionals of a joint.
    """
    terms = pseudo_log_likelihood_terms(logits_fn, tokens, mask_id)
    if valid is not None:
        terms = jnp.where(valid, terms, 0.0)
    return jnp.sum(terms)


def pseudo_perplexity(plls: jax.Array, num_tokens: jax.Array) -> jax.Array:
    """Corpus pseudo-perplexity ``PPPL = exp(-sum_W PLL(W) / sum_W |W|)``.

    Args:
      plls: ``[N]`` pseudo-log-likelihoods of the sentences.
      num_tokens: ``[N]`` (or a scalar total) number of scored tokens.
    """
    return jnp.exp(-jnp.sum(plls) / jnp.sum(num_tokens))


def _layer_norm(x: jax.Array, eps: float = 1e-5) -> jax.Array:
    mean = jnp.mean(x, -1, keepdims=True)
    var = jnp.var(x, -1, keepdims=True)
    return (x - mean) * jax.lax.rsqrt(var + eps)


def latent_bootstrapping_loss(predictions: jax.Array, teacher_hidden: jax.Array,
                              target_mask: jax.Array, beta: float = 1.0) -> jax.Array:
    """Per-sequence latent-bootstrapping loss ``[...]`` (Samuel 2023) [P185].

    With ``y_t = LayerNorm(sg(h^teacher_t))`` (zero mean, unit variance over the
    ``W`` features, no affine parameters; ``sg`` = stop-gradient) and the student's
    prediction ``p_t`` (its contextual embedding of the *masked* input through a
    small head), the loss is ``sum_t m_t mean_w smoothL1_beta(p_tw - y_tw) /
    max(1, sum_t m_t)``, where ``smoothL1_beta(d) = d^2 / (2 beta)`` for
    ``|d| < beta`` and ``|d| - beta / 2`` otherwise (PyTorch ``smooth_l1_loss``).
    Gradients reach only ``predictions``: the teacher is trained by
    :func:`ema_update`, never by this loss.

    Args:
      predictions: ``[..., T, W]`` student predictions.
      teacher_hidden: ``[..., T, W]`` teacher's final-layer contextual embeddings of
        the uncorrupted input.
      target_mask: ``[..., T]`` bool, the masked positions.
      beta: smooth-L1 threshold (> 0).
    """
    if predictions.shape != teacher_hidden.shape:
        raise ValueError(f"predictions {predictions.shape} and teacher_hidden "
                         f"{teacher_hidden.shape} differ in shape")
    if target_mask.shape != predictions.shape[:-1]:
        raise ValueError(f"target_mask {target_mask.shape} does not fit predictions "
                         f"{predictions.shape}")
    if beta <= 0:
        raise ValueError(f"beta must be > 0, got {beta}")
    targets = _layer_norm(jax.lax.stop_gradient(teacher_hidden))
    diff = jnp.abs(predictions - targets)
    per_feature = jnp.where(diff < beta, 0.5 * diff ** 2 / beta, diff - 0.5 * beta)
    per_token = jnp.where(target_mask, jnp.mean(per_feature, -1), 0.0)
    count = jnp.sum(target_mask.astype(predictions.dtype), -1)
    return jnp.sum(per_token, -1) / jnp.maximum(count, 1.0)


def ema_update(teacher, student, decay: float):
    """Mean-teacher update ``teacher <- decay * teacher + (1 - decay) * student`` (a pytree).

    ``optax.incremental_update(new_tensors=student, old_tensors=teacher,
    step_size=1 - decay)``; ``decay = 1`` freezes the teacher, ``0`` copies the
    student.
    """
    if isinstance(decay, (int, float)) and not 0.0 <= decay <= 1.0:
        raise ValueError(f"EMA decay must be in [0, 1], got {decay}")
    return optax.incremental_update(student, teacher, 1.0 - decay)
