"""Small tabular density-estimation sets built offline, and a Gaussian of known entropy.

TraDE [P027] evaluates density estimators on tabular data; these are the ones this project
can always build (scikit-learn ships them, no download):

==================  ====================================================================
name                rows x columns (what ``x`` holds)
==================  ====================================================================
wine                178 x 13 (``sklearn.datasets.load_wine`` features)
breast_cancer       569 x 30 (``load_breast_cancer`` features)
diabetes            442 x 10 (``load_diabetes(scaled=False)``; column 1, sex, is discrete:
                    codes 0/1, see :func:`tabular_categories`)
digits_pca          1797 x ``num_components`` (default 16): principal components of
                    ``load_digits`` pixels, the PCA fitted on the train rows only
correlated_gaussian ``num_train + 2 * num_heldout`` draws of ``N(0, Sigma)`` with
                    ``Sigma_ij = rho^|i - j|`` (unit variances, AR(1) correlation), entropy
                    :func:`correlated_gaussian_entropy`; not standardized
==================  ====================================================================

**Splits.** Rows are permuted by ``np.random.default_rng(0).permutation(N)``: the first 10%
are the test rows, the next 10% the validation rows, the rest train (each kept in file
order). A :class:`~likelihood_jax.data.Dataset` has a ``train`` and a ``test`` dict, so the
option ``heldout`` says which held-out split the ``test`` dict holds: ``"test"`` (default)
or ``"validation"`` (choose hyperparameters on this, report on ``"test"``).

**Standardization.** Continuous columns are standardized with the train split's mean and
standard deviation (``x = (raw - mean_train) / std_train``); discrete columns keep their
integer codes ``0..C-1`` (as float32). The correlated Gaussian is left as drawn, so its
entropy stays the analytic one.
"""

from __future__ import annotations

import math

import numpy as np

from likelihood_jax.data import loader

TABULAR_NAMES = ("wine", "breast_cancer", "diabetes", "digits_pca")
HELDOUT = ("test", "validation")
_SPLIT_SEED = 0
_HELDOUT_FRACTION = 0.1


def correlated_gaussian_covariance(dim: int, rho: float) -> np.ndarray:
    """``Sigma_ij = rho^|i - j|`` (float64, ``(dim, dim)``)."""
    idx = np.arange(int(dim))
    return float(rho) ** np.abs(idx[:, None] - idx[None, :])


def correlated_gaussian_entropy(dim: int, rho: float) -> float:
    """Differential entropy (nats) of ``N(0, Sigma)``, ``Sigma_ij = rho^|i-j|``.

    ``H = D/2 log(2 pi e) + 1/2 log det Sigma`` and, for the AR(1) correlation,
    ``det Sigma = (1 - rho^2)^(D - 1)``.
    """
    dim, rho = int(dim), float(rho)
    return 0.5 * dim * math.log(2 * math.pi * math.e) + 0.5 * (dim - 1) * math.log1p(-rho * rho)


def tabular_categories(name: str) -> tuple[int, ...]:
    """Per column of dataset ``name``: 0 for a continuous column, ``C`` for one with codes 0..C-1.

    Raises:
      ValueError: ``name`` is not one of :data:`TABULAR_NAMES` or ``correlated_gaussian``.
    """
    widths = {"wine": 13, "breast_cancer": 30, "diabetes": 10}
    if name == "diabetes":
        return (0, 2) + (0,) * 8
    if name in widths:
        return (0,) * widths[name]
    raise ValueError(f"tabular_categories: name must be one of {widths.keys() | {'diabetes'}} "
                     f"(digits_pca and correlated_gaussian are all continuous), got {name!r}")


def split_rows(num_rows: int) -> dict[str, np.ndarray]:
    """Row indices of ``train``, ``validation`` and ``test`` (see the module docstring)."""
    perm = np.random.default_rng(_SPLIT_SEED).permutation(int(num_rows))
    n_held = max(1, int(round(_HELDOUT_FRACTION * num_rows)))
    return {"test": np.sort(perm[:n_held]), "validation": np.sort(perm[n_held:2 * n_held]),
            "train": np.sort(perm[2 * n_held:])}


def _check_heldout(name: str, heldout: str) -> None:
    if heldout not in HELDOUT:
        raise ValueError(f"{name}: heldout must be one of {HELDOUT}, got {heldout!r}")


