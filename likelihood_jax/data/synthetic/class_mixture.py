"""A class-conditional 2D Gaussian mixture on a circle (DLSM's toy data [P156]).

``num_components`` equal-weight isotropic Gaussians with standard deviation ``std``, their
means evenly spaced on the circle of radius ``radius``:

    mu_k = radius (cos(2 pi k / K), sin(2 pi k / K)),   x | k ~ N(mu_k, std^2 I),

component ``k`` belonging to class ``k % num_classes``. Its diffused class-conditional score
is analytic (``diffused_gaussian_mixture_log_prob`` of
:mod:`likelihood_jax.continuous_time.conditional_score` on :func:`gmm_parameters`).

Registered as the dataset ``gmm_circle`` (:func:`load_gmm_circle`): ``x`` ``(N, 2)`` float32
and ``label`` int32; train and test rows come one after the other from one numpy generator
seeded with ``seed``.
"""

from __future__ import annotations

import numpy as np

from likelihood_jax import data as data_lib


def gmm_parameters(num_components: int, num_classes: int, radius: float, std: float
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(weights (K,), means (K, 2), covariances (K, 2, 2), component_labels (K,))``.

    Raises:
      ValueError: ``num_components < 1``, ``num_classes`` not in ``1..num_components`` or
        ``std <= 0``.
    """
    if num_components < 1:
        raise ValueError(f"num_components must be >= 1, got {num_components}")
    if not 1 <= num_classes <= num_components:
        raise ValueError(f"num_classes must be in 1..num_components={num_components}, got "
                         f"{num_classes}")
    if std <= 0:
        raise ValueError(f"std must be positive, got {std}")
    angles = 2.0 * np.pi * np.arange(num_components) / num_components
    means = radius * np.stack([np.cos(angles), np.sin(angles)], -1)
    covs = np.stack([std**2 * np.eye(2)] * num_components)
    weights = np.full(num_components, 1.0 / num_components)
    labels = np.arange(num_components) % num_classes
    return (weights.astype(np.float32), means.astype(np.float32), covs.astype(np.float32),
            labels.astype(np.int32))


def load_gmm_circle(name: str, data_dir: str | None = None, num_components: int = 8,
                    num_classes: int = 2, radius: float = 2.0, std: float = 0.3,
                    num_train: int = 50000, num_test: int = 2000,
                    seed: int = 0) -> data_lib.Dataset:
    """Samples ``x`` ``(N, 2)`` and ``label`` of the mixture (train first, then test).

    ``data_dir`` is ignored (the rows are drawn from ``seed``, nothing is stored).
    """
    del data_dir
    num_components, num_classes = int(num_components), int(num_classes)
    weights, means, _, labels = gmm_parameters(num_components, num_classes, float(radius),
                                               float(std))
    rng = np.random.default_rng(int(seed))

    def split(n):
        comp = rng.choice(num_components, size=int(n), p=weights)
        x = means[comp] + std * rng.normal(size=(int(n), 2))
        return {"x": x.astype(np.float32), "label": labels[comp]}

    train = split(num_train)
    test = split(num_test)
    return data_lib.Dataset(name, train, test, data_lib.DatasetInfo(
        kind="continuous", event_shape=(2,), num_classes=num_classes,
        description=f"{num_components} Gaussians (std {std}) on a circle of radius {radius}, "
                    f"component k in class k % {num_classes}"))
