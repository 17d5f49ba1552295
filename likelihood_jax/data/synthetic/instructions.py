"""Synthetic instruction data with a known response law (teacher distillation [P193]).

Kothari, Nayak, Shetty, Patil & Garera (2024), "A Teacher Is Worth A Million
Instructions". A sequence is ``[TAG, p_1..p_m, SEP, r_1..r_m]`` over content tokens
``0..V-1``: the tag names a task (:data:`TASKS`: copy, reverse, sort, shift by one,
prefix sums mod ``V``) and the response is the task's function ``f(p)`` of the prompt,
each token independently replaced by a uniform token with probability ``noise``, so the
true law of response token ``t`` is ``(1 - noise) [v = f(p)_t] + noise / V``.

Registered as the dataset ``"instructions"`` (:func:`load_instructions`): the train
split is the first ``num_train`` of ``num_drawn`` sequences drawn with ``seed``, the
test split ``num_test`` sequences drawn with ``seed + 2``.
"""

from __future__ import annotations

import numpy as np

from likelihood_jax.data.loader import Dataset, DatasetInfo

TASKS = ("copy", "reverse", "sort", "shift", "cumsum")
TEST_SEED_OFFSET = 2


def task_response(task: str, prompts: np.ndarray, vocab_size: int) -> np.ndarray:
    """The clean response ``f(p)`` of ``task`` to prompts ``[N, m]`` over ``0..V-1``.

    Raises:
      ValueError: an unknown task.
    """
    if task == "copy":
        return prompts.copy()
    if task == "reverse":
        return prompts[:, ::-1].copy()
    if task == "sort":
        return np.sort(prompts, axis=1)
    if task == "shift":
        return (prompts + 1) % vocab_size
    if task == "cumsum":
        return np.cumsum(prompts, axis=1) % vocab_size
    raise ValueError(f"unknown task {task!r}; choose from {TASKS}")


def split_names(names) -> tuple[str, ...]:
    """``"copy,reverse"`` or a sequence -> a tuple of task names."""
    if isinstance(names, str):
        return tuple(n.strip() for n in names.split(",") if n.strip())
    return tuple(names)


def instruction_data(tasks: tuple[str, ...], num: int, *, vocab_size: int, prompt_len: int,
                     noise: float, seed: int) -> dict[str, np.ndarray]:
    """``num`` instruction sequences ``[TAG, prompt, SEP, noisy response]``, tasks uniform.

    Token ids: content ``0..V-1``, task tags ``V + TASKS.index(task)``, SEP
    ``V + len(TASKS)``.

    Returns:
      ``{"x": [num, 2m + 2] int32, "clean": [num, m] int32 (the noise-free
      response), "task": [num] int32 (index in TASKS)}``.

    Raises:
      ValueError: on an unknown task or ``noise`` outside ``[0, 1]``.
    """
    if not 0.0 <= noise <= 1.0:
        raise ValueError(f"noise must lie in [0, 1], got {noise}")
    unknown = [t for t in tasks if t not in TASKS]
    if unknown or not tasks:
        raise ValueError(f"unknown tasks {unknown or tasks!r}; choose from {TASKS}")
    rng = np.random.default_rng(seed)
    task = rng.choice([TASKS.index(t) for t in tasks], size=num)
    prompts = rng.integers(0, vocab_size, (num, prompt_len))
    clean = np.zeros_like(prompts)
    for i, name in enumerate(TASKS):
        rows = task == i
        if rows.any():
            clean[rows] = task_response(name, prompts[rows], vocab_size)
    flip = rng.random(clean.shape) < noise
    response = np.where(flip, rng.integers(0, vocab_size, clean.shape), clean)
    tag = (vocab_size + task)[:, None]
    sep = np.full((num, 1), vocab_size + len(TASKS))
    x = np.concatenate([tag, prompts, sep, response], 1)
    return {"x": x.astype(np.int32), "clean": clean.astype(np.int32),
            "task": task.astype(np.int32)}


def load_instructions(name: str, data_dir: str | None = None, *,
                      tasks: str = "copy,reverse,shift,sort", vocab_size: int = 10,
                      prompt_len: int = 6, noise: float = 0.1, num_drawn: int = 4000,
                      num_train: int | None = None, num_test: int = 1000,
                      seed: int = 0) -> Dataset:
    """The ``"instructions"`` dataset: :func:`instruction_data` of ``tasks`` (comma-separated).

    Args:
      name: the registered name.
      data_dir: unused (the data are drawn from ``seed``).
      tasks: the tasks, comma-separated (drawn uniformly per sequence).
      vocab_size: ``V``, the number of content tokens.
      prompt_len: ``m``, the prompt (and response) length.
      noise: probability that a response token is replaced by a uniform one.
      num_drawn: sequences drawn for the train split (a smaller ``num_train`` keeps the
        first ones, so runs with different ``num_train`` share their first examples).
      num_train: train sequences kept (None: all ``num_drawn``).
      num_test: test sequences, drawn with ``seed + 2``.
      seed: the train split's seed.

    Raises:
      ValueError: ``num_train`` exceeds ``num_drawn``, or a bad task or noise.
    """
    del data_dir
    num_train = num_drawn if num_train is None else num_train
    if not 0 < num_train <= num_drawn:
        raise ValueError(f"num_train must lie in [1, num_drawn={num_drawn}], got {num_train}")
    task_names = split_names(tasks)
    draw = dict(vocab_size=vocab_size, prompt_len=prompt_len, noise=noise)
    train = instruction_data(task_names, num_drawn, seed=seed, **draw)
    test = instruction_data(task_names, num_test, seed=seed + TEST_SEED_OFFSET, **draw)
    info = DatasetInfo(
        kind="text", event_shape=(2 * prompt_len + 2,),
        vocab=tuple(str(i) for i in range(vocab_size)),
        description=f"synthetic instructions: tasks {tasks}, V={vocab_size}, m={prompt_len}, "
                    f"noise {noise}, {num_train} of {num_drawn} train sequences (seed "
                    f"{seed}), {num_test} test")
    return Dataset(name, {k: v[:num_train] for k, v in train.items()}, test, info)
