r"""Deep Boltzmann machines with two hidden layers, trained by unbiased contrastive divergence.

Taniguchi, Suzuki, Iwasawa & Matsuo (2024), "End-to-end training of deep Boltzmann machines
by unbiased contrastive divergence with local mode initialization" (ICML 2023) [P139].

A DBM over binary layers ``x = (v, h1, h2)`` (``V``, ``H1``, ``H2`` units) has the energy

    E(v, h1, h2) = -(a.v + b1.h1 + b2.h2 + v^T W1 h1 + h1^T W2 h2),    p(x) = exp(-E(x)) / Z,

linear in the parameters ``theta = (a, b1, b2, W1, W2)`` with sufficient statistics
``s(x) = (v, h1, h2, v h1^T, h1 h2^T)`` (:func:`sufficient_statistics`): ``E = -<theta, s>``.
Hence the log-likelihood gradient is

    grad_theta log p(v) = E_{p(h | v)}[s(v, h)] - E_{p(v, h)}[s(v, h)],

the positive (clamped) and negative (free) phases. Both are intractable for large layers;
[P139] estimates each *without bias* with two coupled Metropolis-Hastings chains
(:mod:`likelihood_jax.energy.coupling`, lag 1): the proposal flips every free unit to a fair
coin (independent of the state, so the maximal coupling of the two chains' proposals is the
same draw), and both chains start at ``X_0 = Y_0``, one block-Gibbs step from a *local mode*
found by deterministic (zero-temperature) block Gibbs updates from random bits
(:func:`local_mode`). A fair-coin proposal is almost always rejected near a mode, so the
leading chain stays put, ``X_1 = Y_0``, and the chains meet after one step: the estimate is
then ``s(X_0)``, with the rare accepted proposals supplying the bias correction
(:func:`unbiased_statistics`). The surrogate loss ``E(s_pos) - E(s_neg)``
(:func:`energy_from_statistics`, stop-gradient statistics) has the estimated negative
log-likelihood gradient. The earlier unbiased method (Qiu et al. 2020) couples block Gibbs
chains maximally unit by unit (shared uniforms, ``coupling="gibbs"``); its chains meet only
when every unit agrees, which takes long in high dimension.

Layers are float arrays of 0/1. Block Gibbs: the conditionals factorize within the two blocks
``{h1}`` and ``{v, h2}`` (:func:`conditional_logits`); a step updates the blocks in a random
order, as the paper's code does (a mixture of the two orders, reversible).

Exact answers for small layers (tests, and the tiny-DBM experiment): ``v`` and ``h2`` are
independent given ``h1``, so ``log Z`` and ``log sum_h exp(-E(v, h))`` sum over the
``2^H1`` states of ``h1`` in closed form for the rest (:func:`log_partition`,
:func:`unnormalized_log_marginal`, :func:`log_likelihood`). For larger ``H1``,
:func:`ais_log_partition` estimates ``log Z`` by annealed importance sampling over ``h1``
with ``v`` and ``h2`` summed out (Salakhutdinov & Hinton 2009).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp

from likelihood_jax import _checks
from likelihood_jax.energy import ais as ais_lib
from likelihood_jax.energy import coupling

Array = jax.Array

PARAM_NAMES = ("bias_v", "bias_h1", "bias_h2", "weight_vh1", "weight_h1h2")
"""The parameter dict's keys: ``a``, ``b1``, ``b2``, ``W1 (V, H1)``, ``W2 (H1, H2)``."""
COUPLINGS = ("mh", "gibbs")
MAX_ENUMERATED_H1 = 24
_CHUNK = 4096


class DBMState(NamedTuple):
    """One state of the machine: the layers ``v (V,)``, ``h1 (H1,)``, ``h2 (H2,)`` in {0, 1}."""

    v: Array
    h1: Array
    h2: Array


# -- Parameters, energy, statistics --------------------------------------------------------


