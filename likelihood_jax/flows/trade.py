"""TraDE: a self-attention autoregressive density estimator, trained by penalized MLE [P027].

Fakoor, Chaudhari, Mueller & Smola 2020, "TraDE: Transformers for Density Estimation"
(arXiv:2004.02441). The density factorizes over the columns in a fixed order,

    log p(x) = sum_i log p(x_i | x_<i),

and one causal transformer reads ``x_<i`` and outputs the parameters of every conditional:

* a continuous column gets a mixture of ``K`` Gaussians (:func:`mog_log_prob`)
  ``p(x_i | x_<i) = sum_k pi_k N(x_i; mu_k, sigma_k^2)``, evaluated with ``logsumexp``;
* a discrete column with ``C`` categories (codes ``0..C-1``) gets a softmax over ``C`` logits.

Position ``i`` of the network sees ``(x_{i-1}, 0)`` (position 0 sees the start input
``(0, 1)``) plus a learned position embedding, so its output depends on ``x_<i`` only (the
causal mask; checked by Jacobian sparsity in the tests). The network is the LM stack
:class:`likelihood_jax.models.transformer.TransformerLM` with continuous inputs
(``input_dim=2``) and learned positions; the paper puts a GRU in front of the attention as
its position encoding, which this implementation replaces by the learned positions.

**Penalized MLE** (the paper's objective): ``NLL + lambda * MMD^2(samples, data)`` with the
Gaussian-kernel MMD of :func:`likelihood_jax.metrics.mmd_squared` between a batch of model
samples and the data batch. The samples are made differentiable by :meth:`TraDE.rsample`:
each Gaussian is reparameterized (``mu + sigma * eps``) and the mixture component (and a
discrete column's category) is chosen by a straight-through Gumbel-softmax, so the forward
value is an exact draw and the gradient flows through the relaxed weights.

Sampling (:meth:`TraDE.sample`) runs ``lax.scan`` over the ``D`` columns, one full forward
pass per column (``O(D)`` passes; D is tens of columns here, so the KV cache of the LM stack
is not needed).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from likelihood_jax import _checks
from likelihood_jax.distributions import normal_log_prob
from likelihood_jax.metrics import mmd_squared
from likelihood_jax.models.transformer import TransformerLM

Array = jax.Array
_MAX_LOG_SCALE = 5.0
_MASKED = -1e30


def mog_log_prob(x: Array, logit_weights: Array, means: Array, log_scales: Array) -> Array:
    """Log-density of a 1D mixture of Gaussians, mixture axis last [P027].

    ``log sum_k softmax(w)_k N(x; mu_k, exp(s_k)^2)`` by ``logsumexp``. ``x`` has shape
    ``S``, the others ``S + (K,)``; returns shape ``S``.
    """
    _checks.require_rank("mog_log_prob", "logit_weights", logit_weights, jnp.ndim(x) + 1,
                         "x.shape + (K,)")
    log_w = jax.nn.log_softmax(logit_weights, axis=-1)
    return jax.nn.logsumexp(log_w + normal_log_prob(x[..., None], means, log_scales), -1)


def straight_through_gumbel(key: Array, logits: Array, temperature: float = 1.0) -> Array:
    """One-hot draw from ``softmax(logits)`` (last axis) with relaxed gradients.

    Forward value: ``one_hot(argmax(logits + g))`` with Gumbel noise ``g`` (an exact
    categorical draw); gradient: that of ``softmax((logits + g) / temperature)``.
    """
    _checks.require_greater("straight_through_gumbel", "temperature", temperature)
    g = jax.random.gumbel(key, logits.shape, logits.dtype)
    soft = jax.nn.softmax((logits + g) / temperature, axis=-1)
    hard = jax.nn.one_hot(jnp.argmax(logits + g, axis=-1), logits.shape[-1], dtype=soft.dtype)
    return hard + soft - jax.lax.stop_gradient(soft)


def median_bandwidth(x: Array, y: Array) -> Array:
    """The median heuristic: the median pairwise distance of the pooled sample (no gradient)."""
    z = jax.lax.stop_gradient(jnp.concatenate([x, y], 0))
    d2 = jnp.sum((z[:, None] - z[None]) ** 2, -1)
    upper = d2[np.triu_indices(z.shape[0], 1)]
    return jnp.sqrt(jnp.maximum(jnp.median(upper), 1e-12))


@dataclasses.dataclass(frozen=True)
class TraDE:
    """The TraDE density model over ``D = len(categories)`` columns [P027].

    Attributes:
      categories: per column, 0 for a continuous column or ``C >= 2`` for a discrete one
        with codes ``0..C-1`` (stored as floats in ``x``).
      num_components: Gaussians per continuous conditional (``K``).
      num_layers, width, num_heads, mlp_ratio: the causal transformer.
      min_log_scale: lower clip of each Gaussian's log standard deviation.
    """

    categories: tuple[int, ...]
    num_components: int = 8
    num_layers: int = 2
    width: int = 64
    num_heads: int = 4
    mlp_ratio: int = 4
    min_log_scale: float = -5.0

    def __post_init__(self):
        object.__setattr__(self, "categories", tuple(int(c) for c in self.categories))
        if not self.categories or any(c == 1 or c < 0 for c in self.categories):
            raise ValueError(f"TraDE: categories must be a non-empty tuple of 0 (continuous) or "
                             f"counts >= 2, got {self.categories}")
        _checks.require_integer_at_least("TraDE", "num_components", self.num_components, 1)

    @property
    def num_dims(self) -> int:
        """``D``, the number of columns."""
        return len(self.categories)

    @property
    def num_outputs(self) -> int:
        """Outputs per position: ``3K`` mixture parameters or the largest category count."""
        return max(3 * self.num_components, max(self.categories))

    @property
    def network(self) -> TransformerLM:
        """The causal transformer on ``[B, D, 2]`` inputs (see the module docstring)."""
        return TransformerLM(vocab_size=1, output_size=self.num_outputs,
                             num_layers=self.num_layers, width=self.width,
                             num_heads=self.num_heads, mlp_ratio=self.mlp_ratio,
                             max_len=self.num_dims, position="learned", input_dim=2)

    def _check_x(self, function: str, x: Array) -> None:
        _checks.require_rank(function, "x", x, 2, f"(B, {self.num_dims})")
        if x.shape[1] != self.num_dims:
            raise _checks.error(function, "x", f"of shape (B, {self.num_dims})",
                                f"shape {x.shape}")

    def _inputs(self, x: Array) -> Array:
        b = x.shape[0]
        shifted = jnp.concatenate([jnp.zeros((b, 1), x.dtype), x[:, :-1]], 1)
        start = jnp.zeros((b, self.num_dims), x.dtype).at[:, 0].set(1.0)
        return jnp.stack([shifted, start], -1)

    def init(self, key: Array, x: Array):
        """Parameters of the network, given a batch ``x (B, D)``."""
        self._check_x("TraDE.init", x)
        return self.network.init(key, self._inputs(x))["params"]

    def outputs(self, params, x: Array) -> Array:
        """Raw conditional parameters ``(B, D, num_outputs)``; row ``i`` depends on ``x_<i``."""
        self._check_x("TraDE.outputs", x)
        return self.network.apply({"params": params}, self._inputs(x))

    def _split(self, out: Array) -> tuple[Array, Array, Array]:
        k = self.num_components
        log_scales = jnp.clip(out[..., 2 * k:3 * k], self.min_log_scale, _MAX_LOG_SCALE)
        return out[..., :k], out[..., k:2 * k], log_scales

    def _category_logits(self, out: Array) -> Array:
        # Finite fill: a continuous column (no valid category) gets finite, unused logits,
        # so the branch that jnp.where drops has finite gradients.
        valid = jnp.arange(self.num_outputs)[None, :] < jnp.asarray(self.categories)[:, None]
        return jnp.where(valid, out, _MASKED)

    @property
    def _discrete(self) -> Array:
        return jnp.asarray([c > 0 for c in self.categories])

    def conditional_log_probs(self, params, x: Array) -> Array:
        """``log p(x_i | x_<i)`` for every column, ``(B, D)``."""
        out = self.outputs(params, x)
        continuous = mog_log_prob(x, *self._split(out))
        log_p = jax.nn.log_softmax(self._category_logits(out), -1)
        codes = jnp.clip(jnp.round(x), 0, self.num_outputs - 1).astype(jnp.int32)
        discrete = jnp.take_along_axis(log_p, codes[..., None], -1)[..., 0]
        return jnp.where(self._discrete, discrete, continuous)

    def log_prob(self, params, x: Array) -> Array:
        """Exact ``log p(x)`` of a batch ``x (B, D)``: shape ``(B,)``."""
        return jnp.sum(self.conditional_log_probs(params, x), -1)

    def _draw_column(self, key: Array, out: Array, category_logits: Array, discrete: Array,
                     temperature: float) -> Array:
        k_mix, k_eps, k_cat = jax.random.split(key, 3)
        logits, means, log_scales = self._split(out)
        weights = straight_through_gumbel(k_mix, logits, temperature)
        eps = jax.random.normal(k_eps, out.shape[:-1], out.dtype)
        value = jnp.sum(weights * (means + jnp.exp(log_scales) * eps[..., None]), -1)
        cats = straight_through_gumbel(k_cat, category_logits, temperature)
        code = jnp.sum(cats * jnp.arange(self.num_outputs, dtype=out.dtype), -1)
        return jnp.where(discrete, code, value)

    def rsample(self, params, key: Array, n: int, temperature: float = 1.0) -> Array:
        """``n`` exact draws ``(n, D)`` that carry reparameterized (relaxed) gradients.

        ``lax.scan`` over the columns: column ``i`` is drawn from the network's outputs at
        position ``i`` given the columns drawn so far.
        """
        _checks.require_integer_at_least("TraDE.rsample", "n", n, 1)
        discrete = self._discrete

        def step(x, inputs):
            i, k = inputs
            out = self.outputs(params, x)
            column = self._draw_column(k, out[:, i], self._category_logits(out)[:, i],
                                       discrete[i], temperature)
            return x.at[:, i].set(column), None

        keys = jax.random.split(key, self.num_dims)
        x0 = jnp.zeros((n, self.num_dims), jnp.float32)
        x, _ = jax.lax.scan(step, x0, (jnp.arange(self.num_dims), keys))
        return x

    def sample(self, params, key: Array, n: int) -> Array:
        """``n`` draws ``(n, D)`` from the model (no gradient; discrete codes rounded)."""
        x = jax.lax.stop_gradient(self.rsample(jax.lax.stop_gradient(params), key, n))
        return jnp.where(self._discrete, jnp.round(x), x)


def penalized_nll(model: TraDE, params, x: Array, key: Array, *, mmd_weight: float,
                  num_samples: int = 64, bandwidth: float | None = None,
                  temperature: float = 1.0) -> tuple[Array, dict[str, Array]]:
    """TraDE's objective per example: ``-log p(x_b) + lambda * MMD^2(samples, x)`` [P027].

    The MMD term is one number for the batch (``num_samples`` model draws by
    :meth:`TraDE.rsample` against the batch ``x``, unbiased U-statistic); it is added to
    every example, so the mean over the batch is ``mean NLL + lambda MMD^2``. With
    ``bandwidth=None`` the median heuristic (:func:`median_bandwidth`) sets the kernel
    width. ``mmd_weight = 0`` is plain maximum likelihood (no samples drawn).

    Returns:
      ``(loss (B,), {"nll": (B,), "mmd2": scalar}``; ``mmd2`` only when drawn).
    """
    _checks.require_at_least("penalized_nll", "mmd_weight", mmd_weight, 0.0)
    nll = -model.log_prob(params, x)
    if not mmd_weight:
        return nll, {"nll": nll}
    samples = model.rsample(params, key, num_samples, temperature)
    bw = median_bandwidth(samples, x) if bandwidth is None else bandwidth
    mmd2 = mmd_squared(samples, x, bandwidth=bw)
    return nll + mmd_weight * mmd2, {"nll": nll, "mmd2": mmd2}
