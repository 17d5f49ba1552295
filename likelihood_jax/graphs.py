r"""Small synthetic graph datasets, graph statistics and MMD between sets of graphs.

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

Statistics (per graph, over its real nodes; GraphRNN/GDSS conventions):

* :func:`degree_histogram` — counts of each degree ``0..max``.
* :func:`clustering_histogram` — histogram (``bins`` equal bins on ``[0, 1]``) of the
  local clustering coefficients ``c_i = t_i / C(d_i, 2)`` (0 for ``d_i < 2``),
  ``t_i`` = triangles through node ``i``.
* :func:`orbit_counts` — the 15 node orbits of all connected graphlets with 2–4 nodes,
  in ORCA's numbering (Hočevar & Demšar 2014): 0 edge end (degree); 1/2 end/centre of an
  induced 3-path; 3 triangle; 4/5 end/middle of an induced 4-path; 6/7 leaf/centre of a
  claw; 8 4-cycle; 9/10/11 pendant / degree-2 / degree-3 node of a paw; 12/13 degree-2 /
  degree-3 node of a diamond; 14 ``K_4``. Orbits 0–3 come from ``A`` and ``A^2``; orbits
  4–14 by brute force over every 4-node subset (vectorized; ``C(n, 4)`` subsets, fine for
  ``n <= 40``). :func:`orbit_feature` is GraphRNN's graph-level feature: the counts summed
  over nodes and divided by the number of nodes.

MMD (:func:`mmd`): the biased estimator of the squared MMD, ``mean k(x, x') + mean
k(y, y') - 2 mean k(x, y)`` over all pairs (diagonal included), which is what
GraphRNN/GDSS/GruM report as "MMD". Kernels:

* ``"gaussian_emd"`` (GraphRNN, GDSS for community-small/ego): histograms normalized to sum
  1, zero-padded to a common length, ``EMD = sum_k |F_x(k) - F_y(k)| / distance_scaling``
  (the 1D earth mover's distance with ground distance ``|i - j| / distance_scaling``),
  ``k = exp(-EMD^2 / (2 sigma^2))``;
* ``"gaussian_tv"`` (SPECTRE, GruM's general-graph tables): ``TV = sum |x - y| / 2`` of the
  normalized histograms, ``k = exp(-TV^2 / (2 sigma^2))``;
* ``"gaussian"`` (orbits, unnormalized vectors): ``k = exp(-|x - y|^2 / (2 sigma^2))``.

:func:`graph_mmds` applies the GraphRNN/GDSS settings: degree — Gaussian-EMD, ``sigma = 1``;
clustering — 100 bins, Gaussian-EMD, ``sigma = 0.1``, ``distance_scaling = 100``; orbits —
Gaussian on the orbit feature, ``sigma = 30``; ``kernel="tv"`` switches degree and
clustering to Gaussian-TV (same sigmas).
"""

from __future__ import annotations

import itertools

import numpy as np

# -- Datasets --------------------------------------------------------------------------------


def _check_adjacency(adj) -> np.ndarray:
    adj = np.asarray(adj)
    if adj.ndim != 2 or adj.shape[0] != adj.shape[1]:
        raise ValueError(f"an adjacency matrix must be square (n, n), got shape {adj.shape}")
    return (adj > 0.5).astype(np.int64) * (1 - np.eye(adj.shape[0], dtype=np.int64))


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


