"""Membership inference against a language model: member/non-member splits and scores.

The setting of Min-K% Prob [P105] and Min-K%++ [P251]: a causal LM is trained on a set of
texts (the members); a score of each text, computed from the model's outputs alone, should
rank members above held-out texts of the same distribution (the non-members); AUROC
(:func:`likelihood_jax.metrics.auroc`, members the positives) measures it.

* :func:`membership_split`: draw ``2 M`` distinct windows of a corpus, half members (the
  training set) and half non-members, so that both come from the same distribution and only
  training tells them apart.
* :func:`sequence_scores`: the scores of one sequence from the model's next-token
  log-probabilities: the mean token log-probability (the loss baseline), Min-K%
  (:func:`likelihood_jax.scoring.min_k_percent`) and Min-K%++
  (:func:`likelihood_jax.scoring.min_k_plus_plus`); vmap over a batch.
* :func:`zlib_ratio`: the zlib baseline of Carlini et al. (2021), the total log-probability
  divided by the text's zlib-compressed length in bytes (host-side, numpy).
"""

from __future__ import annotations

import operator
import zlib
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from likelihood_jax import scoring

Array = jax.Array

__all__ = ["SCORES", "membership_split", "sequence_scores", "zlib_bytes", "zlib_ratio"]

#: The names :func:`sequence_scores` returns, in table order (baseline first).
SCORES = ("mean_log_prob", "min_k", "min_k_pp")


def membership_split(windows: np.ndarray, num_members: int, seed: int
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Members and an equal number of non-members, drawn without replacement from ``windows``.

    Args:
      windows: ``[N, L]`` candidate texts (e.g. non-overlapping windows of a corpus).
      num_members: ``M >= 1``, with ``2 M <= N``.
      seed: seed of the draw (numpy ``default_rng``).

    Returns:
      ``(members [M, L], texts [2M, L], is_member [2M] int32)``: ``texts`` holds the members
      and then ``M`` other windows; ``is_member`` is 1 for the first ``M`` rows.

    Raises:
      ValueError: ``windows`` not 2-D or too few of them for ``2 M``.
    """
    windows = np.asarray(windows)
    num_members = operator.index(num_members)
    if windows.ndim != 2:
        raise ValueError(f"windows must be [N, L], got shape {windows.shape}")
    if num_members < 1 or 2 * num_members > len(windows):
        raise ValueError(f"num_members must lie in [1, N/2] for N = {len(windows)} windows, "
                         f"got {num_members}")
    chosen = np.random.default_rng(seed).choice(len(windows), 2 * num_members, replace=False)
    texts = windows[chosen]
    is_member = (np.arange(2 * num_members) < num_members).astype(np.int32)
    return texts[:num_members], texts, is_member


def sequence_scores(log_probs: Array, targets: Array, *, k: float = 0.2,
                    mask: Array | None = None) -> dict[str, Array]:
    """Membership scores of one sequence (higher: more likely a member) [P105, P251].

    Args:
      log_probs: ``[T, V]`` the model's normalized ``log p(z | x_<t)``.
      targets: ``[T]`` int, the sequence's tokens ``x_t``.
      k: the fraction of tokens of Min-K% and Min-K%++.
      mask: optional ``[T]`` bool, ``True`` at real tokens.

    Returns:
      ``{"mean_log_prob", "min_k", "min_k_pp"}`` scalars (see :data:`SCORES`);
      ``mean_log_prob`` is Min-K% with ``k = 1``.
    """
    token_log_probs = jnp.take_along_axis(log_probs, targets[:, None].astype(jnp.int32),
                                          -1)[:, 0]
    return {
        "mean_log_prob": scoring.min_k_percent(token_log_probs, k=1.0, mask=mask),
        "min_k": scoring.min_k_percent(token_log_probs, k=k, mask=mask),
        "min_k_pp": scoring.min_k_plus_plus(token_log_probs, log_probs, k=k, mask=mask),
    }


def zlib_bytes(texts: np.ndarray, vocab: Sequence[str]) -> np.ndarray:
    """``[N]`` zlib-compressed length in bytes (level 9) of each decoded text ``texts [N, L]``.

    Token ``i`` decodes to ``vocab[i]``; the text is encoded as UTF-8.
    """
    texts = np.asarray(texts)
    return np.array([len(zlib.compress("".join(vocab[i] for i in row).encode(), 9))
                     for row in texts], np.float64)


def zlib_ratio(total_log_prob, texts: np.ndarray, vocab: Sequence[str]) -> np.ndarray:
    """The zlib membership score ``log p(x) / zlib(x)`` (higher: more likely a member).

    ``log p(x)`` (``total_log_prob [N]``, nats) is negative; dividing by the compressed size
    (:func:`zlib_bytes`) discounts texts that are hard for any model (Carlini et al. 2021).
    """
    return np.asarray(total_log_prob, np.float64) / zlib_bytes(texts, vocab)
