"""Synthetic data with known structure: sources, targets and simulators.

Each dataset here is registered by name in :mod:`likelihood_jax.data.loader` (loaded with
``data.load_dataset(name, **options)``, its options being the loader's keyword parameters);
the generators are pure functions of a seed, so the same options give the same arrays.

* :mod:`.sources`: Markov and hidden-Markov token sources with exact metrics against them,
  and their mixtures (``markov``, ``hmm``, ``markov_mixture``);
* :mod:`.targets`: unnormalized continuous targets (Gaussian mixtures, phi^4 lattice;
  ``grid_gaussian_mixture``);
* :mod:`.ising`: Ising models on small periodic lattices, exact by enumeration (``ising``);
* :mod:`.graphs`: small graph datasets (``community_small``, ``grid``, ``sbm``);
* :mod:`.class_mixture`: a class-conditional 2D Gaussian mixture on a circle (``gmm_circle``);
* :mod:`.federated_mixture`: clients of one Gaussian mixture with private mixing weights
  and per-component regressions (``federated_gmm``);
* :mod:`.gaussian_classes`: class-conditional Gaussians with a shared covariance, naive
  Bayes assumption held or broken (``gaussian_classes``);
* :mod:`.annotators`: digits labeled by simulated annotators of known confusion matrices,
  spammers and correlated annotators included (``digits_annotators``);
* :mod:`.heterogeneous_gmm`: three well-separated 2D clusters of unequal covariances
  (``heterogeneous_gmm``);
* :mod:`.ring_clusters`: labelled ring-shaped clusters, concentric or interlocking
  (``ring_clusters``);
* :mod:`.simulators`: the Gaussian-linear SBI simulator with exact posteriors
  (``gaussian_linear``);
* :mod:`.source_pairs`: held-out source samples paired with a target (flow matching);
* :mod:`.conditional_audio`: conditional AR(1) signals and mel-conditioned speech clips
  (``conditional_ar1``, ``speech_mel``);
* :mod:`.weak_signals`: digits with weak labeling functions and their error bounds
  (``digits_weak_signals``);
* :mod:`.label_proportions`: digits cut into bags with known label counts, for learning from
  label proportions (``digits_label_proportions``);
* :mod:`.captions`: attribute captions of synthetic scenes (``attribute_captions``);
* :mod:`.shortcut_digits`: digits with a planted shortcut feature (``shortcut_digits``);
* :mod:`.finite_domain`: a random finite teacher over ``S x A`` (``finite_domain``);
* :mod:`.instructions`: instruction sequences with a known response law (``instructions``).
* :mod:`.tagging`: tagged sequences for CRFs: HMM states, word tags of Shakespeare, BIO spans
  with an arity rule (``hmm_tagging``, ``word_tags``, ``one_span``).
* :mod:`.trajectories`: agents taking one of a few routes at a junction with known route
  probabilities, past and future positions (``route_trajectories``).
* :mod:`.rectangles`: small images of 1-3 axis-aligned rectangles with their boxes, for
  detection (``rectangles``).
* :mod:`.binary_images`: bars and stripes and thresholded digits/mnist5k for Boltzmann
  machines (``bars_and_stripes``, ``binarized_digits``).
"""
