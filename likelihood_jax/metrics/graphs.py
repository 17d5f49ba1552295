r"""Graph statistics and the MMD between sets of graphs (GraphRNN/GDSS conventions).

Graphs are dense symmetric 0/1 adjacency matrices (numpy, no self-loops); the datasets
are in :mod:`likelihood_jax.data.synthetic.graphs`.

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

from likelihood_jax import _checks


def check_adjacency(adj, *, function: str = "check_adjacency") -> np.ndarray:
    """A square 0/1 int64 adjacency matrix without self-loops (raises, naming ``function``)."""
    adj = np.asarray(adj)
    if adj.ndim != 2 or adj.shape[0] != adj.shape[1]:
        raise _checks.error(function, "adj", "a square adjacency matrix (n, n)",
                            f"shape {adj.shape}")
    return (adj > 0.5).astype(np.int64) * (1 - np.eye(adj.shape[0], dtype=np.int64))


# -- Statistics ------------------------------------------------------------------------------


def degree_histogram(adj) -> np.ndarray:
    """Counts of nodes with degree ``0, 1, ..., max degree`` (``nx.degree_histogram``)."""
    adj = check_adjacency(adj, function="degree_histogram")
    return np.bincount(adj.sum(1), minlength=1).astype(np.float64)


def triangles(adj) -> np.ndarray:
    """Triangles through each node, ``(A^3)_ii / 2``."""
    adj = check_adjacency(adj, function="triangles")
    return np.einsum("ij,jk,ki->i", adj, adj, adj) // 2


def clustering_coefficients(adj) -> np.ndarray:
    """Local clustering ``t_i / C(d_i, 2)`` (0 where ``d_i < 2``), as networkx."""
    adj = check_adjacency(adj, function="clustering_coefficients")
    deg = adj.sum(1)
    pairs = deg * (deg - 1) / 2
    return np.where(pairs > 0, triangles(adj) / np.maximum(pairs, 1), 0.0)


def clustering_histogram(adj, bins: int = 100) -> np.ndarray:
    """Histogram of the local clustering coefficients on ``bins >= 1`` equal bins of ``[0, 1]``."""
    _checks.require_integer_at_least("clustering_histogram", "bins", bins, 1)
    adj = check_adjacency(adj, function="clustering_histogram")
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
    adj = check_adjacency(adj, function="orbit_counts")
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
    counts = orbit_counts(check_adjacency(adj, function="orbit_feature"))
    return counts.sum(0) / max(counts.shape[0], 1)


# -- MMD -------------------------------------------------------------------------------------

KERNELS = ("gaussian_emd", "gaussian_tv", "gaussian")


def _pad_normalize(x: np.ndarray, y: np.ndarray):
    size = max(len(x), len(y))
    x = np.pad(np.asarray(x, np.float64), (0, size - len(x)))
    y = np.pad(np.asarray(y, np.float64), (0, size - len(y)))
    return x / max(x.sum(), 1e-12), y / max(y.sum(), 1e-12)


def _check_kernel(function: str, kernel: str, sigma: float, distance_scaling: float) -> None:
    if kernel not in KERNELS:
        raise ValueError(f"{function}: unknown MMD kernel {kernel!r}; choose one of {KERNELS}")
    _checks.require_greater(function, "sigma", sigma, 0.0)
    _checks.require_greater(function, "distance_scaling", distance_scaling, 0.0)


def kernel_value(x, y, kernel: str, sigma: float, distance_scaling: float = 1.0) -> float:
    """``k(x, y)`` for one pair of histograms/vectors (see the module docstring).

    ``kernel`` is one of :data:`KERNELS`, ``sigma > 0`` and ``distance_scaling > 0``.
    """
    _check_kernel("kernel_value", kernel, sigma, distance_scaling)
    if kernel == "gaussian":
        x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
        size = max(len(x), len(y))
        d2 = np.sum((np.pad(x, (0, size - len(x))) - np.pad(y, (0, size - len(y)))) ** 2)
        return float(np.exp(-d2 / (2 * sigma**2)))
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
      xs: list of histograms/vectors (first set), not empty.
      ys: list of histograms/vectors (second set), not empty.
      kernel: one of :data:`KERNELS`.
      sigma: kernel bandwidth, ``> 0``.
      distance_scaling: EMD ground-distance scale (bins per unit), ``> 0``.

    Returns:
      The MMD^2 estimate (0 for identical sets; never below 0 up to rounding, the kernels
      being positive definite on these inputs is not guaranteed for EMD, so tiny
      negatives are clipped to 0).
    """
    _check_kernel("mmd", kernel, sigma, distance_scaling)
    if len(xs) == 0 or len(ys) == 0:
        raise _checks.error("mmd", "xs and ys", "non-empty sets",
                            f"sizes {len(xs)} and {len(ys)}")

    def mean_k(a, b):
        return np.mean([kernel_value(u, v, kernel, sigma, distance_scaling)
                        for u in a for v in b])

    return max(float(mean_k(xs, xs) + mean_k(ys, ys) - 2 * mean_k(xs, ys)), 0.0)


def graph_mmds(generated, reference, kernel: str = "emd") -> dict[str, float]:
    """Degree, clustering and orbit MMDs between two lists of adjacency matrices.

    Args:
      generated: list of adjacency matrices, not empty.
      reference: list of adjacency matrices (e.g. the test set), not empty.
      kernel: ``"emd"`` (Gaussian-EMD for degree/clustering, GraphRNN/GDSS) or ``"tv"``
        (Gaussian-TV, SPECTRE/GruM). Orbits always use the Gaussian kernel, sigma 30.

    Returns:
      ``{"degree", "clustering", "orbit"}`` MMD^2 values.
    """
    _checks.require_option("graph_mmds", "kernel", kernel, ("emd", "tv"))
    if len(generated) == 0 or len(reference) == 0:
        raise _checks.error("graph_mmds", "generated and reference", "non-empty lists of graphs",
                            f"sizes {len(generated)} and {len(reference)}")
    hist_kernel = "gaussian_emd" if kernel == "emd" else "gaussian_tv"
    gen = [check_adjacency(g, function="graph_mmds") for g in generated]
    ref = [check_adjacency(g, function="graph_mmds") for g in reference]
    return {
        "degree": mmd([degree_histogram(g) for g in gen], [degree_histogram(g) for g in ref],
                      hist_kernel, sigma=1.0),
        "clustering": mmd([clustering_histogram(g) for g in gen],
                          [clustering_histogram(g) for g in ref], hist_kernel, sigma=0.1,
                          distance_scaling=100.0),
        "orbit": mmd([orbit_feature(g) for g in gen], [orbit_feature(g) for g in ref],
                     "gaussian", sigma=30.0),
    }

