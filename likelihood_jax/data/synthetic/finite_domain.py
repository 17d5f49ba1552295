"""A finite teacher ``pi*(a | s)`` over ``S x A`` and its samples (knowledge transfer [P050]).

Zhao & Zhu (2024), "Towards the fundamental limits of knowledge transfer over finite
domains". Teachers (``kind``): ``"random"`` (rows ~ Dirichlet(``concentration``),
``rho`` uniform, fixed in ``n``), ``"instance0"`` (``0.5 Uniform + 0.5 Dirac``, the
paper's classic-regime instance) and the paper's adversarial ``"instance1"`` (hard for
hard labels), ``"instance2"`` (hard for partial soft labels), ``"instance3"`` (hard for
full soft labels), which change with ``n`` (Appendix F). Registered as the dataset
``"finite_domain"`` (:func:`load_finite_domain`): ``n`` samples ``s ~ rho, a ~ pi*(. | s)``;
:func:`dataset_teacher` gives the teacher of the same options.
"""

from __future__ import annotations

import numpy as np

from likelihood_jax.data.loader import Dataset, DatasetInfo

KINDS = ("random", "instance0", "instance1", "instance2", "instance3")


def make_teacher(kind: str, num_s: int, num_a: int, n: int = 1000, seed: int = 0,
                 concentration: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """``(rho [S], pi* [S, A])`` of a teacher instance (adversarial ones depend on ``n``)."""
    if kind not in KINDS:
        raise ValueError(f"unknown teacher kind {kind!r}; choose one of {KINDS}")
    rho = np.full(num_s, 1.0 / num_s)
    pi = np.zeros((num_s, num_a))
    if kind == "random":
        rng = np.random.default_rng(seed)
        pi = rng.dirichlet(np.full(num_a, concentration), num_s)
    elif kind == "instance0":
        pi[:] = 0.5 / num_a
        pi[np.arange(num_s), np.arange(num_s) % num_a] += 0.5
    elif kind == "instance1":  # +-eps around uniform on label pairs, eps = 0.25 sqrt(SA / n)
        a = num_a - num_a % 2  # an odd last label gets zero mass
        eps = 0.25 * np.sqrt(num_s * a / n)
        if eps > 1:
            raise ValueError(f"instance1 needs n >= |S||A| / 16, got n={n}")
        pi[:, 0:a:2] = (1 + eps) / a
        pi[:, 1:a:2] = (1 - eps) / a
    else:  # instance2 / instance3: S / (n + 1) on odd labels (1-based), rest on the last
        a = num_a - (1 - num_a % 2)  # an even |A| leaves the last label at zero mass
        small = num_s / (n + 1)
        pi[:, 0:a - 1:2] = small
        pi[:, a - 1] = 1.0 - small * len(range(0, a - 1, 2))
        if pi[0, a - 1] < 0:
            raise ValueError(f"{kind} needs n + 1 > |S| (|A| - 1) / 2, got n={n}")
        if kind == "instance3":  # rare inputs: rho = 1 / (n + 1) except the last
            rho = np.full(num_s, 1.0 / (n + 1))
            rho[-1] = 1.0 - (num_s - 1) / (n + 1)
    return rho, pi


def sample_dataset(rho: np.ndarray, pi: np.ndarray, n: int, seed: int,
                   name: str = "finite_domain") -> Dataset:
    """``n`` samples ``s ~ rho, a ~ pi*(. | s)`` (train split); the inputs (test split)."""
    rng = np.random.default_rng(seed)
    num_s, num_a = pi.shape
    cells = rng.choice(num_s * num_a, size=n, p=(rho[:, None] * pi).ravel() / np.sum(
        rho[:, None] * pi))
    train = {"s": (cells // num_a).astype(np.int32), "a": (cells % num_a).astype(np.int32)}
    test = {"s": np.arange(num_s, dtype=np.int32), "rho": rho.astype(np.float32)}
    info = DatasetInfo(kind="tabular", event_shape=(), num_classes=num_a,
                                description=f"{n} samples of a finite S x A teacher")
    return Dataset(name, train, test, info)


def dataset_teacher(*, kind: str = "random", num_s: int = 10, num_a: int = 10, n: int = 1000,
                    concentration: float = 1.0, teacher_seed: int = 0,
                    **sampling) -> tuple[np.ndarray, np.ndarray]:
    """``(rho, pi*)`` of the ``"finite_domain"`` dataset with these options.

    The one way the data and the experiment build the teacher; the sampling option
    ``data_seed`` (and ``name`` / ``data_dir``) is ignored.
    """
    unknown = set(sampling) - {"data_seed", "name", "data_dir"}
    if unknown:
        raise TypeError(f"finite_domain has no option(s) {sorted(unknown)}")
    return make_teacher(kind, num_s, num_a, n, teacher_seed, concentration)


def load_finite_domain(name: str, data_dir: str | None = None, *, kind: str = "random",
                       num_s: int = 10, num_a: int = 10, n: int = 1000,
                       concentration: float = 1.0, teacher_seed: int = 0,
                       data_seed: int = 1) -> Dataset:
    """The ``"finite_domain"`` dataset: :func:`sample_dataset` of :func:`dataset_teacher`."""
    del data_dir
    rho, pi = dataset_teacher(kind=kind, num_s=num_s, num_a=num_a, n=n,
                              concentration=concentration, teacher_seed=teacher_seed)
    return sample_dataset(rho, pi, n, data_seed, name=name)