def init_params(key, num_visible: int, num_hidden1: int, num_hidden2: int, *,
                scale: float = 0.01) -> dict:
    """Zero biases and ``N(0, scale^2)`` weights for a ``V-H1-H2`` machine."""
    function = "init_params"
    for name, value in (("num_visible", num_visible), ("num_hidden1", num_hidden1),
                        ("num_hidden2", num_hidden2)):
        _checks.require_integer_at_least(function, name, value, 1)
    _checks.require_at_least(function, "scale", scale, 0.0)
    k1, k2 = jax.random.split(key)
    return {"bias_v": jnp.zeros(num_visible), "bias_h1": jnp.zeros(num_hidden1),
            "bias_h2": jnp.zeros(num_hidden2),
            "weight_vh1": scale * jax.random.normal(k1, (num_visible, num_hidden1)),
            "weight_h1h2": scale * jax.random.normal(k2, (num_hidden1, num_hidden2))}


def layer_sizes(params: dict) -> tuple[int, int, int]:
    """``(V, H1, H2)`` of a parameter dict (checked for the keys and shapes)."""
    if not isinstance(params, dict) or set(params) != set(PARAM_NAMES):
        got = sorted(params) if isinstance(params, dict) else type(params).__name__
        raise _checks.error("layer_sizes", "params", f"a dict with keys {PARAM_NAMES}", str(got))
    sizes = (params["bias_v"].shape[0], params["bias_h1"].shape[0], params["bias_h2"].shape[0])
    _checks.require_shape("layer_sizes", "weight_vh1", params["weight_vh1"], sizes[:2],
                          "(V, H1)")
    _checks.require_shape("layer_sizes", "weight_h1h2", params["weight_h1h2"], sizes[1:],
                          "(H1, H2)")
    return sizes


def energy(params: dict, state: DBMState) -> Array:
    """``E(v, h1, h2)`` of one state (a scalar)."""
    v, h1, h2 = state
    return -(params["bias_v"] @ v + params["bias_h1"] @ h1 + params["bias_h2"] @ h2
             + v @ params["weight_vh1"] @ h1 + h1 @ params["weight_h1h2"] @ h2)


def sufficient_statistics(state: DBMState) -> dict:
    """``s(x)``, keyed like the parameters, so that ``E(x) = -<theta, s(x)>``."""
    v, h1, h2 = state
    return {"bias_v": v, "bias_h1": h1, "bias_h2": h2, "weight_vh1": jnp.outer(v, h1),
            "weight_h1h2": jnp.outer(h1, h2)}


def energy_from_statistics(params: dict, statistics: dict) -> Array:
    """``-<theta, s>`` for statistics ``s`` (e.g. an estimate of ``E[s(x)]``): linear in theta.

    Its gradient in ``theta`` is ``-s``, so ``energy_from_statistics(params, s_pos) -
    energy_from_statistics(params, s_neg)`` with stop-gradient statistics is a surrogate
    whose gradient is the (estimated) negative log-likelihood gradient.
    """
    return -sum(jnp.sum(params[k] * statistics[k]) for k in PARAM_NAMES)


def conditional_logits(params: dict, state: DBMState) -> DBMState:
    """The logits of ``p(v | h1)``, ``p(h1 | v, h2)`` and ``p(h2 | h1)`` (each factorizes)."""
    v, h1, h2 = state
    w1, w2 = params["weight_vh1"], params["weight_h1h2"]
    return DBMState(params["bias_v"] + w1 @ h1, params["bias_h1"] + v @ w1 + w2 @ h2,
                    params["bias_h2"] + h1 @ w2)


# -- Block Gibbs and local modes -----------------------------------------------------------


