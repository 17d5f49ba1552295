"""Packing variable-length documents into fixed-length training windows.

Two layouts of a list of token documents into rows of exactly ``window`` tokens:

* :func:`concatenate_and_chunk`: the usual LM pipeline. Concatenate all
  documents into one stream and cut it every ``window`` tokens. No padding, but
  every document that straddles a cut is *truncated*: its pieces land in
  different rows and the later piece is trained without its beginning.
* :func:`best_fit_pack`: Best-fit Packing [P152] of Ding, Wang, Paolini, Kumar, Deoras,
  Roth & Soatto (2024), "Fewer Truncations Improve Language Modeling" (ICML
  2024, arXiv:2404.10830). Documents longer than ``window`` are first split into
  pieces of ``window`` tokens (the only truncations, and unavoidable), then the
  pieces are packed into rows by best-fit-decreasing bin packing
  (:func:`best_fit_decreasing`): sorted by decreasing length, each goes to the
  fullest row it still fits in, or opens a new row. Every document no longer
  than the window ends up intact in exactly one row; the few leftover slots are
  padding, and the number of rows stays close to that of concatenation.

Both return a :class:`Packed` with per-token ``segment_ids`` (1, 2, ... for the
documents of a row in order, 0 for padding), so that a model can keep packed
documents apart: :class:`likelihood_jax.models.transformer.TransformerLM`
accepts ``segment_ids`` and lets a token attend only within its segment, with
positions restarting at each segment. :func:`next_token_mask` marks the
next-token targets that stay inside one document. All functions here are
host-side numpy (the data pipeline), not jitted.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np

PAD = 0  # the segment id of padding


class Packed(NamedTuple):
    """Documents laid out in rows of ``window`` tokens.

    Attributes:
      tokens: ``[N, window]`` int32 token ids (``pad_id`` on padding).
      segment_ids: ``[N, window]`` int32; within a row the documents (or document
        pieces) are numbered 1, 2, ... in order; 0 marks padding.
      document_ids: ``[N, window]`` int32 index of the source document of every
        token, -1 on padding.
    """

    tokens: np.ndarray
    segment_ids: np.ndarray
    document_ids: np.ndarray


def _as_documents(documents: Sequence[np.ndarray]) -> list[np.ndarray]:
    docs = [np.asarray(d) for d in documents]
    for i, d in enumerate(docs):
        if d.ndim != 1 or len(d) == 0:
            raise ValueError(f"document {i} must be a non-empty 1-D token array, got shape "
                             f"{d.shape}")
    return docs


def _check_window(window: int) -> int:
    if int(window) < 1:
        raise ValueError(f"window must be a positive number of tokens, got {window}")
    return int(window)


def chunk_documents(documents: Sequence[np.ndarray], max_len: int
                    ) -> tuple[list[np.ndarray], list[int]]:
    """Splits every document longer than ``max_len`` into consecutive pieces of ``max_len``.

    Args:
      documents: 1-D token arrays.
      max_len: the longest piece (the window).

    Returns:
      ``(pieces, owners)``: the pieces in document order (a document of length
      ``n`` gives ``ceil(n / max_len)`` pieces, all full but the last) and the
      index of the document each piece came from.
    """
    max_len = _check_window(max_len)
    pieces, owners = [], []
    for i, doc in enumerate(_as_documents(documents)):
        for start in range(0, len(doc), max_len):
            pieces.append(doc[start:start + max_len])
            owners.append(i)
    return pieces, owners


def best_fit_decreasing(lengths: Sequence[int], capacity: int) -> list[list[int]]:
    """Best-fit-decreasing bin packing of items with the given lengths.

    Items are taken in order of decreasing length (ties by index); each goes into
    the open bin with the *least* remaining capacity that still holds it, or
    opens a new bin. BFD uses at most ``11/9 OPT + 6/9`` bins (Dosa 2007) and is
    usually optimal or one bin off for many small items. Cost: a sort plus, per
    item, one search over the ``capacity + 1`` possible remaining capacities
    (``O(n log n + n * capacity)`` with numpy; the paper uses a segment tree for
    ``O(n log capacity)``).

    Args:
      lengths: positive item sizes, each at most ``capacity``.
      capacity: the bin size (the window length).

    Returns:
      Bins as lists of item indices, in the order the bins were opened; within a
      bin, in the order the items were placed (decreasing length).

    Raises:
      ValueError: an item is empty or larger than ``capacity``.
    """
    capacity = _check_window(capacity)
    lengths = np.asarray(lengths, dtype=np.int64)
    if lengths.size and (lengths.min() < 1 or lengths.max() > capacity):
        raise ValueError(f"item lengths must lie in [1, capacity={capacity}], got "
                         f"[{lengths.min()}, {lengths.max()}]; chunk longer documents first")
    order = np.argsort(-lengths, kind="stable")
    bins: list[list[int]] = []
    by_remaining: list[list[int]] = [[] for _ in range(capacity + 1)]  # remaining -> open bins
    open_with = np.zeros(capacity + 1, bool)  # open_with[r]: some open bin has r slots left
    for item in order:
        size = int(lengths[item])
        candidates = open_with[size:]
        r = size + int(np.argmax(candidates)) if candidates.any() else -1
        if r < 0:
            bins.append([int(item)])
            b, left = len(bins) - 1, capacity - size
        else:
            b = by_remaining[r].pop()
            open_with[r] = bool(by_remaining[r])
            bins[b].append(int(item))
            left = r - size
        if left > 0:
            by_remaining[left].append(b)
            open_with[left] = True
    return bins


def _layout(rows: list[list[tuple[np.ndarray, int]]], window: int, pad_id: int) -> Packed:
    n = len(rows)
    tokens = np.full((n, window), pad_id, np.int32)
    segment_ids = np.zeros((n, window), np.int32)
    document_ids = np.full((n, window), -1, np.int32)
    for r, row in enumerate(rows):
        pos = 0
        for s, (piece, owner) in enumerate(row, start=1):
            end = pos + len(piece)
            tokens[r, pos:end] = piece
            segment_ids[r, pos:end] = s
            document_ids[r, pos:end] = owner
            pos = end
    return Packed(tokens, segment_ids, document_ids)


def concatenate_and_chunk(documents: Sequence[np.ndarray], window: int, *,
                          pad_id: int = 0, drop_last: bool = True) -> Packed:
    """Concatenates the documents and cuts the stream into rows of ``window`` tokens.

    Args:
      documents: 1-D token arrays, in the order they are concatenated.
      window: tokens per row.
      pad_id: the token that fills the last row when it is kept.
      drop_last: drop the incomplete last row (the usual choice) or pad it.

    Returns:
      The :class:`Packed` rows; a document cut by a row boundary continues as
      segment 1 of the next row.
    """
    window = _check_window(window)
    rows: list[list[tuple[np.ndarray, int]]] = [[]]
    room = window
    for i, doc in enumerate(_as_documents(documents)):
        start = 0
        while start < len(doc):
            if room == 0:
                rows.append([])
                room = window
            piece = doc[start:start + room]
            rows[-1].append((piece, i))
            room -= len(piece)
            start += len(piece)
    if room and drop_last:
        rows.pop()
    return _layout(rows, window, pad_id)


def best_fit_pack(documents: Sequence[np.ndarray], window: int, *, pad_id: int = 0) -> Packed:
    """Best-fit Packing (Ding et al. 2024): chunk at ``window``, then best-fit-decreasing.

    Args:
      documents: 1-D token arrays.
      window: tokens per row (the bin capacity).
      pad_id: the token of the leftover slots.

    Returns:
      The :class:`Packed` rows: every document of at most ``window`` tokens lies
      intact in one row; longer ones are split into ``window``-token pieces (plus
      a remainder) only.
    """
    pieces, owners = chunk_documents(documents, window)
    bins = best_fit_decreasing([len(p) for p in pieces], window)
    rows = [[(pieces[i], owners[i]) for i in b] for b in bins]
    return _layout(rows, window, pad_id)


def pack(documents: Sequence[np.ndarray], window: int, method: str, *,
         pad_id: int = 0) -> Packed:
    """Packs with ``method="best_fit"`` (:func:`best_fit_pack`) or ``"concat"``.

    ``"concat"`` is :func:`concatenate_and_chunk` (incomplete last row dropped).
    """
    if method == "best_fit":
        return best_fit_pack(documents, window, pad_id=pad_id)
    if method == "concat":
        return concatenate_and_chunk(documents, window, pad_id=pad_id)
    raise ValueError(f"unknown packing method {method!r}; choose 'best_fit' or 'concat'")


def truncated_documents(document_ids: np.ndarray,
                        document_lengths: Sequence[int] | None = None) -> np.ndarray:
    """Indices of the documents that do not lie intact in a single row.

    Args:
      document_ids: ``[N, window]`` from a :class:`Packed` (-1 = padding).
      document_lengths: optional true lengths; with them, a document that appears
        in one row but with tokens missing (e.g. in a dropped last row) also
        counts as truncated.

    Returns:
      Sorted indices of the truncated documents among those present.
    """
    rows = np.repeat(np.arange(document_ids.shape[0]), document_ids.shape[1])
    docs = document_ids.reshape(-1)
    keep = docs >= 0
    pairs = np.unique(np.stack([docs[keep], rows[keep]], 1), axis=0)
    ids, num_rows = np.unique(pairs[:, 0], return_counts=True)
    truncated = num_rows > 1
    if document_lengths is not None:
        present = np.bincount(docs[keep], minlength=len(document_lengths))[ids]
        truncated |= present < np.asarray(document_lengths)[ids]
    return ids[truncated]


def packing_stats(packed: Packed, document_lengths: Sequence[int]) -> dict[str, float]:
    """Rows, fill rate and truncations of a packing.

    Returns:
      ``num_rows``; ``fill`` (fraction of non-padding tokens); ``truncated``
      (documents present but not intact in one row, :func:`truncated_documents`);
      ``truncated_fitting`` (of those, the documents no longer than the window:
      needless truncations); ``truncated_fraction`` (``truncated`` over the
      documents present).
    """
    window = packed.tokens.shape[1]
    lengths = np.asarray(document_lengths)
    split = truncated_documents(packed.document_ids, lengths)
    present = np.unique(packed.document_ids[packed.document_ids >= 0])
    return {
        "num_rows": float(packed.tokens.shape[0]),
        "fill": float(np.mean(packed.segment_ids != PAD)),
        "truncated": float(len(split)),
        "truncated_fitting": float(np.sum(lengths[split] <= window)),
        "truncated_fraction": float(len(split) / max(len(present), 1)),
    }


def next_token_mask(segment_ids: np.ndarray):
    """``[..., T-1]`` mask of next-token targets that stay inside one document.

    For inputs ``tokens[..., :-1]`` and targets ``tokens[..., 1:]``, target ``t``
    counts when it is not padding and belongs to the same segment as its input.
    Works on numpy and jax arrays.
    """
    current, following = segment_ids[..., :-1], segment_ids[..., 1:]
    return (following == current) & (following != PAD)
