"""Sequence-tagging datasets with known labels: ``x [N, L]`` tokens and ``tags [N, L]``.

For the linear-chain CRFs of :mod:`likelihood_jax.structured` [P068, P126]:

* ``hmm_tagging`` (:func:`load_hmm_tagging`): emissions of a random hidden Markov model
  (:func:`~likelihood_jax.data.synthetic.sources.random_hmm_source`) tagged with its hidden
  states, so the HMM's own posterior gives the best attainable accuracy;
* ``word_tags`` (:func:`load_word_tags`): windows of the ``shakespeare_char`` text, each
  character tagged by a rule: ``O`` outside words, ``B``/``I`` (begin/inside) of a word,
  typed by the case of the word's first letter (``B-cap, I-cap, B-low, I-low``);
  windows start at word starts, so the tags are a function of the window (ceiling 100%);
* ``one_span`` (:func:`load_one_span`): BIO spans of two types separated by ``O``s, exactly
  one span of type ``A`` per sequence (a non-local arity constraint), the type shown only
  by noisy cue tokens; :func:`one_span_log_emission` gives the exact ``log p(x_t | y_t)``.

Tags follow :func:`likelihood_jax.structured.regular_crf.bio_span_count_dfa` where they
are BIO: ``0`` is ``O``, ``1 + 2 t`` is ``B-t``, ``2 + 2 t`` is ``I-t``. ``info.vocab``
names the tokens; ``info.num_classes`` is the number of tags.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from likelihood_jax.data.loader import Dataset, DatasetInfo, load_dataset
from likelihood_jax.data.synthetic.sources import HMMSource, random_hmm_source

WORD_TAGS = ("O", "B-cap", "I-cap", "B-low", "I-low")
ONE_SPAN_TAGS = ("O", "B-A", "I-A", "B-B", "I-B")
ONE_SPAN_VOCAB = ("o", "e", "a", "b")  # outside, entity without cue, cue of A, cue of B


def sample_hmm_with_states(source: HMMSource, key: jax.Array, num_samples: int,
                           length: int) -> tuple[np.ndarray, np.ndarray]:
    """``(states, tokens)``, each int32 ``[num_samples, length]``, drawn from the HMM."""
    init_key, key = jax.random.split(key)
    state = jax.random.categorical(init_key, source.log_initial, shape=(num_samples,))

    def step(state, step_key):
        emit_key, move_key = jax.random.split(step_key)
        token = jax.random.categorical(emit_key, source.log_emission[state], axis=-1)
        following = jax.random.categorical(move_key, source.log_transition[state], axis=-1)
        return following, (state, token)

    _, (states, tokens) = jax.lax.scan(step, state, jax.random.split(key, length))
    return np.asarray(states.T, np.int32), np.asarray(tokens.T, np.int32)


def load_hmm_tagging(name: str, data_dir: str | None = None, *, seed: int = 0,
                     num_states: int = 4, vocab_size: int = 20,
                     transition_concentration: float = 0.5,
                     emission_concentration: float = 0.5, length: int = 16,
                     num_train: int = 2000, num_test: int = 500,
                     data_seed: int = 1) -> Dataset:
    """The ``"hmm_tagging"`` dataset: HMM emissions ``x`` and hidden states ``tags``.

    The HMM is ``random_hmm_source(seed, num_states, vocab_size, ...)``; train and test
    draws use ``split(key(data_seed))``. ``data_dir`` is ignored (nothing is written).
    """
    del data_dir
    source = random_hmm_source(seed, num_states, vocab_size,
                               transition_concentration=transition_concentration,
                               emission_concentration=emission_concentration)
    splits = []
    for key, count in zip(jax.random.split(jax.random.key(data_seed)), (num_train, num_test)):
        tags, x = sample_hmm_with_states(source, key, count, length)
        splits.append({"x": x, "tags": tags})
    info = DatasetInfo(kind="text", event_shape=(length,), num_classes=num_states,
                       vocab=tuple(str(i) for i in range(vocab_size)),
                       description=f"{name}: random HMM (seed {seed}, {num_states} states, "
                                   f"{vocab_size} tokens) emissions tagged with the states")
    return Dataset(name, splits[0], splits[1], info)


def word_tags(text: str) -> np.ndarray:
    """The rule's tags of each character of ``text`` (:data:`WORD_TAGS` indices).

    A word is a maximal run of ASCII letters; its first letter is ``B-cap`` if upper case,
    else ``B-low``, and its other letters ``I-`` of the same type; everything else is ``O``.
    """
    chars = np.frombuffer(text.encode("ascii", "replace"), np.uint8)
    letter = ((chars >= 65) & (chars <= 90)) | ((chars >= 97) & (chars <= 122))
    begins = letter & ~np.concatenate([[False], letter[:-1]])
    begin_type = np.where(chars <= 90, 1, 3)  # B-cap or B-low where a word begins
    last_begin = np.maximum.accumulate(np.where(begins, np.arange(len(chars)), 0))
    word_type = begin_type[last_begin]
    return np.where(letter, np.where(begins, word_type, word_type + 1), 0).astype(np.int32)


def load_word_tags(name: str, data_dir: str | None = None, *, length: int = 32,
                   num_train: int = 4000, num_test: int = 1000, data_seed: int = 0) -> Dataset:
    """The ``"word_tags"`` dataset: ``shakespeare_char`` windows tagged by :func:`word_tags`.

    Each split's windows of ``length`` characters start at word starts among the first
    500,000 characters of that split's text, drawn uniformly without replacement (numpy
    seed ``data_seed``, then ``data_seed + 1`` for the test split); the tags are those of
    the whole text (the window's first word starts at its first character).
    """
    text_data = load_dataset("shakespeare_char", data_dir=data_dir)
    vocab = text_data.info.vocab
    splits = []
    for offset, (tokens, count) in enumerate(((text_data.train["x"], num_train),
                                              (text_data.test["x"], num_test))):
        tokens = np.asarray(tokens[:500_000])
        tags = word_tags("".join(np.asarray(vocab, object)[tokens]))
        starts = np.flatnonzero((tags[:-length] == 1) | (tags[:-length] == 3))
        rng = np.random.default_rng(data_seed + offset)
        chosen = np.sort(rng.choice(starts, size=count, replace=False))
        windows = chosen[:, None] + np.arange(length)
        splits.append({"x": tokens[windows].astype(np.int32), "tags": tags[windows]})
    info = DatasetInfo(kind="text", event_shape=(length,), num_classes=len(WORD_TAGS),
                       vocab=vocab, description=f"{name}: shakespeare_char windows of "
                       f"{length} starting at words, tags {WORD_TAGS}")
    return Dataset(name, splits[0], splits[1], info)


def _one_span_sequence(rng: np.random.Generator, length: int, max_spans: int,
                       max_span_length: int, cue_prob: float,
                       flip_prob: float) -> tuple[np.ndarray, np.ndarray]:
    """One ``(tokens, tags)`` pair of :func:`load_one_span`."""
    while True:
        num_spans = int(rng.integers(1, max_spans + 1))
        lengths = rng.integers(1, max_span_length + 1, size=num_spans)
        free = length - int(lengths.sum()) - (num_spans - 1)
        if free >= 0:
            break
    gaps = rng.multinomial(free, np.ones(num_spans + 1) / (num_spans + 1))
    gaps[1:-1] += 1
    the_a = int(rng.integers(num_spans))
    tags = np.zeros(length, np.int32)
    position = int(gaps[0])
    for k, size in enumerate(lengths):
        begin = 1 if k == the_a else 3
        tags[position] = begin
        tags[position + 1:position + size] = begin + 1
        position += int(size) + int(gaps[k + 1])
    is_a = (tags == 1) | (tags == 2)
    cue = rng.random(length) < cue_prob
    right = rng.random(length) >= flip_prob
    tokens = np.where(tags == 0, 0, np.where(~cue, 1, np.where(is_a == right, 2, 3)))
    return tokens.astype(np.int32), tags


def one_span_log_emission(cue_prob: float, flip_prob: float) -> np.ndarray:
    """``log p(x_t | y_t)`` of :func:`load_one_span`, ``[K=5, V=4]`` (``-inf`` = never).

    ``O`` always emits ``o``; a span tag emits ``e`` with probability ``1 - cue_prob``, the
    cue of its own type with ``cue_prob (1 - flip_prob)`` and the other cue with
    ``cue_prob flip_prob``. Given the token pattern, every tag sequence with these
    boundaries and one ``A`` span is a priori equally likely, so ``p(y | x)`` is the
    regular-constrained CRF with these unaries (and spans never adjacent).
    """
    own, other = cue_prob * (1 - flip_prob), cue_prob * flip_prob
    table = np.array([[1.0, 0.0, 0.0, 0.0],
                      [0.0, 1 - cue_prob, own, other], [0.0, 1 - cue_prob, own, other],
                      [0.0, 1 - cue_prob, other, own], [0.0, 1 - cue_prob, other, own]])
    with np.errstate(divide="ignore"):
        return np.log(table)


def load_one_span(name: str, data_dir: str | None = None, *, length: int = 16,
                  max_spans: int = 4, max_span_length: int = 4, cue_prob: float = 0.3,
                  flip_prob: float = 0.2, num_train: int = 2000, num_test: int = 1000,
                  data_seed: int = 0) -> Dataset:
    """The ``"one_span"`` dataset: BIO spans with exactly one span of type ``A``.

    Per sequence: ``1..max_spans`` spans (uniform) of ``1..max_span_length`` tokens each
    (uniform, redrawn until they fit with one ``O`` between spans), the remaining ``O``s
    spread uniformly over the gaps, one span chosen uniformly as ``A`` and the others ``B``.
    Tokens (:data:`ONE_SPAN_VOCAB`): ``o`` under ``O``; in a span, a cue with probability
    ``cue_prob`` (the wrong type's cue with probability ``flip_prob``), else ``e``. Tags
    :data:`ONE_SPAN_TAGS`. Numpy seeds ``data_seed`` (train) and ``data_seed + 1`` (test).
    """
    del data_dir
    splits = []
    for offset, count in enumerate((num_train, num_test)):
        rng = np.random.default_rng(data_seed + offset)
        pairs = [_one_span_sequence(rng, length, max_spans, max_span_length, cue_prob,
                                    flip_prob) for _ in range(count)]
        splits.append({"x": np.stack([p[0] for p in pairs]),
                       "tags": np.stack([p[1] for p in pairs])})
    info = DatasetInfo(kind="text", event_shape=(length,), num_classes=len(ONE_SPAN_TAGS),
                       vocab=ONE_SPAN_VOCAB,
                       description=f"{name}: BIO spans, exactly one of type A (length {length},"
                                   f" cue_prob {cue_prob}, flip_prob {flip_prob})")
    return Dataset(name, splits[0], splits[1], info)


def one_span_reference(x: jax.Array, cue_prob: float, flip_prob: float
                       ) -> tuple[jax.Array, jax.Array]:
    """The exact CRF scores ``(unary [L, 5], transition [5, 5])`` of ``p(y | x)`` (one_span).

    ``unary = log p(x_t | y_t)`` (:func:`one_span_log_emission`) and ``transition`` is
    ``-inf`` from a span tag into a ``B`` (spans are never adjacent), else ``0``;
    restricted to the one-``A``-span language these give the generator's posterior.
    """
    emission = jnp.asarray(one_span_log_emission(cue_prob, flip_prob), jnp.float32)
    transition = np.zeros((5, 5), np.float32)
    transition[1:, [1, 3]] = -np.inf
    return emission[:, x].T, jnp.asarray(transition)