def pad_graphs(graphs, max_nodes: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Stacks graphs into ``(N, M, M)`` float32 adjacency and an ``(N, M)`` node mask.

    Args:
      graphs: adjacency matrices of (possibly) different sizes.
      max_nodes: padded size (default: the largest graph); smaller raises ValueError.

    Returns:
      ``(adj, mask)``: real nodes first, padded rows/columns zero, mask 1 on real nodes.
    """
    graphs = [_check_adjacency(g) for g in graphs]
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


# -- Statistics ------------------------------------------------------------------------------


def degree_histogram(adj) -> np.ndarray:
    """Counts of nodes with degree ``0, 1, ..., max degree`` (``nx.degree_histogram``)."""
    adj = _check_adjacency(adj)
    return np.bincount(adj.sum(1), minlength=1).astype(np.float64)


def triangles(adj) -> np.ndarray:
    """Triangles through each node, ``(A^3)_ii / 2``."""
    adj = _check_adjacency(adj)
    return np.einsum("ij,jk,ki->i", adj, adj, adj) // 2


def clustering_coefficients(adj) -> np.ndarray:
    """Local clustering ``t_i / C(d_i, 2)`` (0 where ``d_i < 2``), as networkx."""
    adj = _check_adjacency(adj)
    deg = adj.sum(1)
    pairs = deg * (deg - 1) / 2
    return np.where(pairs > 0, triangles(adj) / np.maximum(pairs, 1), 0.0)


def clustering_histogram(adj, bins: int = 100) -> np.ndarray:
    """Histogram of the local clustering coefficients on ``bins`` equal bins of ``[0, 1]``."""
    hist, _ = np.histogram(clustering_coefficients(adj), bins=bins, range=(0.0, 1.0))
    return hist.astype(np.float64)


# (edge count, sorted degree sequence) of each connected 4-node graphlet -> orbit by degree.
_GRAPHLET_ORBITS = {
    (3, (1, 1, 2, 2)): {1: 4, 2: 5},             # path P4
    (3, (1, 1, 1, 3)): {1: 6, 3: 7},             # claw (star)
    (4, (2, 2, 2, 2)): {2: 8},                   # 4-cycle
    (4, (1, 2, 2, 3)): {1: 9, 2: 10, 3: 11},     # paw (tailed triangle)
    (5, (2, 2, 3, 3)): {2: 12, 3: 13},           # diamond
    (6, (3, 3, 3, 3)): {3: 14},                  # K4
}

NUM_ORBITS = 15


def orbit_counts(adj) -> np.ndarray:
    """Per-node counts of the 15 graphlet orbits with 2–4 nodes (ORCA numbering).

    Orbits 0–3 in closed form: ``o0 = d``, ``o3 = t`` (triangles), ``o2 = C(d, 2) - t``
    (centre of an induced 3-path), ``o1 = sum_{j ~ i} (d_j - 1) - 2 t`` (end of one).
    Orbits 4–14 by enumerating every 4-node subset, keeping the connected induced
    subgraphs and assigning each node its orbit from the graphlet's (edge count, degree
    sequence) and its own degree inside it. Cost ``O(C(n, 4))``.

    Args:
      adj: ``(n, n)`` 0/1 symmetric adjacency.

    Returns:
      ``(n, 15)`` int64 counts.
    """
    adj = _check_adjacency(adj)
    n = adj.shape[0]
    out = np.zeros((n, NUM_ORBITS), np.int64)
    deg = adj.sum(1)
    tri = triangles(adj)
    out[:, 0] = deg
    out[:, 1] = np.maximum(adj @ np.maximum(deg - 1, 0) - 2 * tri, 0)
    out[:, 2] = deg * (deg - 1) // 2 - tri
    out[:, 3] = tri
    if n < 4:
        return out
    subsets = np.array(list(itertools.combinations(range(n), 4)), np.int64)
    for start in range(0, len(subsets), 200_000):
        sub = subsets[start:start + 200_000]
        block = adj[sub[:, :, None], sub[:, None, :]]        # (S, 4, 4)
        local_deg = block.sum(2)                              # (S, 4)
        edges = local_deg.sum(1) // 2
        signature = np.sort(local_deg, axis=1)
        for (num_edges, degs), orbit_of in _GRAPHLET_ORBITS.items():
            hit = (edges == num_edges) & np.all(signature == np.array(degs), axis=1)
            if not hit.any():
                continue
            nodes, d = sub[hit].ravel(), local_deg[hit].ravel()
            for local, orbit in orbit_of.items():
                np.add.at(out[:, orbit], nodes[d == local], 1)
    return out


def orbit_feature(adj) -> np.ndarray:
    """GraphRNN's graph-level orbit feature: orbit counts summed over nodes / ``n``."""
    counts = orbit_counts(adj)
    return counts.sum(0) / max(counts.shape[0], 1)


