"""Small synthetic text-to-table pairs with one implied cell per row (STable [P046]).

A table has ``num_rows`` rows and three columns ``a, b, c`` with values in ``0..V-1`` and
``c = (a + b) mod V``; ``a`` and ``b`` are uniform. The document states two of the three
cells of each row (which one is left out is uniform per row) as
``[ROW_r, COL_x, value, COL_y, value]``, the rows in a random order. The missing cell is
implied by the other two (``a = c - b``, ``b = c - a``, ``c = a + b``, mod ``V``), so a
decoder that has already written a row's stated cells can copy them and then compute the
third from its own output; a left-to-right decoder must sometimes compute a cell before
the ones it depends on are written.

Registered as ``text_tables`` (:func:`load_text_tables`): ``source`` int32 ``(N, 5 R)``
(document tokens: values ``0..V-1``, ``ROW_r = V + r``, ``COL_j = V + R + j``), ``x`` int32
``(N, 3 R)`` the cells in row-major order, ``missing`` int32 ``(N, R)`` the column left out
of each row. Train and test are drawn from one generator (``seed``), test after train.
"""

from __future__ import annotations

import numpy as np

from likelihood_jax.data.loader import Dataset, DatasetInfo

NUM_COLUMNS = 3
COLUMN_NAMES = ("a", "b", "c")


def source_vocab(num_rows: int, num_values: int) -> tuple[str, ...]:
    """The strings of the document's token ids."""
    return (tuple(str(v) for v in range(num_values)) + tuple(f"row{r}" for r in range(num_rows))
            + tuple(f"col_{name}" for name in COLUMN_NAMES))


def sample_tables(rng: np.random.Generator, num: int, num_rows: int, num_values: int
                  ) -> dict[str, np.ndarray]:
    """``num`` (document, table) pairs; see the module docstring for the layout."""
    a = rng.integers(0, num_values, (num, num_rows))
    b = rng.integers(0, num_values, (num, num_rows))
    cells = np.stack([a, b, (a + b) % num_values], axis=-1)  # (N, R, 3)
    missing = rng.integers(0, NUM_COLUMNS, (num, num_rows))
    stated = np.stack([np.delete(np.arange(NUM_COLUMNS), m) for m in range(NUM_COLUMNS)])
    cols = stated[missing]  # (N, R, 2)
    values = np.take_along_axis(cells, cols, axis=-1)
    row_ids = np.broadcast_to(np.arange(num_rows), (num, num_rows))
    col_tokens = num_values + num_rows + cols
    mention = np.stack([num_values + row_ids, col_tokens[..., 0], values[..., 0],
                        col_tokens[..., 1], values[..., 1]], axis=-1)  # (N, R, 5)
    row_order = np.argsort(rng.random((num, num_rows)), axis=1)
    mention = np.take_along_axis(mention, row_order[..., None], axis=1)
    return {"source": mention.reshape(num, -1).astype(np.int32),
            "x": cells.reshape(num, -1).astype(np.int32),
            "missing": missing.astype(np.int32)}


def load_text_tables(name: str, data_dir: str | None = None, num_rows: int = 3,
                     num_values: int = 8, num_train: int = 4000, num_test: int = 500,
                     seed: int = 0) -> Dataset:
    """Registered as ``text_tables``; ``data_dir`` is ignored (drawn from ``seed``).

    Raises:
      ValueError: a count below 1 or fewer than 2 values.
    """
    del data_dir
    for field, value, low in (("num_rows", num_rows, 1), ("num_values", num_values, 2),
                              ("num_train", num_train, 1), ("num_test", num_test, 1)):
        if int(value) < low:
            raise ValueError(f"{field} must be >= {low}, got {value}")
    rng = np.random.default_rng(seed)
    train = sample_tables(rng, int(num_train), int(num_rows), int(num_values))
    test = sample_tables(rng, int(num_test), int(num_rows), int(num_values))
    info = DatasetInfo(kind="text", event_shape=(NUM_COLUMNS * int(num_rows),),
                       vocab=source_vocab(int(num_rows), int(num_values)),
                       description=f"text-to-table: {num_rows} rows x (a, b, c = a + b mod "
                       f"{num_values}), one cell per row implied; seed {seed}")
    return Dataset(name, train, test, info)
