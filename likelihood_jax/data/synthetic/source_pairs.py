"""Source samples paired with a target dataset, for flow matching between two distributions.

Conditional flow matching (OT-CFM [P011]) learns a flow from a *source* distribution to
the data. :func:`pair_with_source` puts held-out source samples beside a target dataset
(independent rows), so the evaluation of a flow sees fixed ``(x0, x1)`` pairs:

* source ``"normal"``: ``N(0, I)`` rows drawn with numpy (:func:`source_samples`);
* a 2D toy name (:data:`likelihood_jax.data.TOY_NAMES`): ``sample_toy(name, n, seed)``.

The seeds (:data:`SOURCE_SEEDS`) differ from the toy datasets' own train/test seeds (0 and
1), so source and target rows are independent even when both are toys.
"""

from __future__ import annotations

import numpy as np

from likelihood_jax import data as data_lib

#: Seeds of the source samples (train, test).
SOURCE_SEEDS = (101, 102)


def source_samples(name: str, n: int, seed: int, dim: int) -> np.ndarray:
    """``n`` source points ``(n, dim)`` float32: standard normal or a 2D toy (numpy, seeded).

    Raises:
      ValueError: an unknown source, or a toy source for data that is not 2D.
    """
    if name == "normal":
        return np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    if name not in data_lib.TOY_NAMES:
        raise ValueError(f"Unknown source {name!r}; expected 'normal' or one of "
                         f"{data_lib.TOY_NAMES}.")
    if dim != 2:
        raise ValueError(f"The toy source {name!r} is 2D but the target has {dim} dims.")
    return data_lib.sample_toy(name, n, seed)


def pair_with_source(target: data_lib.Dataset, source: str,
                     num_eval: int) -> data_lib.Dataset:
    """The target dataset with source samples ``x0`` beside it (independent rows).

    The training split gets ``x0`` only for a toy source (a normal source is sampled
    fresh in every step); the test split keeps its first ``num_eval`` targets and gets
    as many held-out sources, plus ``x_ref``: ``num_eval`` training targets, an
    independent sample of the target used to measure the W2 floor of finite samples.
    Images stay integer arrays; sources are flat vectors.

    Raises:
      ValueError: data that is neither vectors ``(N, D)`` nor images, an image target with
        a toy source, or ``num_eval`` above the number of test examples.
    """
    is_image = target.info.kind == "image"
    x_train = np.asarray(target.train["x"])
    x_test = np.asarray(target.test["x"])
    if not is_image:
        x_train, x_test = x_train.astype(np.float32), x_test.astype(np.float32)
        if x_train.ndim != 2:
            raise ValueError(f"source pairs need vector data (N, D) or images, got "
                             f"{x_train.shape} from {target.name!r}.")
    elif source != "normal":
        raise ValueError(f"Images need source='normal', got {source!r}.")
    if num_eval > len(x_test):
        raise ValueError(f"config.eval.num_examples={num_eval} exceeds the {len(x_test)} "
                         f"test examples of {target.name!r}.")
    dim = int(np.prod(x_train.shape[1:]))
    train = {"x": x_train}
    if source != "normal":
        train["x0"] = source_samples(source, len(x_train), SOURCE_SEEDS[0], dim)
    test = {"x": x_test[:num_eval], "x0": source_samples(source, num_eval, SOURCE_SEEDS[1], dim),
            "x_ref": x_train[:num_eval]}
    return data_lib.Dataset(target.name, train, test, target.info)