def _block_update(params, state, uniforms: DBMState, even_first, clamp_visible, beta):
    """Block Gibbs at inverse temperature ``beta`` with given uniforms (``beta = inf``: argmax).

    ``even_first``: update ``{v, h2}`` then ``{h1}``; otherwise ``{h1}`` then ``{v, h2}``.
    A unit is 1 iff ``u < sigmoid(beta * logit)``; shared uniforms make two chains a maximal
    coupling unit by unit.
    """

    def draw(logit, u):
        if beta is None:  # zero temperature
            return (logit >= 0).astype(logit.dtype)
        return (u < jax.nn.sigmoid(beta * logit)).astype(logit.dtype)

    def update_even(s):
        logits = conditional_logits(params, s)
        v = s.v if clamp_visible else draw(logits.v, uniforms.v)
        return DBMState(v, s.h1, draw(logits.h2, uniforms.h2))

    def update_odd(s):
        return s._replace(h1=draw(conditional_logits(params, s).h1, uniforms.h1))

    first = jax.lax.cond(even_first, update_even, update_odd, state)
    return jax.lax.cond(even_first, update_odd, update_even, first)


def _uniforms(key, state) -> DBMState:
    keys = jax.random.split(key, 3)
    return DBMState(*(jax.random.uniform(k, x.shape, x.dtype) for k, x in zip(keys, state)))


def block_gibbs_step(key, params: dict, state: DBMState, *, clamp_visible: bool = False,
                     beta: float = 1.0) -> DBMState:
    """One block-Gibbs step of ``p_beta ∝ exp(-beta E)`` in a random block order.

    With ``clamp_visible`` the visible layer stays fixed (a step of ``p(h | v)``).
    """
    key_order, key_u = jax.random.split(key)
    even_first = jax.random.bernoulli(key_order)
    return _block_update(params, state, _uniforms(key_u, state), even_first, clamp_visible,
                         beta)


def coupled_block_gibbs_step(key, params: dict, x: DBMState, y: DBMState, *,
                             clamp_visible: bool = False):
    """Block Gibbs on two chains with shared order and uniforms (Qiu et al. 2020).

    Each unit's pair of Bernoulli draws ``u < p_x``, ``u < p_y`` is a maximal coupling of the
    two conditionals, and equal states stay equal (faithful).
    """
    key_order, key_u = jax.random.split(key)
    even_first = jax.random.bernoulli(key_order)
    uniforms = _uniforms(key_u, x)
    return (_block_update(params, x, uniforms, even_first, clamp_visible, 1.0),
            _block_update(params, y, uniforms, even_first, clamp_visible, 1.0))


def local_mode(params: dict, state: DBMState, *, even_first, clamp_visible: bool = False,
               max_iterations: int = 100) -> DBMState:
    """Zero-temperature block updates (``unit = [logit >= 0]``) from ``state`` to a fixed point.

    Each block update cannot raise the energy, so the iteration ends at a local mode
    (a state no block update changes) or after ``max_iterations`` updates; [P139] starts its
    chains one Gibbs step from such a mode of random bits.
    """
    _checks.require_integer_at_least("local_mode", "max_iterations", max_iterations, 1)
    zeros = jax.tree.map(jnp.zeros_like, state)

    def update(s):
        return _block_update(params, s, zeros, even_first, clamp_visible, None)

    def cond(carry):
        i, prev, s = carry
        return (i < max_iterations) & ~coupling.states_equal(prev, s)

    def body(carry):
        i, _, s = carry
        return i + 1, s, update(s)

    _, _, mode = jax.lax.while_loop(cond, body, (jnp.ones((), jnp.int32), state, update(state)))
    return mode


def random_state(key, sizes: tuple[int, int, int], visible=None) -> DBMState:
    """Fair-coin bits for every layer (``visible`` kept when given)."""
    keys = jax.random.split(key, 3)
    bits = [jax.random.bernoulli(k, 0.5, (n,)).astype(jnp.float32) for k, n in zip(keys, sizes)]
    if visible is not None:
        bits[0] = jnp.asarray(visible, jnp.float32)
    return DBMState(*bits)


def mode_initialized_state(key, params: dict, visible=None, *,
                           max_mode_iterations: int = 100) -> DBMState:
    """[P139]'s ``pi_0``: random bits, to a local mode, then one block-Gibbs step."""
    key_init, key_order, key_step = jax.random.split(key, 3)
    clamp = visible is not None
    state = random_state(key_init, layer_sizes(params), visible)
    state = local_mode(params, state, even_first=jax.random.bernoulli(key_order),
                       clamp_visible=clamp, max_iterations=max_mode_iterations)
    return block_gibbs_step(key_step, params, state, clamp_visible=clamp)


