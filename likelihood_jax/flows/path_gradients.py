"""Path-gradient estimators [P004] for normalizing flows, fast (recursive) and reference.

Vaitl, Winkler, Richter & Kessel (2024), "Fast and Unified Path Gradient Estimators for
Normalizing Flows", ICLR 2024 (arXiv:2403.15881). Earlier: Roeder et al. 2017 ("sticking the
landing"), Vaitl et al. 2022 ("Gradients should stay on path").

Conventions follow :mod:`likelihood_jax.flows`: a bijector's ``forward`` maps data x -> latent z
(``f``), its ``inverse`` maps z -> x (``T = f^{-1}``, the sampler); the base is ``N(0, I)`` and
``log q(x) = log N(f(x)) + log|det df/dx|``. Every function acts on **one example** (callers
``vmap`` over a batch with ``in_axes=(None, None, 0, None)`` or similar) and returns a scalar
*surrogate*: its value is the per-example loss, its ``jax.grad`` with respect to ``params`` is
the per-example gradient estimator. ``target_log_prob(x)`` is an unnormalized log-density
``log p~(x) = log p(x) + log Z``.

**Reverse KL** (variational inference, samples from the flow). With ``x = T_theta(z)``,
``z ~ N(0, I)``, ``KL(q||p) = E_z[log q_theta(x) - log p~(x)] + log Z`` and the total derivative
splits as::

    d/dtheta [log q_theta(x) - log p~(x)]
        = (grad_x log q_theta(x) - grad_x log p~(x)) . dx/dtheta      (path term)
          + d/dtheta log q_theta(x)|_{x fixed}                           (score term)

The score term has mean zero under ``q``, so both the full derivative
(:func:`reverse_kl_standard`) and the path term alone are unbiased for ``grad KL``; the path
estimator drops the score term, whose variance does not vanish at ``q = p``, while the path term
is exactly zero there (``grad_x log q = grad_x log p``).

* :func:`reverse_kl_path_slow`: the reference ("drop-in", the paper's Algorithm 2): evaluate
  ``log q`` on the sample through a stop-gradient copy of the parameters, so that autodiff
  follows only ``x``. Cost: a sampling pass, an extra normalizing pass ``f(x)`` and its
  backward pass, and the backward pass of the sampling pass.
* :func:`reverse_kl_path_fast`: the paper's fast estimator (its Algorithm 1): ``grad_x log q``
  is carried along the sampling pass by the recursion (Prop. 3.1 of the paper), for a layer
  ``h_k = T_k(h_{k-1})``::

      log q_k(h_k) = log q_{k-1}(h_{k-1}) - log|det dT_k/dh_{k-1}|
      grad_{h_k} log q_k = (dT_k/dh_{k-1})^{-T} (grad_{h_{k-1}} log q_{k-1}
                                                 - grad_{h_{k-1}} log|det dT_k/dh_{k-1}|),

  started at ``grad_z log N(z) = -z``. For an affine coupling both the inverse Jacobian and the
  log-det gradient come from the conditioner outputs ``(t, s)`` already computed for sampling:
  one extra vector-Jacobian product through the conditioner (with respect to its input only)
  per layer, no second pass through the flow. Other layers (ActNorm, permutations, dense
  layers, elementwise maps) use the same recursion in the generic form
  ``grad_{h_k} log q_k = vjp of h_k -> (T_k^{-1}(h_k), log|det dT_k^{-1}/dh_k|)`` with
  cotangent ``(grad_{h_{k-1}} log q_{k-1}, 1)`` (one ``jax.vjp`` of the layer's
  ``forward_and_log_det``). The surrogate is ``sum(stop_gradient(G) * x)`` with
  ``G = grad_x log q - grad_x log p~``: one backward pass through the sampling pass.
* :func:`reverse_kl_standard`: the reparameterized total derivative (path + score term).

**Forward KL / maximum likelihood with a target energy** (samples ``x ~ p``, the paper's
Sec. 4). ``KL(p||q_theta) = KL(p_theta^z || N(0, I))`` where ``p_theta^z`` is the law of
``z = f_theta(x)``, ``x ~ p``, with density ``log p_theta^z(z) = log p(T_theta(z)) +
log|det dT_theta/dz|``. This is a reverse KL in latent space whose "sampler" is ``f_theta``, so
its path gradient is::

    E_{x~p}[(grad_z log p_theta^z(z) - grad_z log N(z)) . dz/dtheta],   z = f_theta(x),

unbiased for the maximum-likelihood gradient ``-E_p[grad_theta log q_theta(x)]``. It needs the
target's score ``grad_x log p~`` (the "target energy"), and ``grad_z log p_theta^z`` comes from
the same recursion run in the normalizing direction, started at ``grad_x log p~(x)``
(:func:`forward_kl_path_fast`; reference: :func:`forward_kl_path_slow`; plain maximum
likelihood: :func:`forward_kl_standard`). The paper reports that it regularizes ML training.

Cost summary per example (``F``: one pass through the flow, ``B``: its backward pass; the
conditioner networks dominate both): standard ``F + B``; fast path ``F + B`` plus one
input-only conditioner backward pass per coupling (``~F + 2B``); slow path ``2F + 3B`` (the
second normalizing pass, its input backward pass, and the parameter backward pass).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from likelihood_jax.flows import AffineCoupling, Bijector, Chain, Flow
from likelihood_jax.flows.flow import standard_normal_log_prob

Params = Any
LogProbFn = Callable[[jax.Array], jax.Array]

__all__ = [
    "effective_sample_size",
    "forward_kl_path_fast",
    "forward_kl_path_slow",
    "forward_kl_standard",
    "gradient_statistics",
    "latent_and_pullback_score",
    "reverse_kl_path_fast",
    "reverse_kl_path_slow",
    "reverse_kl_standard",
    "sample_and_score",
]


# -- layers and the recursion ----------------------------------------------------------------


def _bijector(flow: Bijector | Flow) -> Bijector:
    if isinstance(flow, Flow):
        return flow.bijector
    if not isinstance(flow, Bijector):
        raise ValueError(f"Expected a flows.Bijector or flows.Flow, got {type(flow).__name__}.")
    return flow


def _layers(bijector: Bijector, params: Params) -> list[tuple[Bijector, Params]]:
    """The ``(layer, params)`` pairs of a bijector in forward (data -> latent) order."""
    if isinstance(bijector, Chain):
        if len(params) != len(bijector.layers):
            raise ValueError(f"Chain of {len(bijector.layers)} layers got {len(params)} params.")
        out = []
        for layer, layer_params in zip(bijector.layers, params):
            out.extend(_layers(layer, layer_params))
        return out
    return [(bijector, params)]


def _coupling_inverse_step(layer: AffineCoupling, params, h, g):
    """Sampling direction through an affine coupling with the score carried along.

    ``h`` is the latent-side input, ``g = grad_h log q_h(h)``. Returns ``(y, log|det dy/dh|,
    grad_y log q_y(y))``. With ``c = h_cond``, ``y_t = (h_t - t(c)) e^{-s(c)}``:
    ``grad_{y_t} = g_t e^{s}`` and ``grad_{y_c} = g_c + [dt/dc]^T g_t + [ds/dc]^T (g_t (h_t - t)
    + 1)``, one vjp through the conditioner (inputs only).
    """
    cond, trans = layer.conditioning_indices, layer.transformed_indices
    (shift, log_scale), pullback = jax.vjp(
        lambda c: layer.shift_and_log_scale(params, c), h[cond])
    y = h.at[trans].set((h[trans] - shift) * jnp.exp(-log_scale))
    g_t = g[trans]
    (g_c,) = pullback((g_t, g_t * (h[trans] - shift) + 1.0))
    g_y = g.at[trans].set(g_t * jnp.exp(log_scale)).at[cond].add(g_c)
    return y, -jnp.sum(log_scale), g_y


def _coupling_forward_step(layer: AffineCoupling, params, h, g):
    """Normalizing direction through an affine coupling with the pulled-back score.

    ``h`` is the data-side input, ``g = grad_h log p_h(h)``. Returns ``(u, log|det du/dh|,
    grad_u log p_u(u))`` with ``u_t = h_t e^{s(c)} + t(c)``: ``grad_{u_t} = g_t e^{-s}`` and
    ``grad_{u_c} = g_c - [dt/dc]^T grad_{u_t} - [ds/dc]^T (g_t h_t + 1)``.
    """
    cond, trans = layer.conditioning_indices, layer.transformed_indices
    (shift, log_scale), pullback = jax.vjp(
        lambda c: layer.shift_and_log_scale(params, c), h[cond])
    u = h.at[trans].set(h[trans] * jnp.exp(log_scale) + shift)
    g_t = g[trans]
    g_ut = g_t * jnp.exp(-log_scale)
    (g_c,) = pullback((-g_ut, -(g_t * h[trans] + 1.0)))
    g_u = g.at[trans].set(g_ut).at[cond].add(g_c)
    return u, jnp.sum(log_scale), g_u


def _generic_step(apply_fn, undo_fn, h, g):
    """One recursion step for any layer: ``y = apply(h)``; ``g_y = vjp of undo at y``.

    ``undo_fn(y) -> (h, log|det dh/dy|)`` is the layer's map in the other direction, so
    ``log rho_y(y) = log rho_h(undo(y)) + log|det d undo/dy|`` and its gradient is the vjp with
    cotangent ``(g, 1)``.
    """
    y, log_det = apply_fn(h)
    _, pullback = jax.vjp(undo_fn, y)
    (g_y,) = pullback((g, jnp.ones_like(log_det)))
    return y, log_det, g_y


def sample_and_score(flow: Bijector | Flow, params: Params, z: jax.Array
                     ) -> tuple[jax.Array, jax.Array, jax.Array]:
    """``x = T(z)``, ``log q(x)`` and ``grad_x log q(x)`` in one sampling pass (the recursion).

    The fast path-gradient recursion of Vaitl et al. 2024 (Prop. 3.1 / Algorithm 1), see the
    module docstring: ``grad log q`` is propagated layer by layer from ``grad_z log N(z) = -z``
    alongside the samples. Affine couplings reuse their conditioner outputs (one extra
    input-only vjp per coupling); other layers take one ``jax.vjp`` of ``forward_and_log_det``.

    Args:
        flow: a bijector (typically a :class:`~likelihood_jax.flows.Chain`) or a Flow.
        params: its parameters.
        z: one base sample.

    Returns:
        ``(x, log_q, score)`` with ``score = grad_x log q(x)`` (not differentiable with
        respect to ``params``: the recursion is wrapped in ``stop_gradient`` by the estimators).
    """
    bijector = _bijector(flow)
    h, g = z, -z
    log_q = standard_normal_log_prob(z)
    for layer, layer_params in reversed(_layers(bijector, params)):
        if isinstance(layer, AffineCoupling):
            h, log_det, g = _coupling_inverse_step(layer, layer_params, h, g)
        else:
            h, log_det, g = _generic_step(
                lambda u, lyr=layer, p=layer_params: lyr.inverse_and_log_det(p, u),
                lambda y, lyr=layer, p=layer_params: lyr.forward_and_log_det(p, y), h, g)
        log_q = log_q - log_det
    return h, log_q, g


def latent_and_pullback_score(flow: Bijector | Flow, params: Params, x: jax.Array,
                              target_score: jax.Array
                              ) -> tuple[jax.Array, jax.Array, jax.Array]:
    """``z = f(x)``, ``log q(x)`` and ``grad_z log p^z(z)`` of the pulled-back target.

    ``p^z`` is the density of ``z = f(x)`` for ``x ~ p``: ``log p^z(z) = log p(T(z)) +
    log|det dT/dz|``. Its score comes from the same recursion as :func:`sample_and_score`, run in
    the normalizing direction and started at ``target_score = grad_x log p~(x)``.

    Args:
        flow: a bijector or a Flow.
        params: its parameters.
        x: one data point.
        target_score: ``grad_x log p~(x)`` at that point.

    Returns:
        ``(z, log_q, score_z)``.
    """
    bijector = _bijector(flow)
    h, g = x, target_score
    log_det_total = jnp.zeros((), x.dtype)
    for layer, layer_params in _layers(bijector, params):
        if isinstance(layer, AffineCoupling):
            h, log_det, g = _coupling_forward_step(layer, layer_params, h, g)
        else:
            h, log_det, g = _generic_step(
                lambda y, lyr=layer, p=layer_params: lyr.forward_and_log_det(p, y),
                lambda u, lyr=layer, p=layer_params: lyr.inverse_and_log_det(p, u), h, g)
        log_det_total = log_det_total + log_det
    return h, standard_normal_log_prob(h) + log_det_total, g


# -- reverse KL ----------------------------------------------------------------------------------


def _with_gradient(value: jax.Array, term: jax.Array) -> jax.Array:
    """``value`` (no gradient) plus ``term - stop_gradient(term)`` (zero, carries the grad)."""
    return jax.lax.stop_gradient(value) + term - jax.lax.stop_gradient(term)


def reverse_kl_standard(flow: Bijector | Flow, params: Params, z: jax.Array,
                        target_log_prob: LogProbFn) -> jax.Array:
    """Reparameterized reverse-KL loss ``log q(x) - log p~(x)``, ``x = T(z)``; score included.

    ``jax.grad`` gives the total derivative ``(grad_x log q - grad_x log p~) dx/dtheta +
    d/dtheta log q|_x``: unbiased for ``grad KL(q||p)`` (the score term has mean 0), but its
    variance stays positive at ``q = p``. Cost: one sampling pass and its backward pass.

    Args:
        flow: a bijector or a Flow (base ``N(0, I)``).
        params: its parameters.
        z: one base sample ``z ~ N(0, I)``.
        target_log_prob: unnormalized ``log p~`` of one example.

    Returns:
        The scalar ``-log w = log q(x) - log p~(x)`` (mean over ``z``: ``KL(q||p) - log Z``).
    """
    x, log_det = _bijector(flow).inverse_and_log_det(params, z)
    return standard_normal_log_prob(z) - log_det - target_log_prob(x)


def reverse_kl_path_slow(flow: Bijector | Flow, params: Params, z: jax.Array,
                         target_log_prob: LogProbFn) -> jax.Array:
    """Reference path gradient: ``log q`` through a stop-gradient copy of the parameters.

    ``x = T_theta(z)``, loss ``log q_{sg(theta)}(x) - log p~(x)``: autodiff only follows ``x``,
    so ``jax.grad`` is ``(grad_x log q - grad_x log p~) . dx/dtheta`` (Roeder et al. 2017;
    Vaitl et al. 2024, Algorithm 2). Unbiased; zero at ``q = p``. Cost: a sampling pass plus a
    full normalizing pass ``f(x)``, both differentiated (about twice the standard estimator).

    Args:
        flow: a bijector or a Flow.
        params: its parameters.
        z: one base sample.
        target_log_prob: unnormalized ``log p~``.

    Returns:
        The scalar ``log q(x) - log p~(x)`` (same value as :func:`reverse_kl_standard`).
    """
    bijector = _bijector(flow)
    x = bijector.inverse(params, z)
    frozen = jax.lax.stop_gradient(params)
    latent, log_det = bijector.forward_and_log_det(frozen, x)
    return standard_normal_log_prob(latent) + log_det - target_log_prob(x)


def reverse_kl_path_fast(flow: Bijector | Flow, params: Params, z: jax.Array,
                         target_log_prob: LogProbFn) -> jax.Array:
    """The paper's fast path gradient of the reverse KL (Vaitl et al. 2024, Algorithm 1).

    ``x, log q, grad_x log q`` come from one sampling pass (:func:`sample_and_score`);
    with ``G = stop_gradient(grad_x log q(x) - grad_x log p~(x))`` the surrogate is
    ``-log w + G . x - stop_gradient(G . x)``, whose ``jax.grad`` is ``G . dx/dtheta``: the
    same estimator as :func:`reverse_kl_path_slow` without the second pass through the flow.
    Cost: a sampling pass with one input-only conditioner vjp per coupling, plus one backward
    pass of the sampling pass.

    Args:
        flow: a bijector or a Flow.
        params: its parameters.
        z: one base sample.
        target_log_prob: unnormalized ``log p~``.

    Returns:
        The scalar ``log q(x) - log p~(x)`` carrying the path gradient.
    """
    x, log_q, score_q = sample_and_score(flow, params, z)
    x_fixed = jax.lax.stop_gradient(x)
    log_p, score_p = jax.value_and_grad(target_log_prob)(x_fixed)
    direction = jax.lax.stop_gradient(score_q - score_p)
    return _with_gradient(log_q - log_p, jnp.sum(direction * x))


# -- forward KL ----------------------------------------------------------------------------------


def forward_kl_standard(flow: Bijector | Flow, params: Params, x: jax.Array,
                        target_log_prob: LogProbFn | None = None) -> jax.Array:
    """Maximum likelihood: ``-log q(x)`` for a target sample ``x ~ p``.

    ``jax.grad`` is the standard ML gradient, unbiased for ``grad KL(p||q)``. Cost: one
    normalizing pass and its backward pass. ``target_log_prob`` is unused (signature parity).

    Args:
        flow: a bijector or a Flow.
        params: its parameters.
        x: one target sample.
        target_log_prob: ignored.

    Returns:
        The scalar NLL ``-log q(x)``.
    """
    del target_log_prob
    latent, log_det = _bijector(flow).forward_and_log_det(params, x)
    return -(standard_normal_log_prob(latent) + log_det)


def forward_kl_path_slow(flow: Bijector | Flow, params: Params, x: jax.Array,
                         target_log_prob: LogProbFn) -> jax.Array:
    """Reference forward-KL path gradient through a stop-gradient copy of the parameters.

    ``z = f_theta(x)``; ``h(z) = log p~(T_{sg(theta)}(z)) + log|det dT_{sg(theta)}/dz| -
    log N(z)`` is the pulled-back target against the base, differentiated only through ``z``.
    Value: the NLL ``-log q(x)``; ``jax.grad``: ``grad_z h . dz/dtheta`` (unbiased for the ML
    gradient). Cost: a normalizing pass plus a sampling pass, both differentiated.

    Args:
        flow: a bijector or a Flow.
        params: its parameters.
        x: one target sample.
        target_log_prob: unnormalized ``log p~`` (its gradient is the target energy's force).

    Returns:
        The scalar ``-log q(x)`` carrying the path gradient.
    """
    bijector = _bijector(flow)
    latent, log_det = bijector.forward_and_log_det(params, x)
    frozen = jax.lax.stop_gradient(params)
    x_back, log_det_back = bijector.inverse_and_log_det(frozen, latent)
    pulled = target_log_prob(x_back) + log_det_back - standard_normal_log_prob(latent)
    return _with_gradient(-(standard_normal_log_prob(latent) + log_det), pulled)


def forward_kl_path_fast(flow: Bijector | Flow, params: Params, x: jax.Array,
                         target_log_prob: LogProbFn) -> jax.Array:
    """The paper's fast path gradient for maximum likelihood with a target energy.

    ``z, log q(x), grad_z log p^z(z)`` from one normalizing pass
    (:func:`latent_and_pullback_score`, started at ``grad_x log p~(x)``); with
    ``G = stop_gradient(grad_z log p^z(z) + z)`` (``-z = grad log N(z)``) the surrogate is
    ``-log q(x) + G . z - stop_gradient(G . z)``. Unbiased for the ML gradient; zero at
    ``q = p``. Cost: a normalizing pass with one input-only conditioner vjp per coupling and
    one target gradient, plus the backward pass of the normalizing pass.

    Args:
        flow: a bijector or a Flow.
        params: its parameters.
        x: one target sample ``x ~ p``.
        target_log_prob: unnormalized ``log p~``.

    Returns:
        The scalar ``-log q(x)`` carrying the path gradient.
    """
    target_score = jax.grad(target_log_prob)(jax.lax.stop_gradient(x))
    latent, log_q, score_z = latent_and_pullback_score(flow, params, x, target_score)
    direction = jax.lax.stop_gradient(score_z + latent)
    return _with_gradient(-log_q, jnp.sum(direction * latent))


# -- diagnostics ---------------------------------------------------------------------------------


def effective_sample_size(log_weights: jax.Array) -> jax.Array:
    """Normalized effective sample size ``(sum w)^2 / (N sum w^2)`` in ``(0, 1]``.

    Kish's ESS of self-normalized importance sampling with weights ``w = p~(x) / q(x)``,
    ``x ~ q`` (the reverse ESS of Nicoli et al. 2020 and Vaitl et al. 2024), computed from log
    weights in log space (the unknown ``log Z`` cancels). 1 means ``q = p`` on the samples'
    support; note that it cannot see modes of ``p`` that ``q`` misses.

    Args:
        log_weights: ``(N,)`` log importance weights.

    Returns:
        A scalar.
    """
    if log_weights.ndim != 1:
        raise ValueError(f"log_weights must be a vector (N,), got shape {log_weights.shape}.")
    n = log_weights.shape[0]
    return jnp.exp(2.0 * jax.nn.logsumexp(log_weights) - jax.nn.logsumexp(2.0 * log_weights)
                   - jnp.log(n))


def gradient_statistics(per_example_loss: Callable[[Params, jax.Array], jax.Array],
                        params: Params, inputs: jax.Array, chunk_size: int = 64
                        ) -> dict[str, jax.Array]:
    """Mean and variance of a per-example gradient estimator over ``inputs``.

    Computes ``g_i = grad_params per_example_loss(params, inputs[i])`` in chunks (``vmap``
    inside, ``lax.map`` across chunks, so memory is ``chunk_size x #params``) and returns the
    total variance ``sum_j Var_i(g_ij)`` (the trace of the per-example gradient covariance;
    divide by a batch size for the variance of a minibatch mean) and ``|mean_i g_i|^2``.

    Args:
        per_example_loss: ``(params, one input) -> scalar`` surrogate.
        params: the parameters.
        inputs: ``(N, ...)``; ``N`` must be a multiple of ``chunk_size``.
        chunk_size: examples per vmapped chunk.

    Returns:
        ``{"total_variance", "mean_sq_norm", "mean"}`` (``mean``: the flat mean gradient).
    """
    n = inputs.shape[0]
    if n % chunk_size:
        raise ValueError(f"The number of inputs {n} must be a multiple of chunk_size="
                         f"{chunk_size}.")
    flat_params, unravel = ravel_pytree(params)
    grad_fn = jax.grad(lambda flat, x: per_example_loss(unravel(flat), x))

    def chunk_sums(chunk):
        grads = jax.vmap(grad_fn, in_axes=(None, 0))(flat_params, chunk)
        return jnp.sum(grads, 0), jnp.sum(grads * grads, 0)

    chunks = inputs.reshape((n // chunk_size, chunk_size) + inputs.shape[1:])
    sums, sq_sums = jax.lax.map(chunk_sums, chunks)
    mean = jnp.sum(sums, 0) / n
    second = jnp.sum(sq_sums, 0) / n
    variance = jnp.sum(second - mean * mean) * n / max(n - 1, 1)
    return {"total_variance": variance, "mean_sq_norm": jnp.sum(mean * mean), "mean": mean}
