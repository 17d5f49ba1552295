r"""Small synthetic graph datasets (GraphRNN's community-small, grids, SBM) and padding.

Graphs are dense symmetric 0/1 adjacency matrices (numpy, no self-loops). A set of graphs
of different sizes is padded to ``max_nodes`` with a node mask (:func:`pad_graphs`).

Datasets (generated with numpy from a seed):

* :func:`community_small` — GraphRNN's "community-small" (You et al. 2018, as used by
  GDSS and GruM): ``n`` uniform in ``[12, 20]``, two communities of ``n // 2`` nodes,
  each an Erdős–Rényi graph with ``p = 0.7``; every cross pair is joined with
  probability ``p_inter = 0.05``, and if no cross edge was drawn the first nodes of the
  two communities are joined (so the communities touch).
* :func:`grid_graphs` — 2D lattice graphs ``r x c`` with ``r, c`` uniform in a small range
  (GraphRNN's "grid" uses 10..20; here 4..6 by default to fit CPU training); node order is
  shuffled.
* :func:`sbm_graphs` — a stochastic block model with a few blocks.

Their statistics and the MMD between sets of graphs are in
:mod:`likelihood_jax.metrics.graphs`.

Registered datasets (:func:`likelihood_jax.data.load_dataset`): ``community_small``,
``grid`` and ``sbm`` (:func:`load_graphs`): ``num_train`` graphs drawn with ``seed`` and
``num_test`` with ``seed + 1``, padded to the largest of them; ``x`` is the ``(N, M, M)``
adjacency and ``node_mask`` the ``(N, M)`` mask. The generator's keyword arguments are the
dataset's options (e.g. ``load_dataset("grid", min_side=3, max_side=5)``).
"""


from __future__ import annotations

import numpy as np

from likelihood_jax import data as data_lib
from likelihood_jax.metrics.graphs import check_adjacency

# -- Datasets --------------------------------------------------------------------------------


def community_small(num_graphs: int, seed: int, min_nodes: int = 12, max_nodes: int = 20,
                    p_intra: float = 0.7, p_inter: float = 0.05) -> list[np.ndarray]:
    """GraphRNN's two-community graphs (see the module docstring).

    Args:
      num_graphs: how many graphs.
      seed: numpy seed.
      min_nodes: smallest ``n`` (inclusive).
      max_nodes: largest ``n`` (inclusive); each community has ``n // 2`` nodes.
      p_intra: edge probability inside a community.
      p_inter: edge probability of each cross-community pair.

    Returns:
      A list of ``(m, m)`` int64 adjacency matrices, ``m = 2 (n // 2)``.
    """
    rng = np.random.default_rng(seed)
    graphs = []
    for _ in range(num_graphs):
        n = int(rng.integers(min_nodes, max_nodes + 1))
        c = n // 2
        adj = np.zeros((2 * c, 2 * c), np.int64)
        for block in range(2):
            sl = slice(block * c, (block + 1) * c)
            upper = np.triu(rng.random((c, c)) < p_intra, 1)
            adj[sl, sl] = upper | upper.T
        cross = rng.random((c, c)) < p_inter
        if not cross.any():
            cross[0, 0] = True
        adj[:c, c:] = cross
        adj[c:, :c] = cross.T
        graphs.append(adj)
    return graphs


def grid_graphs(num_graphs: int, seed: int, min_side: int = 4, max_side: int = 6,
                shuffle: bool = True) -> list[np.ndarray]:
    """2D lattices ``r x c``, ``r, c`` uniform in ``[min_side, max_side]``.

    Args:
      num_graphs: how many graphs.
      seed: numpy seed.
      min_side: smallest side (inclusive).
      max_side: largest side (inclusive).
      shuffle: randomly permute the node order.

    Returns:
      A list of ``(r c, r c)`` int64 adjacency matrices.
    """
    rng = np.random.default_rng(seed)
    graphs = []
    for _ in range(num_graphs):
        r, c = (int(v) for v in rng.integers(min_side, max_side + 1, size=2))
        idx = np.arange(r * c).reshape(r, c)
        adj = np.zeros((r * c, r * c), np.int64)
        for a, b in ((idx[:, :-1], idx[:, 1:]), (idx[:-1, :], idx[1:, :])):
            adj[a.ravel(), b.ravel()] = 1
            adj[b.ravel(), a.ravel()] = 1
        if shuffle:
            perm = rng.permutation(r * c)
            adj = adj[np.ix_(perm, perm)]
        graphs.append(adj)
    return graphs


def sbm_graphs(num_graphs: int, seed: int, block_sizes=(6, 6, 6), p_in: float = 0.6,
               p_out: float = 0.05) -> list[np.ndarray]:
    """Stochastic block model graphs with fixed block sizes.

    Args:
      num_graphs: how many graphs.
      seed: numpy seed.
      block_sizes: nodes per block.
      p_in: edge probability within a block.
      p_out: edge probability between blocks.

    Returns:
      A list of ``(n, n)`` int64 adjacency matrices, ``n = sum(block_sizes)``.
    """
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(block_sizes)), block_sizes)
    probs = np.where(labels[:, None] == labels[None, :], p_in, p_out)
    n = len(labels)
    graphs = []
    for _ in range(num_graphs):
        upper = np.triu(rng.random((n, n)) < probs, 1)
        graphs.append((upper | upper.T).astype(np.int64))
    return graphs