def _standardized(raw: np.ndarray, categories: tuple[int, ...], heldout: str,
                  ) -> tuple[np.ndarray, np.ndarray]:
    rows = split_rows(len(raw))
    continuous = np.array([c == 0 for c in categories])
    train = raw[rows["train"]]
    mean = np.where(continuous, train.mean(0), 0.0)
    std = np.where(continuous, train.std(0), 1.0)
    std = np.where(std > 0, std, 1.0)
    scale = lambda a: ((a - mean) / std).astype(np.float32)  # noqa: E731
    return scale(train), scale(raw[rows[heldout]])


def _raw_table(name: str) -> np.ndarray:
    from sklearn import datasets

    if name == "wine":
        return datasets.load_wine().data
    if name == "breast_cancer":
        return datasets.load_breast_cancer().data
    raw = datasets.load_diabetes(scaled=False).data.copy()
    raw[:, 1] = (raw[:, 1] == raw[:, 1].max()).astype(np.float64)  # sex: 1/2 -> codes 0/1
    return raw


def load_tabular(name: str, data_dir: str | None = None, heldout: str = "test"
                 ) -> loader.Dataset:
    """``wine``, ``breast_cancer`` or ``diabetes`` (``data_dir`` ignored: nothing is stored)."""
    del data_dir
    _check_heldout(name, heldout)
    raw = _raw_table(name)
    categories = tabular_categories(name)
    train, held = _standardized(raw, categories, heldout)
    info = loader.DatasetInfo(
        kind="continuous", event_shape=(raw.shape[1],),
        description=f"scikit-learn {name} ({raw.shape[0]} rows), 80/10/10 split, test dict = "
                    f"{heldout} rows; continuous columns standardized with train statistics, "
                    f"discrete columns (tabular_categories) as codes.")
    return loader.Dataset(name, {"x": train}, {"x": held}, info)


def load_digits_pca(name: str, data_dir: str | None = None, num_components: int = 16,
                    heldout: str = "test") -> loader.Dataset:
    """Principal components of the 8x8 digits, fitted on the train rows, then standardized."""
    del data_dir
    _check_heldout(name, heldout)
    if not 1 <= int(num_components) <= 64:
        raise ValueError(f"{name}: num_components must be in 1..64, got {num_components}")
    from sklearn import datasets

    pixels = datasets.load_digits().data
    rows = split_rows(len(pixels))
    train = pixels[rows["train"]]
    mean = train.mean(0)
    _, _, vt = np.linalg.svd(train - mean, full_matrices=False)
    project = lambda a: (a - mean) @ vt[:int(num_components)].T  # noqa: E731
    features = project(pixels)
    train_f = features[rows["train"]]
    mu, sd = train_f.mean(0), train_f.std(0)
    scale = lambda a: ((a - mu) / sd).astype(np.float32)  # noqa: E731
    info = loader.DatasetInfo(
        kind="continuous", event_shape=(int(num_components),),
        description=f"the first {num_components} principal components of sklearn digits "
                    f"(PCA on train rows), standardized; test dict = {heldout} rows.")
    return loader.Dataset(name, {"x": scale(train_f)},
                          {"x": scale(features[rows[heldout]])}, info)


def load_correlated_gaussian(name: str, data_dir: str | None = None, dim: int = 8,
                             rho: float = 0.8, num_train: int = 20000, num_heldout: int = 2000,
                             seed: int = 0, heldout: str = "test") -> loader.Dataset:
    """Draws of ``N(0, Sigma)``, ``Sigma_ij = rho^|i-j|``: train, then validation, then test."""
    del data_dir
    _check_heldout(name, heldout)
    if int(dim) < 1 or not -1.0 < float(rho) < 1.0:
        raise ValueError(f"{name}: need dim >= 1 and -1 < rho < 1, got dim={dim}, rho={rho}")
    chol = np.linalg.cholesky(correlated_gaussian_covariance(dim, rho))
    rng = np.random.default_rng(int(seed))
    draw = lambda n: (rng.normal(size=(int(n), int(dim))) @ chol.T).astype(np.float32)  # noqa
    train, validation, test = draw(num_train), draw(num_heldout), draw(num_heldout)
    entropy = correlated_gaussian_entropy(dim, rho)
    info = loader.DatasetInfo(
        kind="continuous", event_shape=(int(dim),),
        description=f"N(0, Sigma), Sigma_ij = {rho}^|i-j|, D = {dim}: entropy {entropy:.4f} "
                    f"nats; test dict = {heldout} draws.")
    return loader.Dataset(name, {"x": train},
                          {"x": test if heldout == "test" else validation}, info)
