"""Training objectives of autoregressive sequence models, one per function.

Shapes: ``logits [..., T, V]`` are the model's next-token logits, ``targets
[..., T]`` the tokens they predict (``targets[t]`` given the inputs up to ``t``),
``mask [..., T]`` (optional, default all ones) marks the tokens that count. Every
objective returns **per-token** losses ``[..., T]``, zero where ``mask`` is 0;
:func:`masked_mean` reduces them to per-example values ``[...]`` (a trainer's
``[B]`` loss). Leading dimensions are free, so each works on one example or a
batch.

* :func:`token_cross_entropy`: MLE, ``-log q(y_t | y_<t)``.
* :func:`mixce`: MixCE [P023] (Zhang et al. 2023), its data-only approximation of
  ``eta * CE(P, Q) + (1 - eta) * CE(Q, P)``.
* :func:`token_unlikelihood`: MLE plus token-level unlikelihood on the previous
  context tokens (Welleck et al. 2019) [P055].
* :func:`sequence_unlikelihood`: unlikelihood of the given candidate tokens of a
  model's own continuation (Welleck et al. 2019; candidates from
  :func:`likelihood_jax.sequence.decoding.ngram_repeat_mask`).
* :func:`policy_gradient`: the REINFORCE surrogate with a leave-one-out baseline
  (the policy-gradient part of implicit unlikelihood training, Lagutin et al. 2021)
  [P055].
* :func:`probability_objective` and :func:`thresholded_probability_objective`:
  the ``-(p^alpha - 1) / alpha`` family (``alpha -> 0``: NLL; ``1``: ``-p``) and
  its restriction to tokens above/below a probability threshold (Li et al. 2025) [P053].
* :func:`embedding_similarity_targets` and :func:`token_smoothing`: token-level
  loss smoothing with soft targets from embedding similarity;
  :func:`hamming_edit_distance_distribution` and :func:`sample_hamming_targets`:
  sequence-level (reward-augmented, RAML) smoothing with the Hamming reward
  (Elbayad, Besacier & Verbeek 2018) [P056].
* :func:`transport_cost_bound`, :func:`earth_mover_bound` and :func:`emo`: the
  earth mover's upper bound with an embedding cosine cost, combined with MLE
  (EMO, Ren, Wu & Zhu 2024) [P032].
* :func:`semipermeable_cross_entropy`: SMILE, the softmax restricted to the
  reference's own tokens (Yue, Hu, Zhang & Jin 2023) [P016].
* :func:`weighted_token_cross_entropy`: token-weighted MLE ``-w_t log q`` (the
  FewGen generator objective, Meng et al. 2023; weights from
  :mod:`likelihood_jax.sequence.meta_weighting`).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

_MIN_ONE_MINUS_P = 1e-6


def token_mask(logits: jax.Array, targets: jax.Array, mask: jax.Array | None) -> jax.Array:
    """Checks that ``logits [..., T, V]``, ``targets [..., T]`` and ``mask`` fit; float mask.

    Returns ones when ``mask`` is None. Raises ValueError naming the shapes otherwise.
    """
    if logits.ndim < 2 or logits.shape[:-1] != targets.shape:
        raise ValueError(f"logits [..., T, V] and targets [..., T] do not fit: "
                         f"{logits.shape} vs {targets.shape}")
    if mask is None:
        return jnp.ones(targets.shape, logits.dtype)
    if mask.shape != targets.shape:
        raise ValueError(f"mask shape {mask.shape} differs from targets shape {targets.shape}")
    return mask.astype(logits.dtype)


def token_log_probs(logits: jax.Array, targets: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``(log_softmax(logits) [..., T, V], log q(targets) [..., T])``."""
    log_probs = jax.nn.log_softmax(logits, axis=-1)
    return log_probs, jnp.take_along_axis(log_probs, targets[..., None].astype(jnp.int32),
                                          -1)[..., 0]


def log_one_minus_prob(log_probs: jax.Array) -> jax.Array:
    """``log(1 - p)`` from ``log p``, as ``log(-expm1(log p))``, with ``1 - p >= 1e-6``."""
    return jnp.log(jnp.maximum(-jnp.expm1(log_probs), _MIN_ONE_MINUS_P))


