"""Residual flows: contractive residual blocks with power-series log-determinants.

Behrmann et al. 2019, "Invertible Residual Networks" (i-ResNet), and Chen et al. 2019,
"Residual Flows for Invertible Generative Modeling".

Direction: ``forward`` maps data x -> latent z, ``inverse`` maps z -> x (see ``flows.base``).

**Block** (:class:`ResidualBlock`). ``z = x + g(x)`` with ``g`` an MLP whose every weight is
spectrally normalized, ``W_hat = W / max(1, sigma(W) / c)`` (Behrmann et al. Sec. 3, Eq. 8;
``sigma`` from power iteration, Miyato et al. 2018), and whose activations are 1-Lipschitz
(LipSwish ``x sigmoid(x) / 1.1``, Chen et al. Sec. 4), so ``Lip(g) <= prod_l ||W_hat_l|| <= c
< 1`` and the block is invertible (Behrmann et al. Thm. 1).

**Inverse** by the Banach fixed-point iteration ``x_{k+1} = z - g(x_k)``, ``x_0 = z``, which
converges geometrically at rate ``Lip(g)`` (Behrmann et al. Alg. 1); it stops when a step
moves no coordinate by more than ``4 eps (1 + max|z|)`` or after ``inverse_iterations``
steps. (A ``while_loop``: forward-mode differentiable, not reverse-mode.)

**Log-determinant.** With ``J = dg/dx`` (spectral radius < 1)::

    log det(I + J) = sum_{k>=1} (-1)^{k+1} tr(J^k) / k          (Behrmann et al. Eq. 6),

* exact: ``slogdet(I + jacfwd(g))``, O(D^3); the bijector contract's ``forward_and_log_det``;
* :func:`power_series_log_det`: the series truncated at ``n`` terms, with the traces exact
  (``key=None``, the ``D`` basis vectors) or by Hutchinson's estimator
  ``tr(J^k) ~ v^T J^k v``, ``E[v v^T] = I``, probes from
  :func:`likelihood_jax.estimators.sample_probes`. ``v^T J^k`` is ``k`` vector-Jacobian
  products (``jax.vjp``), shared by all the terms. Truncation bias:
  ``|sum_{k>n} ...| <= D c^{n+1} / ((n + 1)(1 - c))``;
* :func:`russian_roulette_log_det` (Chen et al. Sec. 3.1, Eq. 6-7): the first
  ``num_exact_terms`` terms always, and term ``k`` beyond them with probability
  ``P(N >= k) = q^{k - num_exact_terms}`` (``N - num_exact_terms`` geometric), weighted by
  ``1 / P(N >= k)``; so ``E_N`` gives the full series: unbiased for every term up to
  ``max_terms``, a static cap for ``jit`` (bias bounded as above with ``n = max_terms``; the
  variance is finite when ``c^2 / q < 1``).

:meth:`ResidualBlock.forward_and_log_det_estimate` and the function
:func:`forward_and_log_det_estimate` (any bijector, recursing into chains; other layers'
log-dets stay exact) give the stochastic ``log|det|`` for training a residual flow by
maximum likelihood; ``log_prob`` through :class:`~likelihood_jax.flows.Flow` is exact.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from likelihood_jax import estimators
from likelihood_jax.flows.base import Bijector, Context, Params
from likelihood_jax.flows.chain import Chain
from likelihood_jax.flows.elementwise import ActNorm

Function = Callable[[jax.Array], jax.Array]
_LIPSWISH_DIVISOR = 1.1  # max of d/dx (x sigmoid(x)) is 1.0998 (Chen et al. 2019, Sec. 4)


def lipswish(x: jax.Array) -> jax.Array:
    """LipSwish ``x sigmoid(x) / 1.1``: smooth, 1-Lipschitz (Chen et al. 2019)."""
    return x * jax.nn.sigmoid(x) / _LIPSWISH_DIVISOR


def _normalize(v: jax.Array) -> jax.Array:
    return v / (jnp.linalg.norm(v) + 1e-12)


def spectral_normalize(w: jax.Array, u: jax.Array, coeff: float,
                       num_iterations: int) -> jax.Array:
    """``W / max(1, sigma / coeff)`` with ``sigma`` from power iteration (Miyato et al. 2018).

    ``num_iterations`` steps ``v = W^T u / ||W^T u||``, ``u = W v / ||W v||`` from ``u``, then
    ``sigma = u^T W v`` (``u`` and ``v`` under ``stop_gradient``, gradients reach ``W``).
    ``sigma <= ||W||_2`` and approaches it geometrically in ``(sigma_2 / sigma_1)^2``, so the
    result's norm is at most ``coeff ||W||_2 / sigma``. Behrmann et al. 2019, Eq. 8.

    Args:
        w: a ``(out, in)`` matrix.
        u: a start vector ``(out,)``.
        coeff: the target spectral norm ``c``.
        num_iterations: power-iteration steps.

    Returns:
        The rescaled matrix.
    """
    w_const = jax.lax.stop_gradient(w)

    def step(_, u):
        return _normalize(w_const @ _normalize(w_const.T @ u))

    u = jax.lax.fori_loop(0, num_iterations, step, _normalize(u))
    v = _normalize(w_const.T @ u)
    sigma = u @ w @ v
    return w / jnp.maximum(1.0, sigma / coeff)


def _trace_powers(g: Function, x: jax.Array, vectors: jax.Array, num_terms: int
                  ) -> tuple[jax.Array, jax.Array]:
    """``g(x)`` and ``v_p^T J^k v_p`` for ``k = 1..num_terms``: shape ``(num_terms, P)``."""
    y, vjp = jax.vjp(g, x)
    products = jax.vmap(lambda v: vjp(v)[0])
    flat = vectors.reshape(vectors.shape[0], -1)

    def step(left, _):  # left = v^T J^{k-1}  ->  v^T J^k
        left = products(left)
        return left, jnp.sum(left.reshape(flat.shape) * flat, axis=-1)

    return y, jax.lax.scan(step, vectors, None, length=num_terms)[1]


def _series_coefficients(num_terms: int, dtype) -> jax.Array:
    """``(-1)^{k+1} / k`` for ``k = 1..num_terms``."""
    k = np.arange(1, num_terms + 1)
    return jnp.asarray((-1.0) ** (k + 1) / k, dtype)


def _probes(key: jax.Array | None, x: jax.Array, num_probes: int, probe: str) -> jax.Array:
    """The basis of the event space (``key=None``) or Hutchinson probes ``(P,) + x.shape``."""
    if key is None:
        return jnp.eye(x.size, dtype=x.dtype).reshape((x.size,) + x.shape)
    return estimators.sample_probes(key, (num_probes,) + x.shape, probe, x.dtype)


def _check_terms(name: str, field: str, value: int) -> None:
    if not (isinstance(value, int) and value >= 1):
        raise ValueError(f"{name}: {field} must be an integer >= 1, got {value!r}.")


def power_series_log_det(g: Function, x: jax.Array, key: jax.Array | None = None, *,
                         num_terms: int = 8, num_probes: int = 1,
                         probe: str = "rademacher") -> tuple[jax.Array, jax.Array]:
    """``(g(x), sum_{k=1}^{n} (-1)^{k+1} tr(J^k) / k)``, ``J = dg/dx``: ``log det(I + J)``.

    Behrmann et al. 2019, Eq. 6-7. The traces are exact for ``key=None`` (``D`` basis
    vectors, ``D n`` vector-Jacobian products) or Hutchinson estimates averaged over
    ``num_probes`` probes (``num_probes n`` products), unbiased for the truncated series.
    Converges to ``log det(I + J)`` when ``J``'s spectral radius is below 1.

    Args:
        g: the residual branch, ``x.shape -> x.shape``.
        x: one example.
        key: None (exact traces) or a PRNG key for the probes.
        num_terms: ``n >= 1``.
        num_probes: Hutchinson probes (with a key).
        probe: ``"rademacher"`` or ``"gaussian"`` (:func:`~likelihood_jax.estimators.
            sample_probes`).

    Returns:
        ``(g(x), log_det_estimate)``.
    """
    _check_terms("power_series_log_det", "num_terms", num_terms)
    vectors = _probes(key, x, num_probes, probe)
    y, quad = _trace_powers(g, x, vectors, num_terms)
    traces = jnp.sum(quad, axis=1) if key is None else jnp.mean(quad, axis=1)
    return y, jnp.sum(_series_coefficients(num_terms, x.dtype) * traces)


def russian_roulette_log_det(g: Function, x: jax.Array, key: jax.Array, *,
                             num_exact_terms: int = 2, continue_prob: float = 0.5,
                             max_terms: int = 32, num_probes: int = 1,
                             probe: str = "rademacher") -> tuple[jax.Array, jax.Array]:
    """Chen et al. 2019's unbiased Russian-roulette estimate of ``log det(I + dg/dx)``.

    ``sum_{k=1}^{N} (-1)^{k+1} v^T J^k v / (k P(N >= k))`` with ``N = num_exact_terms + G``,
    ``P(G >= j) = q^j`` (geometric, ``q = continue_prob``), the probes ``v`` from
    :func:`~likelihood_jax.estimators.sample_probes`. ``E_{N, v}`` is the series up to
    ``max_terms`` (the terms past the cap are dropped: the truncation bound of the module
    docstring); every call computes ``max_terms`` vector-Jacobian products per probe.

    Args:
        g: the residual branch, ``x.shape -> x.shape``.
        x: one example.
        key: a PRNG key (probes and ``N``).
        num_exact_terms: terms always included (weight 1), ``>= 1``.
        continue_prob: ``q`` in (0, 1).
        max_terms: the static cap, ``>= num_exact_terms``.
        num_probes: Hutchinson probes.
        probe: ``"rademacher"`` or ``"gaussian"``.

    Returns:
        ``(g(x), log_det_estimate)``.
    """
    _check_terms("russian_roulette_log_det", "num_exact_terms", num_exact_terms)
    _check_terms("russian_roulette_log_det", "max_terms", max_terms)
    if max_terms < num_exact_terms:
        raise ValueError(f"russian_roulette_log_det: max_terms ({max_terms}) must be >= "
                         f"num_exact_terms ({num_exact_terms}).")
    if not 0.0 < continue_prob < 1.0:
        raise ValueError(f"russian_roulette_log_det: continue_prob must be in (0, 1), got "
                         f"{continue_prob}.")
    probe_key, roulette_key = jax.random.split(key)
    y, quad = _trace_powers(g, x, _probes(probe_key, x, num_probes, probe), max_terms)
    extra = jnp.floor(jnp.log(jax.random.uniform(roulette_key, (), x.dtype))
                      / np.log(continue_prob))
    beyond = np.maximum(np.arange(1, max_terms + 1) - num_exact_terms, 0)
    weights = jnp.where(beyond <= extra, jnp.asarray(continue_prob, x.dtype) ** -beyond, 0.0)
    coefficients = _series_coefficients(max_terms, x.dtype) * weights
    return y, jnp.sum(coefficients * jnp.mean(quad, axis=1))


@dataclasses.dataclass(frozen=True)
class ResidualBlock(Bijector):
    """Invertible residual block ``z = x + g(x)``, ``Lip(g) <= lipschitz < 1``; vectors ``(D,)``.

    ``g`` = spectrally normalized dense layers (widths ``hidden_dims``, then ``D``) with
    LipSwish between them. ``forward_and_log_det`` is exact (``slogdet(I + J)``);
    :meth:`forward_and_log_det_estimate` is the power series. See the module docstring.

    Attributes:
        hidden_dims: hidden widths of ``g``.
        lipschitz: the spectral-norm bound ``c`` of each layer, in (0, 1).
        power_iterations: power-iteration steps per layer and call.
        inverse_iterations: the fixed-point iteration's cap.
    """

    hidden_dims: tuple[int, ...] = (32, 32)
    lipschitz: float = 0.9
    power_iterations: int = 20
    inverse_iterations: int = 500
    log_det_depends_on_x = True

    def __post_init__(self):
        object.__setattr__(self, "hidden_dims", tuple(int(h) for h in self.hidden_dims))
        if not 0.0 < self.lipschitz < 1.0:
            raise ValueError(f"ResidualBlock: lipschitz must be in (0, 1), got "
                             f"{self.lipschitz}.")
        _check_terms("ResidualBlock", "power_iterations", self.power_iterations)
        _check_terms("ResidualBlock", "inverse_iterations", self.inverse_iterations)

    def init(self, key: jax.Array, x: jax.Array, context: Context = None) -> Params:
        """LeCun-normal weights and zero biases for the layers of ``g``, from ``x (B, D)``."""
        if x.ndim != 2:
            raise ValueError(f"ResidualBlock.init needs a batch of vectors (B, D), got "
                             f"{x.shape}.")
        widths = (x.shape[-1],) + self.hidden_dims + (x.shape[-1],)
        keys = jax.random.split(key, len(widths) - 1)
        init = jax.nn.initializers.lecun_normal()
        return [{"w": init(k, (n_out, n_in), x.dtype), "b": jnp.zeros((n_out,), x.dtype)}
                for k, n_in, n_out in zip(keys, widths[:-1], widths[1:])]

    def weights(self, params: Params) -> list[jax.Array]:
        """The spectrally normalized weights (power iteration from fixed start vectors)."""
        out = []
        for i, layer in enumerate(params):
            w = layer["w"]
            start = np.random.default_rng(i).standard_normal(w.shape[0])
            out.append(spectral_normalize(w, jnp.asarray(start, w.dtype), self.lipschitz,
                                          self.power_iterations))
        return out

    def lipschitz_bound(self, params: Params) -> jax.Array:
        """``prod_l ||W_hat_l||_2`` (exact norms by SVD): an upper bound of ``Lip(g)``."""
        return jnp.prod(jnp.stack([jnp.linalg.norm(w, 2) for w in self.weights(params)]))

    def residual(self, params: Params) -> Function:
        """The branch ``g`` as a function of one example ``(D,)``."""
        weights = self.weights(params)
        biases = [layer["b"] for layer in params]

        def g(x):
            h = x
            for i, (w, b) in enumerate(zip(weights, biases)):
                h = (lipswish(h) if i else h) @ w.T + b
            return h

        return g

    def forward(self, params: Params, x: jax.Array, context: Context = None) -> jax.Array:
        """``z = x + g(x)``."""
        return x + self.residual(params)(x)

    def forward_and_log_det(self, params: Params, x: jax.Array, context: Context = None
                            ) -> tuple[jax.Array, jax.Array]:
        """``z = x + g(x)``, exact ``log det(I + dg/dx)`` by ``slogdet`` (O(D^3))."""
        g = self.residual(params)
        return x + g(x), _exact_log_det(g, x)

    def forward_and_log_det_estimate(self, params: Params, x: jax.Array, key: jax.Array, *,
                                     estimator: str = "roulette", **kwargs
                                     ) -> tuple[jax.Array, jax.Array]:
        """``z`` and a stochastic ``log det(I + dg/dx)``.

        Args:
            params: the block's parameters.
            x: one example ``(D,)``.
            key: a PRNG key.
            estimator: ``"roulette"`` (:func:`russian_roulette_log_det`, unbiased) or
                ``"series"`` (:func:`power_series_log_det` with Hutchinson probes).
            **kwargs: passed to the estimator (``num_terms``, ``num_probes``, ...).

        Returns:
            ``(z, log_det_estimate)``.
        """
        g = self.residual(params)
        if estimator == "roulette":
            y, log_det = russian_roulette_log_det(g, x, key, **kwargs)
        elif estimator == "series":
            y, log_det = power_series_log_det(g, x, key, **kwargs)
        else:
            raise ValueError(f"ResidualBlock: estimator must be 'roulette' or 'series', got "
                             f"{estimator!r}.")
        return x + y, log_det

    def inverse_and_log_det(self, params: Params, z: jax.Array, context: Context = None
                            ) -> tuple[jax.Array, jax.Array]:
        """``x`` by the fixed-point iteration ``x <- z - g(x)``; ``-log det(I + dg/dx)``."""
        g = self.residual(params)
        tol = 4 * jnp.finfo(z.dtype).eps * (1.0 + jnp.max(jnp.abs(z)))

        def not_done(state):
            i, _, step = state
            return (i < self.inverse_iterations) & (step > tol)

        def iterate(state):
            i, x, _ = state
            new = z - g(x)
            return i + 1, new, jnp.max(jnp.abs(new - x))

        _, x, _ = jax.lax.while_loop(not_done, iterate, (0, z, jnp.asarray(jnp.inf, z.dtype)))
        return x, -_exact_log_det(g, x)


def _exact_log_det(g: Function, x: jax.Array) -> jax.Array:
    """``log det(I + dg/dx)`` by ``slogdet`` of the ``jacfwd`` Jacobian (positive: Lip < 1)."""
    jac = jax.jacfwd(g)(x)
    return jnp.linalg.slogdet(jnp.eye(x.shape[-1], dtype=x.dtype) + jac)[1]


def forward_and_log_det_estimate(bijector: Bijector, params: Params, x: jax.Array,
                                 key: jax.Array, context: Context = None, **kwargs
                                 ) -> tuple[jax.Array, jax.Array]:
    """``(f(x), log|det df/dx|)`` with each residual block's log-det estimated.

    Chains are followed layer by layer (layer ``i`` gets ``fold_in(key, i)``); a
    :class:`ResidualBlock` uses :meth:`ResidualBlock.forward_and_log_det_estimate` (with
    ``kwargs``), any other layer its exact log-det. So ``standard_normal_log_prob(z) +
    log_det`` is an unbiased estimate of ``log p(x)`` with the Russian-roulette estimator
    (Chen et al. 2019).

    Args:
        bijector: any bijector (typically :func:`residual_flow`).
        params: its parameters.
        x: one example.
        key: a PRNG key.
        context: the example's context, handed to the other layers (or None).
        **kwargs: for the residual blocks' estimator.

    Returns:
        ``(z, log_det_estimate)``.
    """
    if isinstance(bijector, ResidualBlock):
        return bijector.forward_and_log_det_estimate(params, x, key, **kwargs)
    if not isinstance(bijector, Chain):
        return bijector.forward_and_log_det(params, x, context)
    log_det = jnp.zeros((), x.dtype)
    for i, (layer, layer_params) in enumerate(zip(bijector.layers, params)):
        x, layer_log_det = forward_and_log_det_estimate(
            layer, layer_params, x, jax.random.fold_in(key, i), context, **kwargs)
        log_det = log_det + layer_log_det
    return x, log_det


def residual_flow(event_dim: int, num_blocks: int = 4, hidden_dims: tuple[int, ...] = (64, 64),
                  lipschitz: float = 0.9, actnorm: bool = True) -> Chain:
    """A residual flow for vectors ``(event_dim,)``: ``[ActNorm, ResidualBlock] * num_blocks``.

    Wrap it in :class:`~likelihood_jax.flows.Flow` for exact ``log_prob`` and ``sample``;
    train with :func:`forward_and_log_det_estimate` for O(D) per-term cost.
    """
    if event_dim < 1 or num_blocks < 1:
        raise ValueError(f"residual_flow needs event_dim >= 1 and num_blocks >= 1, got "
                         f"{event_dim} and {num_blocks}.")
    block = ResidualBlock(tuple(hidden_dims), lipschitz)
    return Chain(((ActNorm(), block) if actnorm else (block,)) * num_blocks)