# -- The unbiased estimator of the phases --------------------------------------------------


def _uniform_proposal(clamp_visible: bool):
    def sample(key, state):
        fresh = random_state(key, tuple(x.shape[0] for x in state))
        return fresh._replace(v=state.v) if clamp_visible else fresh

    return sample, lambda to, frm: jnp.zeros(())


def unbiased_statistics(key, params: dict, visible=None, *, coupling_kind: str = "mh",
                        max_iterations: int = 1000,
                        max_mode_iterations: int = 100) -> coupling.CoupledEstimate:
    """An unbiased estimate of ``E[s(x)]`` under ``p(h | v)`` (``visible`` given) or ``p(x)``.

    [P139]: ``X_0 = Y_0 ~ pi_0`` (:func:`mode_initialized_state`), then the lag-1 coupled
    chains of :func:`likelihood_jax.energy.coupling.unbiased_expectation` with ``h = s``:
    ``coupling_kind="mh"`` uses Metropolis-Hastings with the fair-coin proposal of every free
    unit and a shared accept uniform (the paper), ``"gibbs"`` the unit-wise maximal coupling
    of block Gibbs (Qiu et al. 2020). One example; ``jax.vmap`` over keys (and ``visible``).

    Returns:
      :class:`likelihood_jax.energy.coupling.CoupledEstimate` whose ``estimate`` is keyed
      like the parameters.
    """
    _checks.require_option("unbiased_statistics", "coupling_kind", coupling_kind, COUPLINGS)
    clamp = visible is not None
    key_init, key_chain = jax.random.split(key)
    x0 = mode_initialized_state(key_init, params, visible,
                                max_mode_iterations=max_mode_iterations)
    if coupling_kind == "mh":
        proposal_sample, proposal_log_prob = _uniform_proposal(clamp)

        def coupled(k, x, y):
            return coupling.coupled_metropolis_hastings(
                k, x, y, lambda s: -energy(params, s), proposal_sample, proposal_log_prob)
    else:
        def coupled(k, x, y):
            return coupled_block_gibbs_step(k, params, x, y, clamp_visible=clamp)

    return coupling.unbiased_expectation(key_chain, sufficient_statistics, x0, x0, coupled,
                                         max_iterations=max_iterations)


# -- Exact answers by enumeration over h1 --------------------------------------------------


def binary_states(num_bits: int, start=0, count: int | None = None) -> Array:
    """The states ``start, ..., start + count - 1`` of ``num_bits`` bits, float ``(count, n)``.

    Bit ``j`` of integer ``i`` is column ``num_bits - 1 - j`` (first column most
    significant); ``count`` defaults to all ``2^num_bits`` states.
    """
    count = 2 ** num_bits if count is None else count
    index = jnp.asarray(start, jnp.int32) + jnp.arange(count, dtype=jnp.int32)
    shifts = jnp.arange(num_bits - 1, -1, -1, dtype=jnp.int32)
    return ((index[:, None] >> shifts) & 1).astype(jnp.float32)