def masked_mean(per_token: jax.Array, mask: jax.Array | None = None) -> jax.Array:
    """Mean of ``per_token [..., T]`` over the tokens where ``mask`` is 1 -> ``[...]``."""
    if mask is None:
        return jnp.mean(per_token, axis=-1)
    mask = mask.astype(per_token.dtype)
    return jnp.sum(per_token * mask, axis=-1) / jnp.maximum(jnp.sum(mask, axis=-1), 1.0)


def token_cross_entropy(logits: jax.Array, targets: jax.Array,
                        mask: jax.Array | None = None) -> jax.Array:
    """Per-token negative log-likelihood ``-log q(y_t | y_<t)`` (MLE; forward CE with the data)."""
    mask = token_mask(logits, targets, mask)
    return -token_log_probs(logits, targets)[1] * mask


def mixce(logits: jax.Array, targets: jax.Array, mask: jax.Array | None = None, *,
          eta: float | jax.Array = 1.0) -> jax.Array:
    """MixCE per token: ``-(eta + (1 - eta) * sg(q_t)) * log q_t``, ``q_t = q(y_t | y_<t)``.

    Zhang, Wu, Irsoy, Lu, Bansal, Dredze & Rosenberg (2023), "MixCE: Training
    autoregressive language models by mixing forward and reverse cross-entropies"
    (ACL 2023, arXiv:2305.16958). The target is
    ``eta * CE(P, Q) + (1 - eta) * CE(Q, P)`` with ``CE(Q, P) = -E_{x~Q} log P(x)``,
    whose gradient needs samples of ``Q`` scored by the unknown ``P``. The paper
    approximates the reverse term from data samples only: the expectation is moved
    from model samples onto data samples and the intractable density factors are
    dropped, leaving a self-reinforcing weight, the model's own probability,
    which its implementation takes per token (stop-gradient ``q_t``). Data tokens
    the model already finds likely are pushed further and unlikely ones less (a
    mode-seeking pull). This function is that per-token surrogate; its gradient
    is ``(eta + (1 - eta) q_t) grad(-log q_t)``.

    ``eta = 1`` is exactly :func:`token_cross_entropy` (MLE); ``eta = 0`` is the
    approximate reverse term alone. The surrogate's value is not a cross-entropy;
    report :func:`token_cross_entropy` as the likelihood metric. Cost: one softmax,
    like MLE.
    """
    mask = token_mask(logits, targets, mask)
    _, target_log_probs = token_log_probs(logits, targets)
    weight = eta + (1.0 - eta) * jax.lax.stop_gradient(jnp.exp(target_log_probs))
    return -weight * target_log_probs * mask


def previous_token_candidates(targets: jax.Array, vocab_size: int,
                              mask: jax.Array | None = None, *,
                              window: int | None = None) -> jax.Array:
    """``[..., T, V]`` bool: token ``v`` occurred among the previous targets and is not ``y_t``.

    The negative candidates ``C_t = {y_{t-window}, ..., y_{t-1}} minus {y_t}`` of
    token-level unlikelihood (Welleck et al. 2019), as a set: a token repeated in
    the context counts once. Masked-out positions are never candidates. Cost
    ``O(T^2 V)`` (a ``[T, T] x [T, V]`` product).
    """
    length = targets.shape[-1]
    t, s = jnp.arange(length)[:, None], jnp.arange(length)[None, :]
    earlier = s < t
    if window is not None:
        earlier = earlier & (s >= t - window)
    earlier = earlier.astype(jnp.float32)
    if mask is not None:
        earlier = earlier * mask.astype(jnp.float32)[..., None, :]  # [..., T, T]
    one_hot = jax.nn.one_hot(targets, vocab_size, dtype=jnp.float32)  # [..., T, V]
    seen = jnp.einsum("...ts,...sv->...tv", earlier, one_hot) > 0
    return seen & (one_hot == 0)


