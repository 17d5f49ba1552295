"""Synthetic data with known structure: sources, targets and simulators.

* :mod:`.sources`: Markov and hidden-Markov token sources with exact metrics against them;
* :mod:`.targets`: unnormalized continuous targets (Gaussian mixtures, phi^4 lattice);
* :mod:`.ising`: Ising models on small periodic lattices, exact by enumeration;
* :mod:`.graphs`: small synthetic graph datasets (community, grid, SBM).
"""