# -- MMD -------------------------------------------------------------------------------------

KERNELS = ("gaussian_emd", "gaussian_tv", "gaussian")


def _pad_normalize(x: np.ndarray, y: np.ndarray):
    size = max(len(x), len(y))
    x = np.pad(np.asarray(x, np.float64), (0, size - len(x)))
    y = np.pad(np.asarray(y, np.float64), (0, size - len(y)))
    return x / max(x.sum(), 1e-12), y / max(y.sum(), 1e-12)


def kernel_value(x, y, kernel: str, sigma: float, distance_scaling: float = 1.0) -> float:
    """``k(x, y)`` for one pair of histograms/vectors (see the module docstring)."""
    if kernel == "gaussian":
        x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
        size = max(len(x), len(y))
        d2 = np.sum((np.pad(x, (0, size - len(x))) - np.pad(y, (0, size - len(y)))) ** 2)
        return float(np.exp(-d2 / (2 * sigma**2)))
    if kernel not in KERNELS:
        raise ValueError(f"unknown MMD kernel {kernel!r}; choose one of {KERNELS}")
    x, y = _pad_normalize(x, y)
    if kernel == "gaussian_emd":
        dist = np.sum(np.abs(np.cumsum(x) - np.cumsum(y))) / distance_scaling
    else:
        dist = 0.5 * np.sum(np.abs(x - y))
    return float(np.exp(-dist**2 / (2 * sigma**2)))


def mmd(xs, ys, kernel: str = "gaussian_emd", sigma: float = 1.0,
        distance_scaling: float = 1.0) -> float:
    """Biased squared MMD ``mean k(X, X) + mean k(Y, Y) - 2 mean k(X, Y)`` (GraphRNN's).

    Args:
      xs: list of histograms/vectors (first set).
      ys: list of histograms/vectors (second set).
      kernel: one of :data:`KERNELS`.
      sigma: kernel bandwidth.
      distance_scaling: EMD ground-distance scale (bins per unit).

    Returns:
      The MMD^2 estimate (0 for identical sets; never below 0 up to rounding, the kernels
      being positive definite on these inputs is not guaranteed for EMD, so tiny
      negatives are clipped to 0).
    """
    if len(xs) == 0 or len(ys) == 0:
        raise ValueError("mmd needs two non-empty sets")

    def mean_k(a, b):
        return np.mean([kernel_value(u, v, kernel, sigma, distance_scaling)
                        for u in a for v in b])

    return max(float(mean_k(xs, xs) + mean_k(ys, ys) - 2 * mean_k(xs, ys)), 0.0)


def graph_mmds(generated, reference, kernel: str = "emd") -> dict[str, float]:
    """Degree, clustering and orbit MMDs between two lists of adjacency matrices.

    Args:
      generated: list of adjacency matrices.
      reference: list of adjacency matrices (e.g. the test set).
      kernel: ``"emd"`` (Gaussian-EMD for degree/clustering, GraphRNN/GDSS) or ``"tv"``
        (Gaussian-TV, SPECTRE/GruM). Orbits always use the Gaussian kernel, sigma 30.

    Returns:
      ``{"degree", "clustering", "orbit"}`` MMD^2 values.
    """
    if kernel not in ("emd", "tv"):
        raise ValueError(f"unknown kernel family {kernel!r}; choose 'emd' or 'tv'")
    hist_kernel = "gaussian_emd" if kernel == "emd" else "gaussian_tv"
    gen = [_check_adjacency(g) for g in generated]
    ref = [_check_adjacency(g) for g in reference]
    return {
        "degree": mmd([degree_histogram(g) for g in gen], [degree_histogram(g) for g in ref],
                      hist_kernel, sigma=1.0),
        "clustering": mmd([clustering_histogram(g) for g in gen],
                          [clustering_histogram(g) for g in ref], hist_kernel, sigma=0.1,
                          distance_scaling=100.0),
        "orbit": mmd([orbit_feature(g) for g in gen], [orbit_feature(g) for g in ref],
                     "gaussian", sigma=30.0),
    }

