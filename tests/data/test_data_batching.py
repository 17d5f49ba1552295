"""batch_at_step: a deterministic function of (seed, step) with epoch permutations."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from likelihood_jax import data


def _arrays(n):
    return {
        "x": np.arange(n * 3, dtype=np.float32).reshape(n, 3),
        "label": np.arange(n, dtype=np.int32),
    }


def test_deterministic_and_seed_dependent():
    arrays = _arrays(50)
    a = data.batch_at_step(arrays, 8, seed=3, step=11)
    b = data.batch_at_step(arrays, 8, seed=3, step=11)
    np.testing.assert_array_equal(a["label"], b["label"])
    c = data.batch_at_step(arrays, 8, seed=4, step=11)
    assert not np.array_equal(a["label"], c["label"])
    assert set(a) == {"x", "label"}
    assert a["x"].dtype == np.float32 and a["label"].dtype == np.int32
    # Rows stay aligned across keys.
    np.testing.assert_array_equal(a["x"][:, 0], a["label"] * 3)


def test_each_epoch_visits_every_example_once():
    n, b = 10, 3  # 30 positions in 10 steps: exactly three epochs.
    arrays = _arrays(n)
    stream = np.concatenate(
        [data.batch_at_step(arrays, b, seed=0, step=s)["label"] for s in range(10)]
    )
    epochs = stream.reshape(3, n)
    for e, epoch in enumerate(epochs):
        np.testing.assert_array_equal(np.sort(epoch), np.arange(n))
        np.testing.assert_array_equal(epoch, data.epoch_permutation(0, e, n))
    assert not np.array_equal(epochs[0], epochs[1])


def test_batch_straddling_an_epoch_boundary():
    n, b = 10, 4
    arrays = _arrays(n)
    batch = data.batch_at_step(arrays, b, seed=5, step=2)["label"]  # positions 8..11
    perm0 = data.epoch_permutation(5, 0, n)
    perm1 = data.epoch_permutation(5, 1, n)
    np.testing.assert_array_equal(batch, np.concatenate([perm0[8:], perm1[:2]]))
    expected = np.random.default_rng((5, 1)).permutation(n)
    np.testing.assert_array_equal(perm1, expected)


def test_full_batch_is_a_permutation():
    arrays = _arrays(7)
    for step in range(4):
        batch = data.batch_at_step(arrays, 7, seed=1, step=step)["label"]
        np.testing.assert_array_equal(np.sort(batch), np.arange(7))


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 40),
    batch_per_process=st.integers(1, 10),
    process_count=st.sampled_from([1, 2, 3, 4]),
    seed=st.integers(0, 2**31),
    step=st.integers(0, 1000),
)
def test_process_shares_concatenate_to_global_batch(
    n, batch_per_process, process_count, seed, step
):
    batch_size = batch_per_process * process_count
    if batch_size > n:
        return
    arrays = _arrays(n)
    full = data.batch_at_step(arrays, batch_size, seed, step)
    shares = [
        data.batch_at_step(
            arrays, batch_size, seed, step, process_index=p, process_count=process_count
        )
        for p in range(process_count)
    ]
    for key in arrays:
        assert all(s[key].shape[0] == batch_per_process for s in shares)
        np.testing.assert_array_equal(np.concatenate([s[key] for s in shares]), full[key])
    # The global batch is the slice [step*B, (step+1)*B) of the epoch stream.
    positions = np.arange(step * batch_size, (step + 1) * batch_size)
    expected = [data.epoch_permutation(seed, p // n, n)[p % n] for p in positions]
    np.testing.assert_array_equal(full["label"], expected)


def test_returns_copies_and_accepts_read_only_arrays():
    arrays = _arrays(6)
    for value in arrays.values():
        value.flags.writeable = False
    batch = data.batch_at_step(arrays, 4, seed=0, step=0)
    batch["label"][:] = -1
    np.testing.assert_array_equal(arrays["label"], np.arange(6))


def test_errors():
    arrays = _arrays(10)
    with pytest.raises(ValueError, match="batch_size 11 is larger than the number of examples 10"):
        data.batch_at_step(arrays, 11, 0, 0)
    with pytest.raises(ValueError, match="positive"):
        data.batch_at_step(arrays, 0, 0, 0)
    with pytest.raises(ValueError, match="positive"):
        data.batch_at_step(arrays, -2, 0, 0)
    with pytest.raises(ValueError, match=r"batch_size 6 .*process_count 4"):
        data.batch_at_step(arrays, 6, 0, 0, process_index=0, process_count=4)
    with pytest.raises(ValueError, match="process_index"):
        data.batch_at_step(arrays, 4, 0, 0, process_index=2, process_count=2)
    with pytest.raises(ValueError, match="step"):
        data.batch_at_step(arrays, 4, 0, -1)
    with pytest.raises(ValueError, match="seed"):
        data.batch_at_step(arrays, 4, -1, 0)
    with pytest.raises(ValueError, match="disagree"):
        data.batch_at_step({"x": np.zeros(10), "y": np.zeros(9)}, 4, 0, 0)
    with pytest.raises(ValueError, match="empty"):
        data.batch_at_step({}, 4, 0, 0)