def token_unlikelihood(logits: jax.Array, targets: jax.Array, mask: jax.Array | None = None,
                       *, alpha: float | jax.Array = 1.0,
                       window: int | None = None) -> jax.Array:
    """MLE plus token-level unlikelihood on previous context tokens, per token.

    Welleck, Kulikov, Roller, Dinan, Cho & Weston (2019), "Neural text generation
    with unlikelihood training", eq. (4):
    ``-log q(y_t | y_<t) - alpha * sum_{c in C_t} log(1 - q(c | y_<t))`` with the
    candidates ``C_t`` = the distinct earlier targets (within ``window`` if given)
    other than ``y_t`` (:func:`previous_token_candidates`). The unlikelihood term
    pushes down the probability of repeating context tokens. ``alpha = 0`` is
    exactly MLE. Cost: one softmax plus ``O(T^2 V)`` for the candidate sets.
    """
    mask = token_mask(logits, targets, mask)
    log_probs, target_log_probs = token_log_probs(logits, targets)
    candidates = previous_token_candidates(targets, logits.shape[-1], mask, window=window)
    unlikelihood = -jnp.sum(jnp.where(candidates, log_one_minus_prob(log_probs), 0.0), -1)
    return (-target_log_probs + alpha * unlikelihood) * mask


def sequence_unlikelihood(logits: jax.Array, tokens: jax.Array,
                          candidate_mask: jax.Array) -> jax.Array:
    """Sequence-level unlikelihood per token: ``-log(1 - q(x_t | x_<t))`` where ``candidate_mask``.

    Welleck et al. (2019), eq. (6)-(7): ``x`` is the model's own continuation of a
    prefix (greedy decoding in the paper), ``logits`` the model's logits of that
    continuation re-computed with gradients (teacher forced on it), and the
    candidates are the tokens of repeated n-grams
    (:func:`likelihood_jax.sequence.decoding.ngram_repeat_mask`). Zero where the mask is 0.
    """
    mask = token_mask(logits, tokens, candidate_mask)
    _, chosen_log_probs = token_log_probs(logits, tokens)
    return -log_one_minus_prob(chosen_log_probs) * jax.lax.stop_gradient(mask)


def policy_gradient(sequence_log_probs: jax.Array, rewards: jax.Array) -> jax.Array:
    """Per-example REINFORCE surrogate ``-(R_i - b_i) * log Q(x_i)``, leave-one-out baseline.

    For samples ``x_1..x_N ~ Q`` with rewards ``R_i``, the baseline ``b_i`` is the
    mean reward of the *other* samples, so it is independent of ``x_i`` and the
    gradient of the mean surrogate is an unbiased estimate of ``-grad E_Q[R]``
    (Williams 1992). In implicit unlikelihood training (Lagutin, Gavrilov &
    Kalaidin 2021) ``R`` penalizes repetition of the model's continuation, e.g.
    ``1 - seq_rep_n``. Needs ``N >= 2``.

    Args:
      sequence_log_probs: ``[N]`` log ``Q(x_i)`` (differentiable).
      rewards: ``[N]`` rewards (no gradient flows through them).
    """
    if sequence_log_probs.ndim != 1 or sequence_log_probs.shape != rewards.shape:
        raise ValueError(f"sequence_log_probs and rewards must both be [N], got "
                         f"{sequence_log_probs.shape} and {rewards.shape}")
    n = rewards.shape[0]
    if n < 2:
        raise ValueError("the leave-one-out baseline needs at least 2 samples")
    rewards = jax.lax.stop_gradient(rewards)
    baseline = (jnp.sum(rewards) - rewards) / (n - 1)
    return -(rewards - baseline) * sequence_log_probs


# -- Probability-based objectives (P053) -------------------------------------------------------


def _probability_family(target_log_probs, alpha):
    """``-(p^alpha - 1) / alpha`` from ``log p``; ``-log p`` at ``alpha = 0``."""
    alpha = jnp.asarray(alpha, target_log_probs.dtype)
    safe = jnp.where(alpha == 0, 1.0, alpha)
    family = -jnp.expm1(safe * target_log_probs) / safe
    return jnp.where(alpha == 0, -target_log_probs, family)


