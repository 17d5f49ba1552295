"""``likelihood_jax_toy2d/<toy>``: the 2D toy densities of :mod:`likelihood_jax.data.toys`.

Features per record: ``x`` float32 (2,). ``train`` is ``sample_toy(toy, num_train,
seed=toys.TRAIN_SEED)``, ``test`` is ``sample_toy(toy, num_test, seed=toys.TEST_SEED)``.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow_datasets as tfds

from likelihood_jax.data import toys
from likelihood_jax.data.builders.base import QuietBuilder

__all__ = ["LikelihoodJaxToy2d", "Toy2dConfig", "toy_config"]


@dataclasses.dataclass(eq=False)
class Toy2dConfig(tfds.core.BuilderConfig):
    """Config of a 2D toy dataset: which toy and how many points per split."""

    toy: str = "moons"
    num_train: int = 20000
    num_test: int = 5000


def toy_config(toy: str, num_train: int = 20000, num_test: int = 5000) -> Toy2dConfig:
    """The builder config of a toy; the default sizes use the toy's name as config name.

    Args:
      toy: One of ``toys.TOY_NAMES``.
      num_train: Number of train points (seed ``toys.TRAIN_SEED``).
      num_test: Number of test points (seed ``toys.TEST_SEED``).

    Returns:
      A :class:`Toy2dConfig` named ``toy`` for the default sizes, else
      ``f"{toy}_train{num_train}_test{num_test}"``.

    Raises:
      ValueError: ``toy`` is not a known toy.
    """
    if toy not in toys.TOY_NAMES:
        raise ValueError(f"Unknown toy dataset {toy!r}; known: {', '.join(toys.TOY_NAMES)}.")
    name = toy
    if (num_train, num_test) != (20000, 5000):
        name = f"{toy}_train{num_train}_test{num_test}"
    return Toy2dConfig(
        name=name,
        toy=toy,
        num_train=num_train,
        num_test=num_test,
        description=f"{toy}: {num_train} train points (seed {toys.TRAIN_SEED}), "
        f"{num_test} test points (seed {toys.TEST_SEED}).",
    )


class LikelihoodJaxToy2d(QuietBuilder):
    """2D toy densities: ``train`` from seed 0, ``test`` from seed 1 (``toys.sample_toy``)."""

    BUILDER_CONFIGS = [toy_config(name) for name in toys.TOY_NAMES]

    def _info(self) -> tfds.core.DatasetInfo:
        return tfds.core.DatasetInfo(
            builder=self,
            description="2D toy densities from likelihood_jax.data.toys.sample_toy.",
            features=tfds.features.FeaturesDict(
                {"x": tfds.features.Tensor(shape=(2,), dtype=np.float32)}
            ),
            disable_shuffling=True,
        )

    def _split_generators(self, dl_manager):
        del dl_manager
        config = self.builder_config
        return {
            "train": self._generate_examples(config.num_train, toys.TRAIN_SEED),
            "test": self._generate_examples(config.num_test, toys.TEST_SEED),
        }

    def _generate_examples(self, n, seed):
        points = toys.sample_toy(self.builder_config.toy, n, seed)
        for i in range(n):
            yield i, {"x": points[i]}
