"""A well-separated Gaussian mixture with unequal covariances (SDP clustering [P101]).

``K = 3`` equal clusters in 2D: centers ``(0, 0)``, ``(separation, 0)``, ``(0, separation)``
with covariances ``diag(s^2, t^2)``, ``diag(t^2, s^2)`` and ``s t I`` (``s = long_std``,
``t = short_std``): a needle along each axis and a round blob, so the clusters differ in
shape. Registered as ``heterogeneous_gmm`` (:func:`load_heterogeneous_gmm`): ``x`` float32
``(N, 2)`` and ``label`` int32, ``num_per_cluster`` rows of each cluster per split (train,
then test, from one generator seeded with ``seed``).
"""

from __future__ import annotations

import numpy as np

from likelihood_jax import data as data_lib


def heterogeneous_gmm_parameters(separation: float, long_std: float, short_std: float
                                 ) -> tuple[np.ndarray, np.ndarray]:
    """``(means (3, 2), covariances (3, 2, 2))``."""
    if separation <= 0 or long_std <= 0 or short_std <= 0:
        raise ValueError(f"separation, long_std and short_std must be positive, got "
                         f"{separation}, {long_std}, {short_std}")
    means = np.array([[0.0, 0.0], [separation, 0.0], [0.0, separation]])
    covs = np.stack([np.diag([long_std**2, short_std**2]), np.diag([short_std**2, long_std**2]),
                     long_std * short_std * np.eye(2)])
    return means, covs


def load_heterogeneous_gmm(name: str, data_dir: str | None = None, separation: float = 6.0,
                           long_std: float = 2.0, short_std: float = 0.2,
                           num_per_cluster: int = 40, seed: int = 0) -> data_lib.Dataset:
    """Samples both splits (see the module docstring); ``data_dir`` is ignored."""
    del data_dir
    means, covs = heterogeneous_gmm_parameters(float(separation), float(long_std),
                                               float(short_std))
    rng = np.random.default_rng(int(seed))

    def split():
        label = np.repeat(np.arange(3), int(num_per_cluster))
        noise = np.einsum("nij,nj->ni", np.linalg.cholesky(covs)[label],
                          rng.normal(size=(len(label), 2)))
        return {"x": (means[label] + noise).astype(np.float32), "label": label.astype(np.int32)}

    train = split()
    test = split()
    return data_lib.Dataset(name, train, test, data_lib.DatasetInfo(
        kind="continuous", event_shape=(2,), num_classes=3,
        description=f"3 Gaussian clusters of unequal covariances, separation {separation}"))
