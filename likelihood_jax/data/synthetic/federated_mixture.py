"""Clients of one Gaussian mixture with private mixing weights (FedGMM's synthetic data [P065]).

``K`` shared components ``N(mu_k, Sigma_k)`` in ``D`` dimensions, each with its own linear
regression ``y = W_k^T [x; 1] + N(0, noise_std^2)`` (so the input-output relation differs by
region: covariate and concept shift together). Client ``c`` has mixing weights
``pi_c ~ Dirichlet(alpha)`` and a size drawn log-uniformly in ``[min_size, max_size]``;
its points are ``k ~ pi_c``, ``x ~ N(mu_k, Sigma_k)``, ``y`` from component ``k``.

Registered as ``federated_gmm`` (:func:`load_federated_gmm`): per split ``x (N, D)``,
``y (N, 1)`` float32, ``client (N,)`` and ``component (N,)`` int32; client ``c`` has
``sizes[c]`` train rows and ``test_size`` test rows. The true parameters are
:func:`federated_mixture_parameters` of the same options.
"""

from __future__ import annotations

import numpy as np

from likelihood_jax import data as data_lib


def federated_mixture_parameters(num_clients: int = 10, num_components: int = 3, dim: int = 2,
                                 alpha: float = 0.5, min_size: int = 10, max_size: int = 400,
                                 separation: float = 4.0, noise_std: float = 0.3,
                                 seed: int = 0) -> dict[str, np.ndarray]:
    """The true parameters of the clients and of the shared components.

    ``client_weights (C, K)``, ``sizes (C,)``, ``means (K, D)``, ``covariances (K, D, D)``,
    ``coefficients (K, D + 1, 1)``, ``noise (K, 1, 1)``. Means lie on a circle (first two
    axes) of radius ``separation``; covariances are random rotations of
    ``diag(U(0.3, 1.2))``; coefficients are standard normal.

    Raises:
      ValueError: counts below 1, ``dim < 2``, ``alpha <= 0``, sizes not
        ``1 <= min_size <= max_size``, or ``noise_std <= 0``.
    """
    if min(num_clients, num_components) < 1 or dim < 2:
        raise ValueError(f"need num_clients, num_components >= 1 and dim >= 2, got "
                         f"{num_clients}, {num_components}, {dim}")
    if alpha <= 0 or noise_std <= 0 or not 1 <= min_size <= max_size:
        raise ValueError(f"need alpha > 0, noise_std > 0 and 1 <= min_size <= max_size, got "
                         f"{alpha}, {noise_std}, {min_size}, {max_size}")
    rng = np.random.default_rng(int(seed))
    angles = 2 * np.pi * np.arange(num_components) / num_components
    means = np.zeros((num_components, dim))
    means[:, 0], means[:, 1] = separation * np.cos(angles), separation * np.sin(angles)
    covariances = []
    for _ in range(num_components):
        rotation, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
        covariances.append(rotation @ np.diag(rng.uniform(0.3, 1.2, dim)) @ rotation.T)
    sizes = np.exp(rng.uniform(np.log(min_size), np.log(max_size), num_clients))
    return {
        "client_weights": rng.dirichlet(np.full(num_components, alpha), num_clients),
        "sizes": np.round(sizes).astype(np.int64),
        "means": means, "covariances": np.stack(covariances),
        "coefficients": rng.normal(size=(num_components, dim + 1, 1)),
        "noise": np.full((num_components, 1, 1), noise_std**2),
    }


def sample_clients(truth: dict[str, np.ndarray], sizes: np.ndarray,
                   rng: np.random.Generator) -> dict[str, np.ndarray]:
    """``sizes[c]`` draws of each client ``c``: ``x``, ``y``, ``client``, ``component``."""
    clients = np.repeat(np.arange(len(sizes)), sizes)
    components = np.array([rng.choice(len(truth["means"]), p=truth["client_weights"][c])
                           for c in clients], np.int64)
    chol = np.linalg.cholesky(truth["covariances"])[components]
    x = truth["means"][components] + np.einsum("nij,nj->ni", chol,
                                               rng.normal(size=(len(clients),
                                                                truth["means"].shape[1])))
    z = np.concatenate([x, np.ones((len(x), 1))], 1)
    y = (np.einsum("ne,nef->nf", z, truth["coefficients"][components])
         + np.sqrt(truth["noise"][components, 0]) * rng.normal(size=(len(x), 1)))
    return {"x": x.astype(np.float32), "y": y.astype(np.float32),
            "client": clients.astype(np.int32), "component": components.astype(np.int32)}


def load_federated_gmm(name: str, data_dir: str | None = None, num_clients: int = 10,
                       num_components: int = 3, dim: int = 2, alpha: float = 0.5,
                       min_size: int = 10, max_size: int = 400, separation: float = 4.0,
                       noise_std: float = 0.3, test_size: int = 200,
                       seed: int = 0) -> data_lib.Dataset:
    """Train: each client's ``size`` rows; test: ``test_size`` fresh rows per client.

    ``data_dir`` is ignored (drawn from ``seed``, nothing is stored). Options as
    :func:`federated_mixture_parameters`.
    """
    del data_dir
    truth = federated_mixture_parameters(int(num_clients), int(num_components), int(dim),
                                         float(alpha), int(min_size), int(max_size),
                                         float(separation), float(noise_std), int(seed))
    rng = np.random.default_rng(int(seed) + 1)
    train = sample_clients(truth, truth["sizes"], rng)
    test = sample_clients(truth, np.full(int(num_clients), int(test_size)), rng)
    return data_lib.Dataset(name, train, test, data_lib.DatasetInfo(
        kind="continuous", event_shape=(int(dim),),
        description=f"{num_clients} clients of a {num_components}-component Gaussian mixture "
                    f"in {dim}D with Dirichlet({alpha}) mixing weights and per-component "
                    f"linear regressions of y; {min_size}..{max_size} train rows per client, "
                    f"{test_size} test rows each"))
