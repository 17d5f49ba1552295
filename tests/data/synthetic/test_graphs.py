"""likelihood_jax.data.synthetic.graphs: datasets, statistics on graphs with known values, MMD."""

import itertools
import math

import numpy as np
import pytest

from likelihood_jax.data.synthetic import graphs
from likelihood_jax.metrics import graphs as graph_metrics


def cycle(n):
    adj = np.zeros((n, n), np.int64)
    idx = np.arange(n)
    adj[idx, (idx + 1) % n] = adj[(idx + 1) % n, idx] = 1
    return adj


def complete(n):
    return np.ones((n, n), np.int64) - np.eye(n, dtype=np.int64)


def star(leaves):
    adj = np.zeros((leaves + 1, leaves + 1), np.int64)
    adj[0, 1:] = adj[1:, 0] = 1
    return adj


def from_edges(n, edges):
    adj = np.zeros((n, n), np.int64)
    for i, j in edges:
        adj[i, j] = adj[j, i] = 1
    return adj


def expected_orbits(n, per_node):
    out = np.zeros((n, graph_metrics.NUM_ORBITS), np.int64)
    for node, orbits in per_node.items():
        for orbit, count in orbits.items():
            out[node, orbit] = count
    return out


def test_cycle_statistics():
    adj = cycle(6)
    np.testing.assert_array_equal(graph_metrics.degree_histogram(adj), [0, 0, 6])
    hist = graph_metrics.clustering_histogram(adj)
    assert hist[0] == 6 and hist.sum() == 6
    # Every node: degree 2, end of 2 and centre of 1 induced 3-paths, end of 2 and middle of
    # 2 induced 4-paths (the 6 runs of 4 consecutive nodes), nothing else.
    want = expected_orbits(6, {i: {0: 2, 1: 2, 2: 1, 4: 2, 5: 2} for i in range(6)})
    np.testing.assert_array_equal(graph_metrics.orbit_counts(adj), want)
    np.testing.assert_array_equal(graph_metrics.orbit_counts(cycle(4))[:, 8], [1, 1, 1, 1])


def test_complete_graph_statistics():
    n = 5
    adj = complete(n)
    np.testing.assert_array_equal(graph_metrics.degree_histogram(adj), [0, 0, 0, 0, 5])
    np.testing.assert_allclose(graph_metrics.clustering_coefficients(adj), np.ones(n))
    assert graph_metrics.clustering_histogram(adj)[-1] == n
    want = expected_orbits(n, {i: {0: n - 1, 3: math.comb(n - 1, 2), 14: math.comb(n - 1, 3)}
                               for i in range(n)})
    np.testing.assert_array_equal(graph_metrics.orbit_counts(adj), want)


def test_star_statistics():
    k = 5
    adj = star(k)
    np.testing.assert_array_equal(graph_metrics.degree_histogram(adj), [0, k, 0, 0, 0, 1])
    np.testing.assert_array_equal(graph_metrics.clustering_coefficients(adj), np.zeros(k + 1))
    per_node = {0: {0: k, 2: math.comb(k, 2), 7: math.comb(k, 3)}}
    per_node.update({i: {0: 1, 1: k - 1, 6: math.comb(k - 1, 2)} for i in range(1, k + 1)})
    np.testing.assert_array_equal(graph_metrics.orbit_counts(adj), expected_orbits(k + 1, per_node))


def test_paw_and_diamond_orbits():
    paw = from_edges(4, [(0, 1), (1, 2), (0, 2), (2, 3)])
    counts = graph_metrics.orbit_counts(paw)
    assert counts[3, 9] == 1 and counts[0, 10] == counts[1, 10] == 1 and counts[2, 11] == 1
    assert counts[:, 4:].sum() == 4
    diamond = complete(4)
    diamond[0, 1] = diamond[1, 0] = 0
    counts = graph_metrics.orbit_counts(diamond)
    np.testing.assert_array_equal(counts[:, 12], [1, 1, 0, 0])
    np.testing.assert_array_equal(counts[:, 13], [0, 0, 1, 1])
    assert counts[:, 4:].sum() == 4


def brute_force_orbit_totals(adj):
    """Sum over nodes of orbits 4..14 by networkx-free isomorphism-class counting."""
    n = adj.shape[0]
    totals = np.zeros(graph_metrics.NUM_ORBITS, np.int64)
    for sub in itertools.combinations(range(n), 4):
        block = adj[np.ix_(sub, sub)]
        # connectivity by matrix powers
        reach = np.linalg.matrix_power(block + np.eye(4, dtype=np.int64), 3)
        if not np.all(reach > 0):
            continue
        edges = block.sum() // 2
        degs = tuple(sorted(block.sum(1)))
        orbit_of = graph_metrics._GRAPHLET_ORBITS[(edges, degs)]
        for d in block.sum(1):
            totals[orbit_of[d]] += 1
    return totals