def probability_objective(logits: jax.Array, targets: jax.Array, mask: jax.Array | None = None,
                          *, alpha: float | jax.Array = 1.0) -> jax.Array:
    """Per-token ``f_alpha(p) = -(p^alpha - 1) / alpha`` of ``p = q(y_t | y_<t)``.

    Li, Qiu, Chen, Ji & Tong (2025), "Beyond Log Likelihood: Probability-Based
    Objectives for Supervised Fine-Tuning across the Model Capability Continuum"
    (arXiv:2510.00526). The family interpolates between NLL (``alpha -> 0``,
    returned exactly at ``alpha = 0``), ``1 - p`` (``alpha = 1``, the paper's
    ``-p`` up to a constant) and ``(1 - p^10) / 10`` (``alpha = 10``, ``-p^10``).
    Its gradient is ``p^alpha * grad(-log p)``: NLL's gradient reweighted by
    ``p^alpha``, so ``alpha > 0`` is *prior-leaning* (tokens the model already
    finds unlikely, e.g. noisy labels, barely move it) and NLL is *prior-averse*.
    The value is bounded in ``[0, 1 / alpha]`` for ``alpha > 0``. Cost: one
    softmax, like MLE.

    Args:
      logits: ``[..., T, V]``.
      targets: ``[..., T]``.
      mask: optional ``[..., T]``.
      alpha: the exponent, ``>= 0``.
    """
    mask = token_mask(logits, targets, mask)
    _, target_log_probs = token_log_probs(logits, targets)
    return _probability_family(target_log_probs, alpha) * mask


def thresholded_probability_objective(logits: jax.Array, targets: jax.Array,
                                      mask: jax.Array | None = None, *,
                                      alpha: float | jax.Array = 1.0,
                                      threshold: float | jax.Array = 0.0,
                                      keep: str = "above") -> jax.Array:
    """:func:`probability_objective` on the tokens with ``p >= threshold`` (or ``<=``) only.

    The thresholded variants of Li et al. (2025): with ``keep="above"`` only
    tokens the model already gives probability at least ``threshold`` are
    trained (a hard prior-leaning selection); ``keep="below"`` keeps the others.
    The selection uses ``p`` without gradient. ``alpha = 0, threshold = 0,
    keep = "above"`` is exactly NLL.

    Args:
      logits: ``[..., T, V]``.
      targets: ``[..., T]``.
      mask: optional ``[..., T]``.
      alpha: exponent of the family (0: NLL on the kept tokens; 1: ``1 - p``).
      threshold: probability threshold in ``[0, 1]``.
      keep: ``"above"`` or ``"below"``.
    """
    if keep not in ("above", "below"):
        raise ValueError(f"keep must be 'above' or 'below', got {keep!r}")
    mask = token_mask(logits, targets, mask)
    _, target_log_probs = token_log_probs(logits, targets)
    p = jax.lax.stop_gradient(jnp.exp(target_log_probs))
    selected = p >= threshold if keep == "above" else p <= threshold
    return _probability_family(target_log_probs, alpha) * mask * selected.astype(mask.dtype)


# -- Loss smoothing (P056) ---------------------------------------------------------------------


def _unit_rows(embeddings):
    return embeddings / jnp.maximum(jnp.linalg.norm(embeddings, axis=-1, keepdims=True), 1e-12)


def embedding_similarity_targets(targets: jax.Array, embeddings: jax.Array,
                                 temperature: float | jax.Array) -> jax.Array:
    """Soft targets ``r(w | y_t) ∝ exp(cos(e_w, e_{y_t}) / temperature)``, ``[..., T, V]``.

    The token-level smoothing distribution of Elbayad, Besacier & Verbeek (2018),
    "Token-level and sequence-level loss smoothing for RNN language models" (ACL
    2018): tokens whose embedding is close to the target's share its mass. The
    embeddings ``[V, D]`` are treated as constants (no gradient). As
    ``temperature -> 0`` this tends to the one-hot target (``temperature = 0``
    returns it exactly); with all similarities equal it is uniform (label
    smoothing's limit).
    """
    one_hot = jax.nn.one_hot(targets, embeddings.shape[0], dtype=embeddings.dtype)
    unit = _unit_rows(jax.lax.stop_gradient(embeddings))
    similarity = unit[targets] @ unit.T  # [..., T, V]
    temperature = jnp.asarray(temperature, embeddings.dtype)
    safe = jnp.where(temperature > 0, temperature, 1.0)
    soft = jax.nn.softmax(similarity / safe, axis=-1)
    return jnp.where(temperature > 0, soft, one_hot)