def _sum_over_h1(params: dict, log_weight_fn) -> Array:
    """``logsumexp`` over all ``h1`` of ``log_weight_fn(h1 (C, H1)) -> (..., C)``, in chunks."""
    num_hidden1 = layer_sizes(params)[1]
    if num_hidden1 > MAX_ENUMERATED_H1:
        raise _checks.error("enumeration", "H1", f"at most {MAX_ENUMERATED_H1} units "
                            "(use ais_log_partition)", str(num_hidden1))
    total = 2 ** num_hidden1
    chunk = min(total, _CHUNK)

    def one_chunk(i):
        return jax.nn.logsumexp(log_weight_fn(binary_states(num_hidden1, i * chunk, chunk)), -1)

    parts = jax.lax.map(one_chunk, jnp.arange(total // chunk))
    return jax.nn.logsumexp(parts, axis=0)


def _log_weight_h1(params: dict, h1: Array, visible=None) -> Array:
    """``log sum_{v, h2} exp(-E)`` (or ``sum_{h2}`` with ``visible (B, V)``) given each h1."""
    out = h1 @ params["bias_h1"] + jnp.sum(
        jax.nn.softplus(params["bias_h2"] + h1 @ params["weight_h1h2"]), -1)
    if visible is None:
        return out + jnp.sum(jax.nn.softplus(params["bias_v"] + h1 @ params["weight_vh1"].T), -1)
    return (out + visible @ params["weight_vh1"] @ h1.T
            + (visible @ params["bias_v"])[:, None])


def log_partition(params: dict) -> Array:
    """``log Z`` exactly, by enumeration over ``h1`` (``v`` and ``h2`` summed in closed form).

    ``Z = sum_{h1} exp(b1.h1) prod (1 + e^{a + W1 h1}) prod (1 + e^{b2 + W2^T h1})``.
    Costs ``2^H1 (V + H2)`` (``H1 <= 24``).
    """
    return _sum_over_h1(params, lambda h1: _log_weight_h1(params, h1))


def unnormalized_log_marginal(params: dict, visible) -> Array:
    """``log sum_{h1, h2} exp(-E(v, h1, h2))`` of visible vectors ``(V,)`` or ``(B, V)``."""
    visible = jnp.asarray(visible, jnp.float32)
    batch = visible.reshape(-1, visible.shape[-1])
    _checks.require_shape("unnormalized_log_marginal", "visible", batch,
                          (batch.shape[0], layer_sizes(params)[0]), "(B, V)")
    out = _sum_over_h1(params, lambda h1: _log_weight_h1(params, h1, batch))
    return out.reshape(visible.shape[:-1])


def log_likelihood(params: dict, visible, log_z=None) -> Array:
    """``log p(v)`` exactly (``log Z`` computed unless given), ``(V,)`` or ``(B, V)``."""
    log_z = log_partition(params) if log_z is None else log_z
    return unnormalized_log_marginal(params, visible) - log_z


# -- Annealed importance sampling of log Z -------------------------------------------------


def ais_log_partition(key, params: dict, *, num_chains: int = 100,
                      num_betas: int = 1000) -> ais_lib.AISResult:
    """``log Z`` by AIS over ``h1`` with ``v`` and ``h2`` summed out (Salakhutdinov & Hinton).

    ``f_beta(h1) = sum_{v, h2} exp(-beta E)``
    ``= exp(beta b1.h1) prod (1 + e^{beta (a + W1 h1)}) prod (1 + e^{beta (b2 + W2^T h1)})``;
    at ``beta = 0`` it is ``2^(V + H2)`` for every ``h1``, so ``Z_0 = 2^(V + H1 + H2)``. The
    kernel at ``beta`` draws ``v, h2 | h1`` and then ``h1 | v, h2`` from ``exp(-beta E)``,
    which leaves ``f_beta`` invariant. Linear schedule of ``num_betas`` temperatures.
    """
    _checks.require_integer_at_least("ais_log_partition", "num_betas", num_betas, 2)
    sizes = layer_sizes(params)

    def log_density(beta, h1):
        scaled = jax.tree.map(lambda p: beta * p, params)
        return _log_weight_h1(scaled, h1[None])[0]

    def transition(key, beta, h1):
        state = DBMState(jnp.zeros(sizes[0]), h1, jnp.zeros(sizes[2]))
        uniforms = _uniforms(key, state)
        return _block_update(params, state, uniforms, True, False, beta).h1

    def init(key):
        return jax.random.bernoulli(key, 0.5, (sizes[1],)).astype(jnp.float32)

    log_z0 = sum(sizes) * math.log(2.0)
    return ais_lib.annealed_importance_sampling(
        key, log_density, transition, init, log_z0, jnp.linspace(0.0, 1.0, num_betas),
        num_chains=num_chains)