def test_orbits_and_clustering_on_random_graphs_against_independent_counts():
    nx = pytest.importorskip("networkx")
    rng = np.random.default_rng(3)
    upper = np.triu(rng.random((11, 11)) < 0.4, 1)
    adj = (upper | upper.T).astype(np.int64)
    counts = graph_metrics.orbit_counts(adj)
    np.testing.assert_array_equal(counts[:, 4:].sum(0), brute_force_orbit_totals(adj)[4:])
    g = nx.from_numpy_array(adj)
    np.testing.assert_allclose(graph_metrics.clustering_coefficients(adj),
                               [nx.clustering(g)[i] for i in range(11)])
    np.testing.assert_array_equal(counts[:, 3], [nx.triangles(g)[i] for i in range(11)])
    # Orbit 2 + orbit 3 = C(d, 2); the induced 3-paths seen from both ends and the centre.
    deg = adj.sum(1)
    np.testing.assert_array_equal(counts[:, 2] + counts[:, 3], deg * (deg - 1) // 2)
    assert counts[:, 1].sum() == 2 * counts[:, 2].sum()
    # Each induced 4-path has 2 ends and 2 middles; each claw 3 leaves and 1 centre.
    assert counts[:, 4].sum() == counts[:, 5].sum()
    assert counts[:, 6].sum() == 3 * counts[:, 7].sum()


def test_mmd_zero_for_identical_sets_positive_otherwise():
    a = [cycle(6), cycle(8), star(4)]
    b = [complete(5), complete(6), cycle(5)]
    for kernel in ("emd", "tv"):
        same = graph_metrics.graph_mmds(a, a, kernel=kernel)
        assert all(v == pytest.approx(0.0, abs=1e-12) for v in same.values()), same
        diff = graph_metrics.graph_mmds(a, b, kernel=kernel)
        assert all(v > 1e-3 for v in diff.values()), diff


def test_mmd_of_single_histograms_has_the_closed_form():
    # Degree histograms of C_6 ([0,0,1] normalized) and K_5 ([0,0,0,0,1]): EMD = 2.
    x, y = graph_metrics.degree_histogram(cycle(6)), graph_metrics.degree_histogram(complete(5))
    mmd = graph_metrics.mmd
    assert mmd([x], [y], "gaussian_emd", sigma=1.0) == pytest.approx(2 - 2 * np.exp(-2))
    assert mmd([x], [y], "gaussian_tv", sigma=1.0) == pytest.approx(2 - 2 * np.exp(-0.5))
    with pytest.raises(ValueError, match="unknown MMD kernel"):
        graph_metrics.mmd([x], [y], "laplace")


def test_community_small_matches_graphrnn_recipe():
    gs = graphs.community_small(50, seed=0)
    again = graphs.community_small(50, seed=0)
    assert all(np.array_equal(g, h) for g, h in zip(gs, again))
    for g in gs:
        n = g.shape[0]
        assert 12 <= n <= 20 and n % 2 == 0
        np.testing.assert_array_equal(g, g.T)
        assert np.all(np.diag(g) == 0)
        c = n // 2
        assert g[:c, c:].sum() >= 1  # the communities touch
    intra = np.mean([g[:g.shape[0] // 2, :g.shape[0] // 2].sum() /
                     (g.shape[0] // 2 * (g.shape[0] // 2 - 1)) for g in gs])
    assert intra == pytest.approx(0.7, abs=0.05)


def test_grid_and_sbm_graphs():
    for g in graphs.grid_graphs(20, seed=1):
        deg = g.sum(1)
        assert deg.max() <= 4 and deg.min() == 2
        assert np.sum(deg == 2) == 4  # the four corners
        n = g.shape[0]
        # r (c - 1) + c (r - 1) edges for some r, c in [4, 6] with r c = n.
        edges = g.sum() // 2
        assert any(r * c == n and edges == r * (c - 1) + c * (r - 1)
                   for r in range(4, 7) for c in range(4, 7))
    for g in graphs.sbm_graphs(5, seed=2):
        assert g.shape == (18, 18)
        np.testing.assert_array_equal(g, g.T)
    with pytest.raises(ValueError, match="unknown graph dataset"):
        graphs.make_dataset("ego", 3, 0)


def test_pad_and_unpad_roundtrip():
    gs = [cycle(5), star(3), complete(6)]
    adj, mask = graphs.pad_graphs(gs, max_nodes=8)
    assert adj.shape == (3, 8, 8) and mask.shape == (3, 8)
    np.testing.assert_array_equal(mask.sum(1), [5, 4, 6])
    back = graphs.unpad_graphs(adj, mask)
    assert all(np.array_equal(g, h) for g, h in zip(gs, back))
    with pytest.raises(ValueError, match="max_nodes"):
        graphs.pad_graphs(gs, max_nodes=5)
    with pytest.raises(ValueError, match="square"):
        graph_metrics.degree_histogram(np.zeros((2, 3)))


def test_registered_graph_datasets_pad_the_generated_graphs():
    from likelihood_jax import data

    ds = data.load_dataset("grid", num_train=6, num_test=3, seed=4, min_side=2, max_side=3)
    train = graphs.grid_graphs(6, 4, min_side=2, max_side=3)
    test = graphs.grid_graphs(3, 5, min_side=2, max_side=3)
    m = max(g.shape[0] for g in train + test)
    assert ds.info.event_shape == (m, m)
    assert ds.train["x"].shape == (6, m, m) and ds.test["node_mask"].shape == (3, m)
    for padded, mask, raw in zip(ds.test["x"], ds.test["node_mask"], test):
        n = raw.shape[0]
        np.testing.assert_array_equal(padded[:n, :n], raw)
        assert padded[n:].sum() == 0 and mask.sum() == n
    sbm = data.load_dataset("sbm", num_train=2, num_test=2, block_sizes=(3, 3))
    assert sbm.train["x"].shape == (2, 6, 6)
    community = data.load_dataset("community_small", num_train=3, num_test=2)
    assert community.name == "community_small"
    with pytest.raises(ValueError, match="num_test must be >= 1"):
        graphs.load_graphs("grid", num_test=0)
    with pytest.raises(ValueError, match="unknown graph dataset"):
        graphs.load_graphs("lattice")
