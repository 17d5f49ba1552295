"""Synthetic data with known structure: sources, targets and simulators.

* :mod:`.sources`: Markov and hidden-Markov token sources with exact metrics against them;
* :mod:`.targets`: unnormalized continuous targets (Gaussian mixtures, phi^4 lattice);
* :mod:`.ising`: Ising models on small periodic lattices, exact by enumeration;
* :mod:`.graphs`: small synthetic graph datasets (community, grid, SBM).
* :mod:`.class_mixture`: a class-conditional 2D Gaussian mixture on a circle (``gmm_circle``);
* :mod:`.simulators`: the Gaussian-linear SBI simulator with exact posteriors
  (``gaussian_linear``);
* :mod:`.source_pairs`: held-out source samples paired with a target (flow matching).
* :mod:`.instructions`: instruction sequences with a known response law (``instructions``).
"""