def token_smoothing(logits: jax.Array, targets: jax.Array, embeddings: jax.Array,
                    mask: jax.Array | None = None, *, temperature: float | jax.Array = 0.1,
                    weight: float | jax.Array = 1.0) -> jax.Array:
    """Token-level loss smoothing per token: ``(1 - w) * NLL + w * CE(r(. | y_t), q)``.

    ``r`` is :func:`embedding_similarity_targets` (Elbayad et al. 2018, eq. 9: the
    cross-entropy of the model to the smoothed token distribution, which equals
    ``KL(r || q)`` up to ``r``'s constant entropy), mixed with MLE at weight
    ``1 - w`` as in the paper. ``weight = 0`` or ``temperature = 0`` is exactly
    :func:`token_cross_entropy`. Cost: one ``[V, V]``-row gather and a ``V``-sum
    per token.

    Args:
      logits: ``[..., T, V]``.
      targets: ``[..., T]``.
      embeddings: ``[V, D]`` token embeddings defining the similarity (constants).
      mask: optional ``[..., T]``.
      temperature: ``tau``; smaller keeps more mass on the target.
      weight: ``w``, the weight of the smoothed term.
    """
    mask = token_mask(logits, targets, mask)
    if embeddings.ndim != 2 or embeddings.shape[0] != logits.shape[-1]:
        raise ValueError(f"embeddings must be [V={logits.shape[-1]}, D], got {embeddings.shape}")
    log_probs, target_log_probs = token_log_probs(logits, targets)
    soft = embedding_similarity_targets(targets, embeddings.astype(logits.dtype), temperature)
    smoothed = -jnp.sum(soft * log_probs, -1)
    return ((1.0 - weight) * -target_log_probs + weight * smoothed) * mask


def hamming_edit_distance_distribution(length: int, vocab_size: int,
                                       temperature: float) -> np.ndarray:
    """``P(d)``, ``d = 0..L``, of the Hamming distance under ``q(y) ∝ exp(-d(y, y*) / tau)``.

    There are ``C(L, d) (V - 1)^d`` sequences at Hamming distance ``d`` from
    ``y*``, each with weight ``exp(-d / tau)``, so
    ``P(d) ∝ C(L, d) (V - 1)^d exp(-d / tau)`` (Norouzi et al. 2016's RAML
    sampler, used by Elbayad et al. 2018 for sequence-level smoothing).
    """
    if length < 1 or vocab_size < 2 or temperature <= 0:
        raise ValueError(f"need length >= 1, vocab_size >= 2, temperature > 0; got {length}, "
                         f"{vocab_size}, {temperature}")
    d = np.arange(length + 1)
    log_w = (np.array([math.lgamma(length + 1) - math.lgamma(k + 1) - math.lgamma(length - k + 1)
                       for k in d]) + d * math.log(vocab_size - 1) - d / temperature)
    w = np.exp(log_w - log_w.max())
    return w / w.sum()


def sample_hamming_targets(key: jax.Array, targets: jax.Array, vocab_size: int,
                           temperature: float) -> jax.Array:
    """One sample ``y ~ q(y | y*) ∝ exp(-Hamming(y, y*) / tau)`` per row of ``targets [..., L]``.

    Sequence-level (reward-augmented) smoothing, Elbayad et al. (2018) after
    Norouzi et al. (2016): draw the distance ``d`` from
    :func:`hamming_edit_distance_distribution`, choose ``d`` of the ``L``
    positions uniformly without replacement and replace each token by one of the
    ``V - 1`` others uniformly. This samples ``q`` exactly; training MLE on the
    samples is RAML. Small ``temperature`` makes edits rare.
    """
    length = targets.shape[-1]
    flat = targets.reshape(-1, length)
    probs = jnp.asarray(hamming_edit_distance_distribution(length, vocab_size, temperature))
    k_dist, k_pos, k_tok = jax.random.split(key, 3)
    distance = jax.random.choice(k_dist, length + 1, (flat.shape[0],), p=probs)
    # Random ranks of the positions: edit the `distance` lowest-ranked ones.
    ranks = jnp.argsort(jnp.argsort(jax.random.uniform(k_pos, flat.shape), -1), -1)
    edit = ranks < distance[:, None]
    shift = jax.random.randint(k_tok, flat.shape, 1, vocab_size)
    replaced = (flat + shift) % vocab_size  # uniform over the V - 1 other tokens
    return jnp.where(edit, replaced, flat).reshape(targets.shape).astype(targets.dtype)


