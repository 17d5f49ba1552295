"""Class-conditional Gaussians with a shared covariance (naive Bayes vs logistic regression [P094]).

``C`` equally likely classes in ``D`` dimensions, ``x | y ~ N(mu_y, Sigma)`` with

    mu_y ~ N(0, separation^2 / D I)  (drawn once from ``param_seed``),
    Sigma = diag(s) ((1 - rho) I + rho 1 1^T) diag(s),  s_d = exp(U(-log_scale, log_scale)),

so ``correlation = rho = 0`` satisfies the naive Bayes assumption (independent features
given the class; naive Bayes with a shared variance is then the correctly specified
model) and ``rho > 0`` breaks it while the Bayes classifier stays linear (logistic
regression is still well specified). Registered as ``gaussian_classes``
(:func:`load_gaussian_classes`): ``x`` ``(N, D)`` float32 and ``label`` int32; train rows,
then test rows, from one numpy generator seeded with ``seed``.
"""

from __future__ import annotations

import numpy as np

from likelihood_jax import data as data_lib


def gaussian_classes_parameters(num_classes: int, dim: int, separation: float,
                                correlation: float, log_scale: float, param_seed: int
                                ) -> tuple[np.ndarray, np.ndarray]:
    """``(means (C, D), covariance (D, D))`` of the source.

    Raises:
      ValueError: ``num_classes < 2``, ``dim < 1``, ``separation <= 0`` or ``correlation``
        outside ``[0, 1)``.
    """
    if num_classes < 2:
        raise ValueError(f"num_classes must be >= 2, got {num_classes}")
    if dim < 1:
        raise ValueError(f"dim must be >= 1, got {dim}")
    if separation <= 0:
        raise ValueError(f"separation must be positive, got {separation}")
    if not 0.0 <= correlation < 1.0:
        raise ValueError(f"correlation must lie in [0, 1), got {correlation}")
    rng = np.random.default_rng(int(param_seed))
    means = rng.normal(size=(num_classes, dim)) * separation / np.sqrt(dim)
    scales = np.exp(rng.uniform(-log_scale, log_scale, size=dim))
    corr = (1.0 - correlation) * np.eye(dim) + correlation * np.ones((dim, dim))
    return means, scales[:, None] * corr * scales[None, :]


def load_gaussian_classes(name: str, data_dir: str | None = None, num_classes: int = 2,
                          dim: int = 20, separation: float = 3.0, correlation: float = 0.0,
                          log_scale: float = 1.0, num_train: int = 2000, num_test: int = 5000,
                          param_seed: int = 0, seed: int = 0) -> data_lib.Dataset:
    """Samples ``x`` and ``label`` (train first, then test); ``data_dir`` is ignored."""
    del data_dir
    num_classes, dim = int(num_classes), int(dim)
    means, cov = gaussian_classes_parameters(num_classes, dim, float(separation),
                                             float(correlation), float(log_scale),
                                             int(param_seed))
    chol = np.linalg.cholesky(cov)
    rng = np.random.default_rng(int(seed))

    def split(n):
        label = rng.integers(0, num_classes, size=int(n))
        x = means[label] + rng.normal(size=(int(n), dim)) @ chol.T
        return {"x": x.astype(np.float32), "label": label.astype(np.int32)}

    train = split(num_train)
    test = split(num_test)
    return data_lib.Dataset(name, train, test, data_lib.DatasetInfo(
        kind="continuous", event_shape=(dim,), num_classes=num_classes,
        description=f"{num_classes} Gaussian classes in {dim}D, shared covariance with "
                    f"equicorrelation {correlation} (separation {separation})"))
