"""Synthetic sequence sources with known distributions, and exact metrics against them.

A source ``P`` over sequences ``x = (x_1, ..., x_L)`` of tokens in ``{0..V-1}``:

* :class:`MarkovSource`: an order-``k`` Markov chain (an n-gram model, ``n = k + 1``),
  ``P(x) = prod_t p(x_t | x_{t-k..t-1})``, where positions before the start read
  as a BOS symbol, so the first ``k`` tokens have their own distributions.
* :class:`HMMSource`: a hidden Markov model ``z_1 -> z_2 -> ...`` (``S`` states)
  emitting ``x_t ~ p(x | z_t)``; ``P(x)`` by the forward algorithm.

Both are pytrees (pass them into jitted functions) with
``sample(key, num_samples, length) -> [N, L]``, ``log_prob(x [L])`` (exact),
``conditional_log_probs(x [L]) -> [L, V]`` (``log p(x_t = v | x_<t)``, teacher
forced, the same interface as an LM's log-softmax outputs). Constructors take a
seed and choose the entropy through a Dirichlet concentration (small: peaky
rows, low entropy), a softmax temperature, or a target entropy rate
(:func:`markov_source_with_entropy_rate`).

Metrics of a model ``Q`` against ``P`` (all in nats per sequence; divide by ``L``
for per-token values):

* forward cross-entropy ``H(P, Q) = -E_{x~P} log Q(x)``: source samples scored by
  the model (:func:`mc_forward_cross_entropy`, unbiased);
* reverse cross-entropy ``H(Q, P) = -E_{x~Q} log P(x)``: model samples scored by
  the source (:func:`mc_reverse_cross_entropy`, unbiased); infinite as soon as
  ``Q`` puts mass where ``P`` has none;
* entropy ``H(P) = -E_P log P(x)``: exact for Markov chains
  (:meth:`MarkovSource.sequence_entropy`, :meth:`MarkovSource.entropy_rate`), Monte
  Carlo for HMMs (:func:`mc_entropy`);
* exact everything on short sequences by enumerating all ``V^L`` of them
  (:func:`enumerate_sequences`, :func:`all_sequence_log_probs`,
  :func:`exact_metrics`: total variation, both cross-entropies, both KLs), for
  ``V^L`` up to about ``10^5``. ``all_sequence_log_probs`` needs the conditional
  log-probabilities of only the ``V^(L-1)`` prefixes, so a model is run on
  ``V^(L-1)`` sequences, not ``V^L``.

Registered datasets (``likelihood_jax.data.load_dataset(name, **options)``): ``"markov"``
(:func:`load_markov`), ``"hmm"`` (:func:`load_hmm`) and ``"markov_mixture"``
(:func:`load_markov_mixture`) sample train and test sequences from a seeded source;
:func:`make_source` builds the same source from the same options, for the exact metrics.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

from likelihood_jax.data.loader import Dataset, DatasetInfo

# -- Markov chains -----------------------------------------------------------------------------


@flax.struct.dataclass
class MarkovSource:
    """Order-``k`` Markov chain over ``V`` tokens.

    Attributes:
      log_table: ``[(V + 1) ** k, V]`` log ``p(x_t | context)``. A context is the
        previous ``k`` tokens written in base ``V + 1`` (oldest digit most
        significant), where digit ``V`` is BOS (a position before the start).
      vocab_size: ``V``.
      order: ``k >= 1``.
    """

    log_table: jax.Array
    vocab_size: int = flax.struct.field(pytree_node=False)
    order: int = flax.struct.field(pytree_node=False)

    @property
    def num_contexts(self) -> int:
        """``(V + 1) ** k`` contexts, BOS padding included."""
        return (self.vocab_size + 1) ** self.order

    @property
    def start_context(self) -> int:
        """The all-BOS context of the first token."""
        return sum(self.vocab_size * (self.vocab_size + 1) ** i for i in range(self.order))

    def next_context(self, context: jax.Array, token: jax.Array) -> jax.Array:
        """Drops the oldest token of ``context`` and appends ``token``."""
        return (context * (self.vocab_size + 1) + token) % self.num_contexts

    def contexts(self, x: jax.Array) -> jax.Array:
        """``[L]`` context index of every position of ``x [L]``."""
        def step(context, token):
            return self.next_context(context, token), context
        _, out = jax.lax.scan(step, jnp.asarray(self.start_context, jnp.int32),
                              x.astype(jnp.int32))
        return out

    def conditional_log_probs(self, x: jax.Array) -> jax.Array:
        """``[L, V]``: ``log p(x_t = v | x_<t)`` at every position of ``x [L]``."""
        return self.log_table[self.contexts(x)]

    def log_prob(self, x: jax.Array) -> jax.Array:
        """Exact ``log P(x)`` of one sequence ``x [L]``."""
        cond = self.conditional_log_probs(x)
        return jnp.sum(jnp.take_along_axis(cond, x[:, None].astype(jnp.int32), -1))

    def sample(self, key: jax.Array, num_samples: int, length: int) -> jax.Array:
        """``[num_samples, length]`` int32 sequences drawn from the chain."""
        def step(context, step_key):
            token = jax.random.categorical(step_key, self.log_table[context], axis=-1)
            return self.next_context(context, token), token

        start = jnp.full((num_samples,), self.start_context, jnp.int32)
        _, tokens = jax.lax.scan(step, start, jax.random.split(key, length))
        return tokens.T.astype(jnp.int32)

    def row_entropies(self) -> jax.Array:
        """``[(V + 1) ** k]`` entropy of ``p(. | context)`` in nats."""
        probs = jnp.exp(self.log_table)
        return -jnp.sum(jnp.where(probs > 0, probs * self.log_table, 0.0), axis=-1)

    def sequence_entropy(self, length: int) -> jax.Array:
        """Exact ``H(x_1..x_L)`` in nats: ``sum_t E_{context_t}[H(p(. | context_t))]``.

        The marginal of the context is propagated exactly, ``O(L (V+1)^k V)``.
        """
        probs = jnp.exp(self.log_table)
        rows = self.row_entropies()
        targets = self.next_context(jnp.arange(self.num_contexts)[:, None],
                                    jnp.arange(self.vocab_size)[None, :])

        def step(marginal, _):
            entropy = jnp.sum(marginal * rows)
            marginal = jnp.zeros_like(marginal).at[targets.ravel()].add(
                (marginal[:, None] * probs).ravel())
            return marginal, entropy

        start = jnp.zeros(self.num_contexts, probs.dtype).at[self.start_context].set(1.0)
        _, entropies = jax.lax.scan(step, start, None, length=length)
        return jnp.sum(entropies)

    def stationary_distribution(self) -> np.ndarray:
        """Stationary distribution over the ``V ** k`` BOS-free contexts (numpy, float64).

        Assumes the chain over contexts is irreducible (true when every
        transition has positive probability); the eigenvector of eigenvalue 1.
        """
        v, k = self.vocab_size, self.order
        valid = np.array([c for c in range(self.num_contexts)
                          if all((c // (v + 1) ** i) % (v + 1) < v for i in range(k))])
        index = {c: i for i, c in enumerate(valid)}
        probs = np.exp(np.asarray(self.log_table, np.float64))
        matrix = np.zeros((len(valid), len(valid)))
        for i, c in enumerate(valid):
            for token in range(v):
                matrix[i, index[(c * (v + 1) + token) % self.num_contexts]] += probs[c, token]
        values, vectors = np.linalg.eig(matrix.T)
        pi = np.real(vectors[:, np.argmin(np.abs(values - 1.0))])
        pi = pi / pi.sum()
        full = np.zeros(self.num_contexts)
        full[valid] = pi
        return full

    def entropy_rate(self) -> float:
        """Exact entropy rate ``lim H(x_1..L) / L = E_stationary[H(p(. | context))]`` (nats)."""
        rows = np.asarray(self.row_entropies(), np.float64)
        return float(np.sum(self.stationary_distribution() * rows))


def _normalize_rows(table: np.ndarray) -> np.ndarray:
    return table / table.sum(axis=-1, keepdims=True)


def random_markov_source(seed: int, vocab_size: int, *, order: int = 1,
                         concentration: float = 0.5, temperature: float | None = None,
                         zero_fraction: float = 0.0, floor: float = 0.0) -> MarkovSource:
    """A random order-``k`` Markov chain.

    Each row ``p(. | context)`` is drawn from ``Dirichlet(concentration)`` (or is
    ``softmax(g / temperature)`` with ``g ~ N(0, I)`` when ``temperature`` is given);
    smaller values give peakier rows and a lower entropy rate. Then a fraction
    ``zero_fraction`` of each row's entries (never its largest) is set to zero, as
    in the synthetic bigram sources of MixCE (Zhang et al. 2023), and the row is
    mixed with the uniform distribution, ``(1 - floor) p + floor / V``, so that
    with ``floor > 0`` every sequence has positive probability (and the reverse
    cross-entropy of any model is finite).

    Args:
      seed: numpy seed.
      vocab_size: ``V``.
      order: ``k``.
      concentration: Dirichlet concentration of every entry.
      temperature: if set, rows are softmaxes of Gaussian logits at this temperature.
      zero_fraction: fraction of each row set to zero before the floor.
      floor: weight of the uniform distribution mixed into every row.
    """
    if vocab_size < 2 or order < 1:
        raise ValueError(f"need vocab_size >= 2 and order >= 1, got {vocab_size}, {order}")
    if not 0.0 <= zero_fraction < 1.0 or not 0.0 <= floor <= 1.0:
        raise ValueError(f"need 0 <= zero_fraction < 1 and 0 <= floor <= 1, got "
                         f"{zero_fraction}, {floor}")
    rng = np.random.default_rng(seed)
    rows = (vocab_size + 1) ** order
    if temperature is not None:
        logits = rng.standard_normal((rows, vocab_size)) / temperature
        table = np.exp(logits - logits.max(-1, keepdims=True))
    else:
        table = rng.dirichlet(np.full(vocab_size, concentration), size=rows)
    if zero_fraction:
        drop = rng.random(table.shape) < zero_fraction
        drop[np.arange(rows), table.argmax(-1)] = False
        table = np.where(drop, 0.0, table)
    table = (1.0 - floor) * _normalize_rows(table) + floor / vocab_size
    with np.errstate(divide="ignore"):
        log_table = np.log(_normalize_rows(table))
    return MarkovSource(jnp.asarray(log_table, jnp.float32), vocab_size, order)


def markov_source_with_entropy_rate(seed: int, vocab_size: int, entropy_rate: float, *,
                                    order: int = 1, tolerance: float = 1e-3) -> MarkovSource:
    """A random Markov chain whose exact entropy rate is ``entropy_rate`` nats (+- tolerance).

    Rows are ``softmax(g / T)`` with fixed Gaussian logits ``g``; the temperature
    ``T`` is found by bisection on ``log T`` (the rate grows with ``T`` from 0 to
    ``log V``).
    """
    if not 0.0 < entropy_rate < math.log(vocab_size):
        raise ValueError(f"entropy_rate must lie in (0, log V = {math.log(vocab_size):.4f}), "
                         f"got {entropy_rate}")
    lo, hi = math.log(1e-3), math.log(1e3)
    source = None
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        source = random_markov_source(seed, vocab_size, order=order, temperature=math.exp(mid))
        rate = source.entropy_rate()
        if abs(rate - entropy_rate) < tolerance:
            break
        lo, hi = (mid, hi) if rate < entropy_rate else (lo, mid)
    return source


# -- Hidden Markov models ----------------------------------------------------------------------


@flax.struct.dataclass
class HMMSource:
    """Hidden Markov model with ``S`` states emitting tokens in ``{0..V-1}``.

    Attributes:
      log_initial: ``[S]`` log ``p(z_1)``.
      log_transition: ``[S, S]`` log ``p(z_{t+1} = j | z_t = i)``.
      log_emission: ``[S, V]`` log ``p(x_t | z_t)``.
    """

    log_initial: jax.Array
    log_transition: jax.Array
    log_emission: jax.Array

    @property
    def vocab_size(self) -> int:
        """``V``."""
        return self.log_emission.shape[-1]

    def _filter(self, x: jax.Array):
        """Log predictive state distributions ``log p(z_t | x_<t)`` ``[L, S]`` and ``log P(x)``."""
        def step(carry, token):
            predictive, total = carry  # log p(z_t | x_<t), log p(x_<t)
            joint = predictive + self.log_emission[:, token]
            evidence = jax.nn.logsumexp(joint)  # log p(x_t | x_<t)
            posterior = joint - evidence
            new_predictive = jax.nn.logsumexp(posterior[:, None] + self.log_transition, axis=0)
            return (new_predictive, total + evidence), predictive

        (_, total), predictive = jax.lax.scan(
            step, (self.log_initial, jnp.zeros((), self.log_initial.dtype)),
            x.astype(jnp.int32))
        return predictive, total

    def log_prob(self, x: jax.Array) -> jax.Array:
        """Exact ``log P(x)`` by the forward algorithm (normalized in log space), ``O(L S^2)``."""
        return self._filter(x)[1]

    def conditional_log_probs(self, x: jax.Array) -> jax.Array:
        """``[L, V]``: ``log p(x_t=v | x_<t) = logsumexp_z log p(z_t=z | x_<t) + log p(v | z)``."""
        predictive, _ = self._filter(x)
        return jax.nn.logsumexp(predictive[:, :, None] + self.log_emission[None], axis=1)

    def sample(self, key: jax.Array, num_samples: int, length: int) -> jax.Array:
        """``[num_samples, length]`` int32 emissions."""
        init_key, key = jax.random.split(key)
        state = jax.random.categorical(init_key, self.log_initial, shape=(num_samples,))

        def step(state, step_key):
            emit_key, move_key = jax.random.split(step_key)
            token = jax.random.categorical(emit_key, self.log_emission[state], axis=-1)
            state = jax.random.categorical(move_key, self.log_transition[state], axis=-1)
            return state, token

        _, tokens = jax.lax.scan(step, state, jax.random.split(key, length))
        return tokens.T.astype(jnp.int32)


def random_hmm_source(seed: int, num_states: int, vocab_size: int, *,
                      transition_concentration: float = 0.5,
                      emission_concentration: float = 0.5) -> HMMSource:
    """A random HMM: uniform initial state, Dirichlet transition and emission rows."""
    rng = np.random.default_rng(seed)
    transition = rng.dirichlet(np.full(num_states, transition_concentration), size=num_states)
    emission = rng.dirichlet(np.full(vocab_size, emission_concentration), size=num_states)
    with np.errstate(divide="ignore"):
        return HMMSource(jnp.full((num_states,), -math.log(num_states), jnp.float32),
                         jnp.asarray(np.log(transition), jnp.float32),
                         jnp.asarray(np.log(emission), jnp.float32))


Source = MarkovSource | HMMSource


# -- Enumeration and exact metrics -------------------------------------------------------------


def enumerate_sequences(vocab_size: int, length: int) -> jax.Array:
    """All ``V ** L`` sequences ``[V^L, L]`` in lexicographic order (last token fastest)."""
    if vocab_size ** length > 10 ** 7:
        raise ValueError(f"{vocab_size}^{length} sequences are too many to enumerate")
    grids = jnp.meshgrid(*[jnp.arange(vocab_size, dtype=jnp.int32)] * length, indexing="ij")
    return jnp.stack([g.ravel() for g in grids], axis=-1)


def all_sequence_log_probs(conditional_log_probs_fn: Callable[[jax.Array], jax.Array],
                           vocab_size: int, length: int) -> jax.Array:
    """``log Q(x)`` of every sequence of length ``L``, in :func:`enumerate_sequences` order.

    Args:
      conditional_log_probs_fn: ``[N, L] tokens -> [N, L, V]`` log ``q(x_t = v | x_<t)``
        (teacher forced; e.g. an LM's log-softmax outputs, or
        ``jax.vmap(source.conditional_log_probs)``). Only the outputs at
        ``x_<t`` matter, so it is called on the ``V^(L-1)`` prefixes (padded with
        token 0) instead of all ``V^L`` sequences.
      vocab_size: ``V``.
      length: ``L >= 1``.

    Returns:
      ``[V^L]`` log-probabilities.
    """
    if length < 1:
        raise ValueError(f"length must be >= 1, got {length}")
    prefixes = enumerate_sequences(vocab_size, length - 1)  # [V^(L-1), L-1]
    padded = jnp.concatenate([prefixes, jnp.zeros((prefixes.shape[0], 1), jnp.int32)], 1)
    cond = conditional_log_probs_fn(padded)  # [N, L, V]
    if cond.shape != (prefixes.shape[0], length, vocab_size):
        raise ValueError(f"conditional_log_probs_fn returned shape {cond.shape}, expected "
                         f"{(prefixes.shape[0], length, vocab_size)}")
    prefix_log_prob = jnp.sum(jnp.take_along_axis(cond[:, :-1], prefixes[..., None], -1),
                              axis=(1, 2))
    return (prefix_log_prob[:, None] + cond[:, -1]).reshape(-1)


def _xlogy(x, log_y):
    """``x * log_y`` with ``0 * (-inf) = 0``."""
    return jnp.where(x > 0, x * log_y, 0.0)


def exact_metrics(log_p: jax.Array, log_q: jax.Array) -> dict[str, jax.Array]:
    """Exact divergences between two distributions given on the same enumerated support.

    Args:
      log_p: ``[N]`` log-probabilities of the source on all ``N`` sequences.
      log_q: ``[N]`` log-probabilities of the model on the same sequences.

    Returns:
      ``tv = 0.5 sum |P - Q|``; ``forward_ce = -sum P log Q``;
      ``reverse_ce = -sum Q log P`` (``inf`` if ``Q`` has mass where ``P = 0``);
      ``forward_kl = KL(P || Q)``, ``reverse_kl = KL(Q || P)``; ``entropy_p``,
      ``entropy_q``; ``q_mass_outside_p``: the mass of ``Q`` on ``P``'s zeros; and
      ``p_mass``, ``q_mass`` (1 when the support is complete).
    """
    p, q = jnp.exp(log_p), jnp.exp(log_q)
    forward_ce = -jnp.sum(_xlogy(p, log_q))
    reverse_ce = -jnp.sum(_xlogy(q, log_p))
    entropy_p, entropy_q = -jnp.sum(_xlogy(p, log_p)), -jnp.sum(_xlogy(q, log_q))
    return {
        "tv": 0.5 * jnp.sum(jnp.abs(p - q)),
        "forward_ce": forward_ce, "reverse_ce": reverse_ce,
        "forward_kl": forward_ce - entropy_p, "reverse_kl": reverse_ce - entropy_q,
        "entropy_p": entropy_p, "entropy_q": entropy_q,
        "q_mass_outside_p": jnp.sum(jnp.where(p > 0, 0.0, q)),
        "p_mass": jnp.sum(p), "q_mass": jnp.sum(q),
    }


# -- Monte Carlo metrics -----------------------------------------------------------------------


def _mean_and_stderr(values: jax.Array) -> tuple[jax.Array, jax.Array]:
    n = values.shape[0]
    return jnp.mean(values), jnp.std(values, ddof=1) / jnp.sqrt(n)


def mc_forward_cross_entropy(source: Source, model_log_prob_fn: Callable[[jax.Array], jax.Array],
                             key: jax.Array, num_samples: int,
                             length: int) -> tuple[jax.Array, jax.Array]:
    """Unbiased ``-E_{x~P} log Q(x)`` (nats per sequence) and its standard error.

    Args:
      source: ``P``.
      model_log_prob_fn: ``[N, L] -> [N]`` log ``Q`` of a batch of sequences.
      key: PRNG key for the source samples.
      num_samples: ``N``.
      length: ``L``.
    """
    x = source.sample(key, num_samples, length)
    return _mean_and_stderr(-model_log_prob_fn(x))


def mc_reverse_cross_entropy(source: Source, model_samples: jax.Array
                             ) -> tuple[jax.Array, jax.Array]:
    """Unbiased ``-E_{x~Q} log P(x)`` from model samples ``[N, L]``, and its standard error."""
    return _mean_and_stderr(-jax.vmap(source.log_prob)(model_samples))


def mc_entropy(source: Source, key: jax.Array, num_samples: int,
               length: int) -> tuple[jax.Array, jax.Array]:
    """Unbiased ``H(x_1..x_L) = -E_P log P(x)`` (nats) and its standard error.

    Divided by ``L`` it estimates the entropy rate from above: ``H(x_1..L) / L``
    decreases to the rate as ``L`` grows (for a stationary source).
    """
    return _mean_and_stderr(-jax.vmap(source.log_prob)(source.sample(key, num_samples, length)))


class MixtureSource:
    """Equal-weight mixture of ``K`` synthetic sources: ``P(x) = (1/K) sum_k P_k(x)``."""

    def __init__(self, components):
        vocab = {c.vocab_size for c in components}
        if len(vocab) != 1:
            raise ValueError(f"mixture components have different vocabularies {vocab}")
        self.components = list(components)
        self.vocab_size = vocab.pop()

    def component_log_probs(self, x: jax.Array) -> jax.Array:
        """``[K]`` ``log P_k(x)`` of one sequence ``x [L]``."""
        return jnp.stack([c.log_prob(x) for c in self.components])

    def log_prob(self, x: jax.Array) -> jax.Array:
        """``log P(x)`` of one sequence ``x [L]``."""
        return (jax.nn.logsumexp(self.component_log_probs(x))
                - math.log(len(self.components)))

    def conditional_pll_terms(self, x: jax.Array) -> jax.Array:
        r"""``[L]`` exact ``log P(x_t | x_{\t})`` of one sequence (the ideal MLM's terms)."""
        length, vocab = x.shape[0], self.vocab_size
        variants = jnp.where(jnp.eye(length, dtype=bool)[:, None, :],
                             jnp.arange(vocab)[None, :, None], x[None, None, :])  # [L, V, L]
        log_p = jax.vmap(jax.vmap(self.log_prob))(variants)  # [L, V]
        log_cond = jax.nn.log_softmax(log_p, -1)
        return jnp.take_along_axis(log_cond, x[:, None], -1)[:, 0]


# -- Registered datasets: sequences sampled from a seeded source ---------------------------------

#: Dataset options that say how to sample, not which source: ignored by :func:`make_source`.
SAMPLING_OPTIONS = ("length", "num_train", "num_test", "data_seed", "noisy_copy",
                    "train_noise")


def markov_source(*, seed: int = 0, vocab_size: int = 20, order: int = 1,
                  concentration: float = 0.5, zero_fraction: float = 0.0,
                  floor: float = 0.0) -> MarkovSource:
    """The ``"markov"`` dataset's source: :func:`random_markov_source` of these options."""
    return random_markov_source(seed, vocab_size, order=order, concentration=concentration,
                                zero_fraction=zero_fraction, floor=floor)


def hmm_source(*, seed: int = 0, num_states: int = 4, vocab_size: int = 20,
               transition_concentration: float = 0.5,
               emission_concentration: float = 0.5) -> HMMSource:
    """The ``"hmm"`` dataset's source: :func:`random_hmm_source` of these options."""
    return random_hmm_source(seed, num_states, vocab_size,
                             transition_concentration=transition_concentration,
                             emission_concentration=emission_concentration)


def markov_mixture_source(*, num_components: int = 1, seed: int = 0, vocab_size: int = 20,
                          order: int = 1, concentration: float = 0.5,
                          zero_fraction: float = 0.0, floor: float = 0.0) -> MixtureSource:
    """The ``"markov_mixture"`` source: ``num_components`` chains with seeds ``seed + k``."""
    if num_components < 1:
        raise ValueError(f"num_components must be >= 1, got {num_components}")
    return MixtureSource([markov_source(seed=seed + k, vocab_size=vocab_size, order=order,
                                        concentration=concentration,
                                        zero_fraction=zero_fraction, floor=floor)
                          for k in range(num_components)])


_SOURCES = {"markov": markov_source, "hmm": hmm_source,
            "markov_mixture": markov_mixture_source}


def make_source(name: str, **options: Any) -> Source | MixtureSource:
    """The source of the registered dataset ``name`` with the dataset's ``options``.

    The one way the data and the experiments build a source: ``make_source(**config.dataset)``
    gives the source whose samples ``load_dataset(**config.dataset)`` holds. The sampling
    options (:data:`SAMPLING_OPTIONS`) and ``data_dir`` are ignored.

    Raises:
      ValueError: ``name`` is not a source dataset.
      TypeError: an option the source does not take.
    """
    if name not in _SOURCES:
        raise ValueError(f"unknown source dataset {name!r}; choose one of {tuple(_SOURCES)}")
    ignored = SAMPLING_OPTIONS + ("data_dir",)
    return _SOURCES[name](**{k: v for k, v in options.items() if k not in ignored})


def corrupt_tokens(x: np.ndarray, vocab_size: int, rate: float, seed: int) -> np.ndarray:
    """``x`` with each token replaced, with probability ``rate``, by a uniform random token."""
    rng = np.random.default_rng(seed)
    flip = rng.random(x.shape) < rate
    return np.where(flip, rng.integers(0, vocab_size, x.shape), x).astype(x.dtype)


def _sample_splits(source: Source, length: int, num_train: int, num_test: int,
                   data_seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Train and test ``x [N, L]`` from ``split(key(data_seed))``."""
    train_key, test_key = jax.random.split(jax.random.key(data_seed))
    return (np.asarray(source.sample(train_key, num_train, length)),
            np.asarray(source.sample(test_key, num_test, length)))


def source_dataset(name: str, source: Source, *, length: int, num_train: int, num_test: int,
                   data_seed: int, noisy_copy: float | None = None, train_noise: float = 0.0,
                   description: str = "") -> Dataset:
    """Train/test sequences ``x [N, L]`` of ``source`` drawn with the key ``data_seed``.

    Args:
      name: the dataset's name.
      source: a :class:`MarkovSource` or :class:`HMMSource`.
      length: ``L``.
      num_train: number of training sequences.
      num_test: number of test sequences.
      data_seed: seed of the draws (train and test keys: ``split(key(data_seed))``).
      noisy_copy: if set, the train split also holds ``x_noisy``, a second training
        draw (``data_seed + 1000``) with this fraction of its tokens replaced by uniform
        ones (numpy seed ``data_seed``): noisy supervision beside the clean data.
      train_noise: fraction of the training tokens of ``x`` replaced by uniform ones
        (numpy seed ``data_seed + 1000``); the test split stays clean.
      description: what the options were, for :class:`DatasetInfo`.
    """
    train, test = _sample_splits(source, length, num_train, num_test, data_seed)
    vocab_size = source.vocab_size
    splits = {"x": train}
    if noisy_copy is not None:
        second, _ = _sample_splits(source, length, num_train, num_test, data_seed + 1000)
        splits["x_noisy"] = corrupt_tokens(second, vocab_size, noisy_copy, data_seed)
    if train_noise:
        splits["x"] = corrupt_tokens(train, vocab_size, train_noise, data_seed + 1000)
    info = DatasetInfo(
        kind="text", event_shape=(length,), vocab=tuple(str(i) for i in range(vocab_size)),
        description=f"{name} source {description}: {num_train} train and {num_test} test "
                    f"sequences of length {length}")
    return Dataset(name, splits, {"x": test}, info)


def load_markov(name: str, data_dir: str | None = None, *, seed: int = 0, vocab_size: int = 20,
                order: int = 1, concentration: float = 0.5, zero_fraction: float = 0.0,
                floor: float = 0.0, length: int = 16, num_train: int = 10000,
                num_test: int = 1000, data_seed: int = 1, noisy_copy: float | None = None,
                train_noise: float = 0.0) -> Dataset:
    """The ``"markov"`` dataset: sequences of a random Markov chain (:func:`markov_source`).

    The source options are those of :func:`markov_source`; the sampling options those of
    :func:`source_dataset`. ``data_dir`` is ignored (nothing is written).
    """
    del data_dir
    options = dict(seed=seed, vocab_size=vocab_size, order=order, concentration=concentration,
                   zero_fraction=zero_fraction, floor=floor)
    return source_dataset(name, markov_source(**options), length=length, num_train=num_train,
                          num_test=num_test, data_seed=data_seed, noisy_copy=noisy_copy,
                          train_noise=train_noise, description=str(options))


def load_hmm(name: str, data_dir: str | None = None, *, seed: int = 0, num_states: int = 4,
             vocab_size: int = 20, transition_concentration: float = 0.5,
             emission_concentration: float = 0.5, length: int = 16, num_train: int = 10000,
             num_test: int = 1000, data_seed: int = 1, noisy_copy: float | None = None,
             train_noise: float = 0.0) -> Dataset:
    """The ``"hmm"`` dataset: sequences of a random hidden Markov model (:func:`hmm_source`)."""
    del data_dir
    options = dict(seed=seed, num_states=num_states, vocab_size=vocab_size,
                   transition_concentration=transition_concentration,
                   emission_concentration=emission_concentration)
    return source_dataset(name, hmm_source(**options), length=length, num_train=num_train,
                          num_test=num_test, data_seed=data_seed, noisy_copy=noisy_copy,
                          train_noise=train_noise, description=str(options))


def load_markov_mixture(name: str, data_dir: str | None = None, *, num_components: int = 1,
                        seed: int = 0, vocab_size: int = 20, order: int = 1,
                        concentration: float = 0.5, zero_fraction: float = 0.0,
                        floor: float = 0.0, length: int = 16, num_train: int = 10000,
                        num_test: int = 1000, data_seed: int = 1) -> Dataset:
    """The ``"markov_mixture"`` dataset: ``x [N, L]`` and the component ``label [N]``.

    Equal numbers per component (the first ``N mod K`` components get one more),
    component ``k``'s sequences drawn with ``fold_in(split_key, k)`` where the train
    and test keys are ``split(key(data_seed))``, then shuffled by a numpy permutation
    (seed ``data_seed``). The source is :func:`markov_mixture_source`.
    """
    del data_dir
    options = dict(num_components=num_components, seed=seed, vocab_size=vocab_size,
                   order=order, concentration=concentration, zero_fraction=zero_fraction,
                   floor=floor)
    source = markov_mixture_source(**options)
    rng = np.random.default_rng(data_seed)
    splits = {}
    for split, n, split_key in zip(("train", "test"), (num_train, num_test),
                                   jax.random.split(jax.random.key(data_seed))):
        xs, labels = [], []
        for k, comp in enumerate(source.components):
            count = n // num_components + (1 if k < n % num_components else 0)
            xs.append(np.asarray(comp.sample(jax.random.fold_in(split_key, k), count, length)))
            labels.append(np.full(count, k, np.int32))
        order_ = rng.permutation(n)
        splits[split] = {"x": np.concatenate(xs)[order_].astype(np.int32),
                         "label": np.concatenate(labels)[order_]}
    info = DatasetInfo(
        kind="text", event_shape=(length,), num_classes=num_components,
        vocab=tuple(str(i) for i in range(vocab_size)),
        description=f"{name}: equal mixture of {num_components} Markov sources {options}; "
                    f"label = component")
    return Dataset(name, splits["train"], splits["test"], info)