DATASETS = {"community_small": community_small, "grid": grid_graphs, "sbm": sbm_graphs}


def make_dataset(name: str, num_graphs: int, seed: int, **kwargs) -> list[np.ndarray]:
    """Graphs of the dataset ``name`` in :data:`DATASETS`."""
    if name not in DATASETS:
        raise ValueError(f"unknown graph dataset {name!r}; choose one of {sorted(DATASETS)}")
    return DATASETS[name](num_graphs, seed, **kwargs)


def load_graphs(name: str, data_dir: str | None = None, *, num_train: int = 80,
                num_test: int = 20, seed: int = 0, **options) -> data_lib.Dataset:
    """The graph dataset ``name``: padded train/test adjacency matrices and node masks.

    Train graphs are ``make_dataset(name, num_train, seed, **options)``, test graphs
    ``make_dataset(name, num_test, seed + 1, **options)``; both are padded to the largest
    graph of the two (:func:`pad_graphs`). ``data_dir`` is ignored (nothing is stored).

    Raises:
      ValueError: an unknown ``name`` or a count below 1.
    """
    del data_dir
    for field, value in (("num_train", num_train), ("num_test", num_test)):
        if int(value) < 1:
            raise ValueError(f"{field} must be >= 1, got {value}")
    train = make_dataset(name, int(num_train), int(seed), **options)
    test = make_dataset(name, int(num_test), int(seed) + 1, **options)
    max_nodes = max(g.shape[0] for g in train + test)
    train_adj, train_mask = pad_graphs(train, max_nodes)
    test_adj, test_mask = pad_graphs(test, max_nodes)
    info = data_lib.DatasetInfo(
        kind="continuous", event_shape=(max_nodes, max_nodes),
        description=f"{name}: {len(train)} train / {len(test)} test graphs (numpy, seed "
                    f"{seed}/{int(seed) + 1}), padded to {max_nodes} nodes")
    return data_lib.Dataset(name, {"x": train_adj, "node_mask": train_mask},
                            {"x": test_adj, "node_mask": test_mask}, info)


def load_community_small(name: str, data_dir: str | None = None, num_train: int = 80,
                         num_test: int = 20, seed: int = 0, min_nodes: int = 12,
                         max_nodes: int = 20, p_intra: float = 0.7,
                         p_inter: float = 0.05) -> data_lib.Dataset:
    """Registered loader of ``community_small`` (options: :func:`community_small`'s)."""
    return load_graphs(name, data_dir, num_train=num_train, num_test=num_test, seed=seed,
                       min_nodes=min_nodes, max_nodes=max_nodes, p_intra=p_intra,
                       p_inter=p_inter)


def load_grid(name: str, data_dir: str | None = None, num_train: int = 80, num_test: int = 20,
              seed: int = 0, min_side: int = 4, max_side: int = 6,
              shuffle: bool = True) -> data_lib.Dataset:
    """Registered loader of ``grid`` (options: :func:`grid_graphs`'s)."""
    return load_graphs(name, data_dir, num_train=num_train, num_test=num_test, seed=seed,
                       min_side=min_side, max_side=max_side, shuffle=shuffle)


def load_sbm(name: str, data_dir: str | None = None, num_train: int = 80, num_test: int = 20,
             seed: int = 0, block_sizes: tuple[int, ...] = (6, 6, 6), p_in: float = 0.6,
             p_out: float = 0.05) -> data_lib.Dataset:
    """Registered loader of ``sbm`` (options: :func:`sbm_graphs`'s)."""
    return load_graphs(name, data_dir, num_train=num_train, num_test=num_test, seed=seed,
                       block_sizes=tuple(block_sizes), p_in=p_in, p_out=p_out)


def pad_graphs(graphs, max_nodes: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Stacks graphs into ``(N, M, M)`` float32 adjacency and an ``(N, M)`` node mask.

    Args:
      graphs: adjacency matrices of (possibly) different sizes.
      max_nodes: padded size (default: the largest graph); smaller raises ValueError.

    Returns:
      ``(adj, mask)``: real nodes first, padded rows/columns zero, mask 1 on real nodes.
    """
    graphs = [check_adjacency(g) for g in graphs]
    largest = max(g.shape[0] for g in graphs)
    max_nodes = largest if max_nodes is None else max_nodes
    if largest > max_nodes:
        raise ValueError(f"a graph has {largest} nodes, more than max_nodes={max_nodes}")
    adj = np.zeros((len(graphs), max_nodes, max_nodes), np.float32)
    mask = np.zeros((len(graphs), max_nodes), np.float32)
    for i, g in enumerate(graphs):
        n = g.shape[0]
        adj[i, :n, :n] = g
        mask[i, :n] = 1.0
    return adj, mask


def unpad_graphs(adj, mask, threshold: float = 0.5) -> list[np.ndarray]:
    """Inverse of :func:`pad_graphs`: ``adj > threshold`` restricted to masked nodes.

    Masked nodes need not come first; the graph is the induced subgraph on them.
    """
    adj, mask = np.asarray(adj), np.asarray(mask) > 0.5
    out = []
    for a, m in zip(adj, mask):
        idx = np.flatnonzero(m)
        g = (a[np.ix_(idx, idx)] > threshold).astype(np.int64)
        g = np.triu(g, 1)
        out.append(g | g.T)
    return out
