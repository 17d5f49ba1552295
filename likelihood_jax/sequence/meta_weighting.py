"""Meta-learned token weights for weighted MLE: the bilevel objective of FewGen [P021], pure.

Meng, Michalski, Huang, Zhang, Abdelzaher & Han (2023), "Tuning Language Models
as Training Data Generators for Augmentation-Enhanced Few-Shot Learning" (ICML
2023, arXiv:2211.03044). A label-conditioned generator ``p_theta(x | l)`` is
trained with token-weighted MLE

    L_w(theta, omega) = sum_t w_t(omega) * (-log p_theta(x_t | x_<t, l)),

where the weights come from a small weighting network ``g_omega`` of a per-token
feature (in the authors' code a 1 -> H -> 1 ReLU MLP of the token's
discriminative loss ``d_t``, normalized by a softmax over the batch's tokens).
``omega`` is learned by a one-step bilevel (meta) objective: take one SGD step
of the generator on the weighted loss,
``theta'(omega) = theta - alpha * grad_theta L_w(theta, omega)``, and minimize a
discriminative outer loss ``L_disc(theta'(omega))``, the mean over tokens of

    d_t(theta) = -log [ p_theta(x_t | x_<t, l) / sum_l' p_theta(x_t | x_<t, l') ],

i.e. how well the generator's token probabilities identify the true label.
The meta-gradient ``d L_disc(theta'(omega)) / d omega`` differentiates through
the inner gradient step (second order: a Hessian-vector product through the
generator), exactly as :func:`meta_gradient` computes it with ``jax.grad``.

Functions (all pure, any pytree of parameters):

* :func:`normalized_weights`: softmax of scores over the valid tokens, scaled by
  their number, so equal scores give every ``w_t = 1`` (plain MLE);
* :func:`init_weight_net`, :func:`weight_net_scores`, :func:`token_weights`: the
  weighting MLP (last layer zero-initialized: it starts at MLE);
* :func:`label_discrimination`: ``d_t`` from the token log-probabilities under
  every label;
* :func:`inner_step`, :func:`meta_objective`, :func:`meta_gradient`: the bilevel
  pieces for arbitrary inner and outer losses.

Cost of one meta-gradient: one inner gradient, one outer forward/backward at
``theta'`` and a backward through the inner gradient (about 3-4 generator
forward/backward passes); the outer loss needs the generator under every label.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

Params = Any


def normalized_weights(scores: jax.Array, mask: jax.Array | None = None) -> jax.Array:
    """``w = N * softmax(scores)`` over the valid tokens (all axes), 0 where ``mask`` is 0.

    ``N`` is the number of valid tokens, so the weights average to 1 and equal
    scores give ``w_t = 1`` everywhere: then ``sum_t w_t nll_t / N`` is the mean
    token NLL, plain MLE. (The authors' code uses the softmax without the factor
    ``N``; it only rescales the learning rate.)
    """
    if mask is None:
        mask = jnp.ones_like(scores)
    if mask.shape != scores.shape:
        raise ValueError(f"mask shape {mask.shape} differs from scores shape {scores.shape}")
    valid = mask.astype(bool)
    masked = jnp.where(valid, scores, -jnp.inf)
    probs = jnp.exp(masked - jax.lax.stop_gradient(jnp.max(masked)))
    probs = probs / jnp.sum(probs)
    return probs * jnp.sum(valid.astype(scores.dtype))


def init_weight_net(key: jax.Array, hidden: int = 16, scale: float = 1.0) -> dict:
    """Parameters of the weighting MLP ``1 -> hidden -> 1`` (ReLU), output layer zero.

    With the zero output layer every token gets the same score, so training
    starts from plain MLE (:func:`normalized_weights`).
    """
    if hidden < 1:
        raise ValueError(f"hidden must be >= 1, got {hidden}")
    k1, k2 = jax.random.split(key)
    return {"w1": scale * jax.random.normal(k1, (hidden,)),
            "b1": 0.1 * jax.random.normal(k2, (hidden,)),
            "w2": jnp.zeros((hidden,)), "b2": jnp.zeros(())}


def weight_net_scores(weight_params: dict, features: jax.Array) -> jax.Array:
    """Scores ``g(f) = w2 . relu(w1 f + b1) + b2`` of scalar token features ``[...]``."""
    h = jax.nn.relu(features[..., None] * weight_params["w1"] + weight_params["b1"])
    return h @ weight_params["w2"] + weight_params["b2"]


def token_weights(weight_params: dict, features: jax.Array,
                  mask: jax.Array | None = None) -> jax.Array:
    """Token weights ``[...]``: :func:`normalized_weights` of :func:`weight_net_scores`.

    The features are treated as constants (stop-gradient), as in the authors'
    code, so only the weighting parameters receive the meta-gradient.
    """
    scores = weight_net_scores(weight_params, jax.lax.stop_gradient(features))
    return normalized_weights(scores, mask)


def label_discrimination(label_log_probs: jax.Array, labels: jax.Array) -> jax.Array:
    """``d_t = -log softmax_l(log p(x_t | x_<t, l))[label]``, per token ``[B, T]``.

    Args:
      label_log_probs: ``[L, B, T]`` log-probability of each observed token under
        each of the ``L`` labels (the generator run once per label).
      labels: ``[B]`` the true labels.

    Returns:
      ``[B, T]``: the cross-entropy of the token-level label posterior (uniform
      label prior) at the true label; ``log L`` when the token carries no label
      information, near 0 when it identifies the label.
    """
    if label_log_probs.ndim != 3 or label_log_probs.shape[1] != labels.shape[0]:
        raise ValueError(f"label_log_probs must be [L, B, T] with B = {labels.shape[0]}, got "
                         f"{label_log_probs.shape}")
    posterior = jax.nn.log_softmax(label_log_probs, axis=0)  # [L, B, T]
    true = jnp.take_along_axis(posterior, labels[None, :, None].astype(jnp.int32), axis=0)[0]
    return -true


def inner_step(params: Params, meta_params: Params,
               inner_loss_fn: Callable[[Params, Params], jax.Array],
               lr: float | jax.Array) -> Params:
    """``theta' = theta - lr * grad_theta inner_loss_fn(theta, omega)`` (one SGD step)."""
    grads = jax.grad(inner_loss_fn)(params, meta_params)
    return jax.tree.map(lambda p, g: p - lr * g, params, grads)


def meta_objective(meta_params: Params, params: Params,
                   inner_loss_fn: Callable[[Params, Params], jax.Array],
                   outer_loss_fn: Callable[[Params], jax.Array],
                   lr: float | jax.Array) -> jax.Array:
    """The bilevel objective ``outer_loss_fn(theta'(omega))`` after one inner step.

    Args:
      meta_params: ``omega`` (e.g. the weighting network, or raw token weights).
      params: the generator's ``theta``.
      inner_loss_fn: ``(theta, omega) -> scalar``, the weighted training loss.
      outer_loss_fn: ``theta -> scalar``, the meta (e.g. discriminative) loss.
      lr: the inner step size ``alpha``.
    """
    return outer_loss_fn(inner_step(params, meta_params, inner_loss_fn, lr))


def meta_gradient(meta_params: Params, params: Params,
                  inner_loss_fn: Callable[[Params, Params], jax.Array],
                  outer_loss_fn: Callable[[Params], jax.Array],
                  lr: float | jax.Array) -> tuple[jax.Array, Params]:
    """``(meta_objective, d meta_objective / d omega)``, differentiating through the step."""
    return jax.value_and_grad(meta_objective)(meta_params, params, inner_loss_fn,
                                              outer_loss_fn, lr)