# -- EMO: earth mover's distance bound (P032) ---------------------------------------------------


def cosine_cost(embeddings: jax.Array) -> jax.Array:
    """Transport cost ``C[i, j] = 1 - cos(e_i, e_j)``, ``[V, V]``, from embeddings ``[V, D]``."""
    unit = _unit_rows(embeddings)
    return 1.0 - unit @ unit.T


def transport_cost_bound(q: jax.Array, p: jax.Array, cost: jax.Array) -> jax.Array:
    """``sum_{i,j} q_i p_j C_ij``: the cost of the independent coupling, ``>= EMD_C(q, p)``.

    The product coupling ``q p^T`` is feasible for the transport problem between
    ``q`` and ``p``, so its cost bounds the earth mover's distance from above,
    with equality when ``p`` is one-hot (then every coupling is ``q e_y^T``).
    ``q, p``: ``[..., V]`` distributions; ``cost``: ``[V, V]``.
    """
    return jnp.einsum("...i,ij,...j->...", q, cost, p)


def earth_mover_bound(logits: jax.Array, targets: jax.Array, embeddings: jax.Array,
                      mask: jax.Array | None = None) -> jax.Array:
    """Per token ``sum_i q_i C(i, y_t)`` with ``C = 1 - cos`` of constant embeddings.

    Ren, Wu & Zhu (2024), "EMO: Earth Mover Distance Optimization for
    Auto-Regressive Language Modeling" (ICLR 2024, arXiv:2310.04691): the
    differentiable upper bound (:func:`transport_cost_bound`) of the earth mover's
    distance between the model's next-token distribution ``q`` and the data
    distribution, which is exact for the one-hot data target. The cost comes from
    the embeddings ``[V, D]`` under stop-gradient (the paper uses the LM head's
    output embeddings). With a 0/1 cost (orthogonal embeddings) it is ``1 - q(y)``.
    Computed as ``1 - (q @ E_unit) . E_unit[y]``: ``O(V D)`` per token.
    """
    mask = token_mask(logits, targets, mask)
    if embeddings.ndim != 2 or embeddings.shape[0] != logits.shape[-1]:
        raise ValueError(f"embeddings must be [V={logits.shape[-1]}, D], got {embeddings.shape}")
    unit = _unit_rows(jax.lax.stop_gradient(embeddings).astype(logits.dtype))
    q = jax.nn.softmax(logits, axis=-1)
    return (1.0 - jnp.sum((q @ unit) * unit[targets], -1)) * mask


def emo(logits: jax.Array, targets: jax.Array, embeddings: jax.Array,
        mask: jax.Array | None = None, *, weight: float | jax.Array = 1.0,
        max_ratio: float = 3.0) -> jax.Array:
    """EMO combined with MLE, per token: ``(NLL + w * min(sg(NLL / D), r) * D) / (1 + w)``.

    ``D`` is :func:`earth_mover_bound`. The authors' implementation adds the bound
    to MLE rescaled, under stop-gradient, to the size of the NLL (capped at
    ``max_ratio = 3``) and halves the sum; that is ``weight = 1`` here.
    ``weight = 0`` is exactly :func:`token_cross_entropy`.
    """
    mask = token_mask(logits, targets, mask)
    nll = token_cross_entropy(logits, targets)
    bound = earth_mover_bound(logits, targets, embeddings)
    scale = jax.lax.stop_gradient(jnp.minimum(nll / (bound + 1e-10), max_ratio))
    return (nll + weight * scale * bound) / (1.0 + weight) * mask


# -- SMILE: semipermeable MLE (P016) and token-weighted MLE (P021) -----------------------------


