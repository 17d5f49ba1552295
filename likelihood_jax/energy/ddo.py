r"""Direct discriminative optimization: a likelihood model as its own GAN discriminator [P084].

Zheng et al. (2025), "Direct discriminative optimization:
your likelihood-based visual generative model is secretly a GAN discriminator" (ICML 2025).

A pretrained likelihood model ``p_ref`` is frozen; the model being fine-tuned, ``p_theta``
(initialized at ``p_ref``), defines the *implicit discriminator* ::

    d_theta(x) = beta (log p_theta(x) - log p_ref(x))            (:func:`implicit_logit`)

and is trained with the GAN discriminator's cross-entropy, data labelled 1 and samples of the
frozen reference labelled 0 (:func:`ddo_loss`) ::

    L(theta) = -E_{x~p_data} log sigmoid(d_theta(x))
               - alpha E_{x~p_ref} log(1 - sigmoid(d_theta(x))).

For ``alpha = beta = 1`` the best discriminator over all functions is
``d* = log p_data - log p_ref`` (Goodfellow et al. 2014, Prop. 1;
``energy.gan.optimal_discriminator_logit``), i.e. ``sigmoid(d*) = p_data / (p_data + p_ref)``,
and it is attained by the normalized model ``p_theta = p_data``: the global optimum of the
fine-tuning is the data distribution, whatever the reference (the paper's Theorem). No
generator and no extra network: the likelihood model is the discriminator, and sampling
happens only from the frozen reference. ``beta`` sharpens the ratio (the paper's knob for
diffusion ELBO surrogates); with ``beta != 1`` the optimum is no longer exactly ``p_data``.

*Self-play*: after a round of fine-tuning the model becomes the next round's reference.
With a capacity-limited model the rounds move the fit from the mode-covering maximum-
likelihood solution towards a mode-seeking one, since samples of ``p_ref`` in regions
without data are pushed down.

Every function is elementwise over log-probabilities of any model (a flow, an
autoregressive model, an ELBO surrogate), so per-example losses ``[B]`` come out of ``[B]``
inputs.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from likelihood_jax import _checks

Array = jax.Array


def _floating(function: str, argument: str, x) -> Array:
    x = jnp.asarray(x)
    _checks.require_floating(function, argument, x)
    return x


def implicit_logit(log_prob, ref_log_prob, *, beta: float = 1.0) -> Array:
    """``beta (log p_theta(x) - log p_ref(x))``, the implicit discriminator's logit [P084].

    Args:
      log_prob: ``log p_theta(x)`` of the model being fine-tuned, any shape.
      ref_log_prob: ``log p_ref(x)`` of the frozen reference (held by ``stop_gradient``),
        broadcastable with ``log_prob``.
      beta: ``> 0``.
    """
    function = "implicit_logit"
    _checks.require_greater(function, "beta", beta)
    log_prob = _floating(function, "log_prob", log_prob)
    ref = _floating(function, "ref_log_prob", ref_log_prob)
    _checks.require_broadcast(function, log_prob=log_prob.shape, ref_log_prob=ref.shape)
    return beta * (log_prob - jax.lax.stop_gradient(ref))


def ddo_loss(data_log_prob, data_ref_log_prob, sample_log_prob, sample_ref_log_prob, *,
             beta: float = 1.0, alpha: float = 1.0) -> Array:
    """``softplus(-d(x)) + alpha softplus(d(x~))``: DDO's loss per (data, reference sample) pair.

    ``-log sigmoid(d) = softplus(-d)`` on data ``x`` and ``-log(1 - sigmoid(d)) = softplus(d)``
    on samples ``x~ ~ p_ref`` (drawn from the frozen reference, no gradient through the
    sampler), with ``d`` the :func:`implicit_logit` [P084]. Its expectation is minimized by
    ``p_theta = p_data`` when ``alpha = beta = 1``.

    Args:
      data_log_prob: ``log p_theta(x)`` of data.
      data_ref_log_prob: ``log p_ref(x)`` of data.
      sample_log_prob: ``log p_theta(x~)`` of reference samples ``x~``.
      sample_ref_log_prob: ``log p_ref(x~)`` of reference samples.
      beta: the logit's scale, ``> 0``.
      alpha: the weight of the reference-sample term, ``> 0``.

    Returns:
      The elementwise loss (the broadcast shape of the data and sample terms).
    """
    _checks.require_greater("ddo_loss", "alpha", alpha)
    real = implicit_logit(data_log_prob, data_ref_log_prob, beta=beta)
    fake = implicit_logit(sample_log_prob, sample_ref_log_prob, beta=beta)
    _checks.require_broadcast("ddo_loss", data=real.shape, samples=fake.shape)
    return jax.nn.softplus(-real) + alpha * jax.nn.softplus(fake)
