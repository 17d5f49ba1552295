"""packing: best-fit-decreasing against brute force, conservation, no needless truncation,
concatenate-and-chunk layout, and packed documents kept apart by the transformer (Jacobian)."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from likelihood_jax.models.transformer import TransformerLM
from likelihood_jax.sequence import packing


def documents_from(lengths, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(1, 50, size=n).astype(np.int32) for n in lengths]


def optimal_bin_count(lengths, capacity):
    """Brute force: the fewest bins, trying every assignment of items to bins."""
    n = len(lengths)
    for k in range(1, n + 1):
        for assignment in itertools.product(range(k), repeat=n):
            loads = np.zeros(k, int)
            np.add.at(loads, np.array(assignment), lengths)
            if loads.max() <= capacity:
                return k
    return n


def test_best_fit_decreasing_is_optimal_or_within_its_bound_on_tiny_cases():
    rng = np.random.default_rng(0)
    equal = 0
    for trial in range(60):
        capacity = int(rng.integers(4, 11))
        lengths = rng.integers(1, capacity + 1, size=int(rng.integers(1, 7))).tolist()
        bins = packing.best_fit_decreasing(lengths, capacity)
        assert sorted(i for b in bins for i in b) == list(range(len(lengths)))
        assert all(sum(lengths[i] for i in b) <= capacity for b in bins)
        opt = optimal_bin_count(lengths, capacity)
        assert opt <= len(bins) <= 11 / 9 * opt + 6 / 9
        equal += len(bins) == opt
    assert equal >= 55  # BFD is almost always optimal on such tiny instances


def test_best_fit_picks_the_fullest_bin_that_fits():
    # Capacity 10: 6 -> A (4 left), 5 -> B (5 left), 4 -> A (the least room that fits), 3 -> B.
    assert packing.best_fit_decreasing([6, 5, 4, 3], 10) == [[0, 2], [1, 3]]
    assert packing.best_fit_decreasing([3, 3, 8], 10) == [[2], [0, 1]]
    with pytest.raises(ValueError, match="capacity"):
        packing.best_fit_decreasing([11], 10)
    with pytest.raises(ValueError, match="positive"):
        packing.best_fit_decreasing([1], 0)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 40), min_size=1, max_size=30), st.integers(4, 16))
def test_packings_conserve_tokens_and_best_fit_never_truncates_short_documents(lengths, window):
    docs = documents_from(lengths)
    packed = packing.best_fit_pack(docs, window, pad_id=-7)
    assert packed.tokens.shape[1] == window
    # Every token of every document, in order: reassemble each document from its row pieces.
    for i, doc in enumerate(docs):
        rebuilt = packed.tokens[packed.document_ids == i]
        np.testing.assert_array_equal(rebuilt, doc)
    assert np.sum(packed.document_ids >= 0) == sum(lengths)
    assert np.all(packed.tokens[packed.segment_ids == 0] == -7)
    truncated = packing.truncated_documents(packed.document_ids)
    assert all(lengths[i] > window for i in truncated)  # only unavoidable truncations
    long = [i for i, n in enumerate(lengths) if n > window]
    assert sorted(truncated.tolist()) == long
    # Documents that fit lie in exactly one row, as one contiguous segment.
    for i, n in enumerate(lengths):
        if n <= window:
            rows, cols = np.nonzero(packed.document_ids == i)
            assert len(set(rows)) == 1 and np.all(np.diff(cols) == 1)
            assert len(set(packed.segment_ids[rows, cols])) == 1
    # Rows hold within-capacity content, and the row count is at least the lower bound.
    assert packed.tokens.shape[0] >= -(-sum(lengths) // window)
    concat = packing.concatenate_and_chunk(docs, window, drop_last=False)
    assert np.sum(concat.document_ids >= 0) == sum(lengths)
    np.testing.assert_array_equal(concat.tokens[concat.document_ids >= 0], np.concatenate(docs))
    assert concat.tokens.shape[0] == -(-sum(lengths) // window)


def test_concatenate_and_chunk_layout_and_stats():
    docs = documents_from([5, 7, 3, 2])
    packed = packing.concatenate_and_chunk(docs, 8)  # 17 tokens -> 2 full rows, 1 dropped
    assert packed.tokens.shape == (2, 8)
    np.testing.assert_array_equal(packed.segment_ids[0], [1] * 5 + [2] * 3)
    np.testing.assert_array_equal(packed.segment_ids[1], [1] * 4 + [2] * 3 + [3])
    np.testing.assert_array_equal(packed.document_ids[1], [1] * 4 + [2] * 3 + [3])
    stats = packing.packing_stats(packed, [5, 7, 3, 2])
    assert stats["truncated"] == 2 and stats["truncated_fitting"] == 2  # docs 1 and 3
    assert stats["fill"] == 1.0 and stats["num_rows"] == 2
    best = packing.best_fit_pack(docs, 8)
    best_stats = packing.packing_stats(best, [5, 7, 3, 2])
    assert best_stats["truncated"] == 0 and best_stats["num_rows"] == 3
    with pytest.raises(ValueError, match="packing method"):
        packing.pack(docs, 8, "random")
    with pytest.raises(ValueError, match="non-empty"):
        packing.pack([np.zeros(0, int)], 8, "concat")


def test_next_token_mask():
    seg = np.array([[1, 1, 1, 2, 2, 0, 0]])
    np.testing.assert_array_equal(packing.next_token_mask(seg),
                                  [[True, True, False, True, False, False]])


def test_packed_documents_do_not_attend_across_boundaries_jacobian():
    """d logits[t] / d embedding[s] is zero whenever s is in another segment or later."""
    model = TransformerLM(vocab_size=11, num_layers=2, width=16, num_heads=2)
    tokens = jnp.array([[1, 2, 3, 4, 5, 6, 7, 8, 9]])
    seg = jnp.array([[1, 1, 1, 1, 2, 2, 3, 3, 0]])
    params = model.init(jax.random.key(0), tokens)["params"]
    params = jax.tree.map(lambda p: 3.0 * p, params)
    emb = model.apply({"params": params}, tokens, method=TransformerLM.token_embeddings)

    def logits(e):
        return model.apply({"params": params}, e, None, seg,
                           method=TransformerLM.logits_from_embeddings)[0]

    jac = jax.jit(jax.jacfwd(logits))(emb)  # [T, V, 1, T, W]
    influence = np.asarray(jnp.max(jnp.abs(jac), axis=(1, 2, 4)))  # [T(out), T(in)]
    s = np.asarray(seg[0])
    allowed = (s[:, None] == s[None, :]) & (np.arange(9)[None, :] <= np.arange(9)[:, None])
    assert np.all(influence[~allowed] == 0.0)
    assert np.all(influence[allowed] > 0.0)
    # And a packed document's logits equal those of the document alone.
    alone = model.apply({"params": params}, tokens[:, 4:6])
    packed = model.apply({"params": params}, tokens, segment_ids=seg)
    np.testing.assert_allclose(packed[:, 4:6], alone, atol=1e-5)