def reference_vocabulary(targets: jax.Array, vocab_size: int,
                         mask: jax.Array | None = None) -> jax.Array:
    """``V(y)`` as a ``[..., V]`` bool: the tokens of ``targets [..., T]`` where ``mask`` is 1."""
    one_hot = jax.nn.one_hot(targets, vocab_size, dtype=jnp.float32)
    if mask is not None:
        one_hot = one_hot * mask.astype(jnp.float32)[..., None]
    return jnp.sum(one_hot, axis=-2) > 0


def semipermeable_cross_entropy(logits: jax.Array, targets: jax.Array,
                                mask: jax.Array | None = None, *,
                                vocabulary: jax.Array | None = None,
                                first_token_mle: bool = False) -> jax.Array:
    """SMILE per token: ``-log[exp(z_{y_t}) / sum_{w in V(y)} exp(z_w)]``.

    Yue, Hu, Zhang & Jin (2023), "Learning Descriptive Image Captioning via Semipermeable
    Maximum Likelihood Estimation" (ICCV 2023, arXiv:2306.13460). The softmax is
    restricted to ``V(y)``, the set of tokens of the reference ``y`` (by default
    :func:`reference_vocabulary` of ``targets`` under ``mask``, so padding is not
    in it; or ``vocabulary [..., V]`` given explicitly). Tokens outside ``V(y)`` get
    exactly zero gradient: MLE's "conciseness" pressure, which pushes down every
    word the reference did not use (including correct, more detailed ones), is
    blocked, while the "richness" pressure (raising the reference's words against
    each other) is kept. With ``V(y)`` = the whole vocabulary it equals
    :func:`token_cross_entropy`. ``first_token_mle=True`` trains position 0 with the
    full softmax, the option of the authors' code (it anchors the start of the
    caption). The target token is always in its own position's softmax (so masked
    padding targets stay finite). Cost: one masked softmax, like MLE.

    Args:
      logits: ``[..., T, V]``.
      targets: ``[..., T]``.
      mask: optional ``[..., T]``; also defines ``V(y)`` when ``vocabulary`` is None.
      vocabulary: optional ``[..., V]`` bool, the allowed set per sequence.
      first_token_mle: full softmax at ``t = 0``.
    """
    weights = token_mask(logits, targets, mask)
    vocab_size = logits.shape[-1]
    if vocabulary is None:
        vocabulary = reference_vocabulary(targets, vocab_size, mask)
    elif vocabulary.shape != logits.shape[:-2] + (vocab_size,):
        raise ValueError(f"vocabulary must have shape {logits.shape[:-2] + (vocab_size,)}, got "
                         f"{vocabulary.shape}")
    allowed = vocabulary.astype(bool)[..., None, :] | jax.nn.one_hot(
        targets, vocab_size, dtype=jnp.float32).astype(bool)  # [..., T, V]
    if first_token_mle:
        allowed = allowed.at[..., 0, :].set(True)
    restricted = jnp.where(allowed, logits, -jnp.inf)
    _, target_log_probs = token_log_probs(restricted, targets)
    return -target_log_probs * weights


def weighted_token_cross_entropy(logits: jax.Array, targets: jax.Array, weights: jax.Array,
                                 mask: jax.Array | None = None) -> jax.Array:
    """Token-weighted MLE per token: ``-w_t log q(y_t | y_<t)``.

    The generator objective of FewGen (Meng et al. 2023, "Tuning Language Models
    as Training Data Generators for Augmentation-Enhanced Few-Shot Learning",
    ICML 2023): each token's NLL scaled by a weight ``w_t`` (there meta-learned,
    :mod:`likelihood_jax.sequence.meta_weighting`). The weights are used as given (no stop
    gradient, so a meta-gradient can flow through them). All ``w_t = 1`` is
    exactly :func:`token_cross_entropy`.

    Args:
      logits: ``[..., T, V]``.
      targets: ``[..., T]``.
      weights: ``[..., T]`` token weights.
      mask: optional ``[..., T]``.
    """
    mask = token_mask(logits, targets, mask)
    if weights.shape != targets.shape:
        raise ValueError(f"weights shape {weights.shape} differs from targets shape "
                         f"{targets.shape}")
    return -weights * token_log_probs(logits, targets)[1] * mask
