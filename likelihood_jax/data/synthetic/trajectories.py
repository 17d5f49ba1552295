"""Agents choosing among a few routes at a junction: multimodal futures with known odds.

Every agent walks along the ``+x`` axis towards a junction at the origin with its own speed
``v ~ U(speed_low, speed_high)`` and lateral offset ``b ~ N(0, offset_std^2)``, then takes
route ``k`` with probability ``route_probs[k]`` (independent of its past) and walks on at the
same speed in the direction ``theta_k`` (:func:`route_angles`, evenly spread over
``[-spread, spread]``)::

    past   p_t = (v t, b) + noise,                  t = -(obs_len - 1), ..., 0
    future p_t = (0, b) + v t (cos theta_k, sin theta_k) + noise,   t = 1, ..., pred_len

with i.i.d. ``N(0, noise_std^2)`` position noise. Positions are stored relative to the last
observed position ``p_0`` (the usual trajectory-prediction frame), so given the past the
future is a mixture of ``K`` straight lines with weights ``route_probs``: the route
probabilities a generator's sample mass should match (P015's multimodal setting).

Registered as the dataset ``route_trajectories`` (:func:`load_route_trajectories`): ``x``
``(N, pred_len, 2)`` float32 the future, ``past`` ``(N, obs_len, 2)`` float32, ``label``
int32 the route, ``speed`` float32; train rows first, then test rows, from one numpy generator
seeded with ``seed``.
"""

from __future__ import annotations

import numpy as np

from likelihood_jax import data as data_lib

DEFAULT_ROUTE_PROBS = (0.5, 0.3, 0.2)


def route_angles(num_routes: int, spread: float) -> np.ndarray:
    """The ``K`` route directions ``theta_k`` (radians), evenly spaced over ``[-s, s]``."""
    if int(num_routes) < 1:
        raise ValueError(f"route_angles: num_routes must be >= 1, got {num_routes}")
    if num_routes == 1:
        return np.zeros(1, np.float32)
    return np.linspace(-spread, spread, int(num_routes)).astype(np.float32)


def classify_route(future: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """The route of each future ``(..., T, 2)``: the angle nearest to its final heading."""
    future = np.asarray(future)
    if future.ndim < 2 or future.shape[-1] != 2:
        raise ValueError(f"classify_route: future must be of shape (..., T, 2), got shape "
                         f"{future.shape}")
    end = future[..., -1, :]
    heading = np.arctan2(end[..., 1], end[..., 0])
    return np.argmin(np.abs(heading[..., None] - np.asarray(angles)), axis=-1).astype(np.int32)


def conditional_futures(rng: np.random.Generator, speed: np.ndarray, num_samples: int, *,
                        route_probs, spread: float, pred_len: int,
                        noise_std: float) -> np.ndarray:
    """Draws from the true law of the future given the past, ``[N, S, T, 2]``.

    For agents of speeds ``speed [N]``: ``S`` futures ``v t (cos theta_k, sin theta_k) +
    noise`` with ``k ~ route_probs``, relative to the junction (the stored futures are relative
    to the noisy last observation, a shift of ``noise_std``, not modelled here): the oracle a
    perfect generator would match.
    """
    probs = np.asarray(route_probs, np.float64)
    angles = route_angles(len(probs), spread)
    speed = np.asarray(speed, np.float64)
    route = rng.choice(len(probs), size=(len(speed), int(num_samples)), p=probs)
    direction = np.stack([np.cos(angles[route]), np.sin(angles[route])], -1)  # [N, S, 2]
    t = np.arange(1, int(pred_len) + 1, dtype=np.float64)
    mean = speed[:, None, None, None] * t[None, None, :, None] * direction[:, :, None, :]
    return (mean + noise_std * rng.normal(size=mean.shape)).astype(np.float32)


def sample_trajectories(rng: np.random.Generator, num: int, *, route_probs, obs_len: int,
                        pred_len: int, spread: float, speed_low: float, speed_high: float,
                        offset_std: float, noise_std: float) -> dict[str, np.ndarray]:
    """``num`` agents: ``past``, ``x`` (future), ``label``, ``speed`` (see the module doc)."""
    probs = np.asarray(route_probs, np.float64)
    angles = route_angles(len(probs), spread)
    speed = rng.uniform(speed_low, speed_high, size=num)
    offset = offset_std * rng.normal(size=num)
    route = rng.choice(len(probs), size=num, p=probs)
    t_past = np.arange(-(obs_len - 1), 1, dtype=np.float64)
    t_future = np.arange(1, pred_len + 1, dtype=np.float64)
    past = np.stack([speed[:, None] * t_past, np.repeat(offset[:, None], obs_len, 1)], -1)
    direction = np.stack([np.cos(angles[route]), np.sin(angles[route])], -1)  # [N, 2]
    future = np.stack([np.zeros(num), offset], -1)[:, None, :] + (
        speed[:, None, None] * t_future[None, :, None] * direction[:, None, :])
    past = past + noise_std * rng.normal(size=past.shape)
    future = future + noise_std * rng.normal(size=future.shape)
    origin = past[:, -1:, :]
    return {"x": (future - origin).astype(np.float32), "past": (past - origin).astype(np.float32),
            "label": route.astype(np.int32), "speed": speed.astype(np.float32)}


def load_route_trajectories(name: str, data_dir: str | None = None,
                            route_probs=DEFAULT_ROUTE_PROBS, obs_len: int = 8,
                            pred_len: int = 12, spread: float = 0.8, speed_low: float = 0.3,
                            speed_high: float = 0.6, offset_std: float = 0.5,
                            noise_std: float = 0.05, num_train: int = 5000,
                            num_test: int = 500, seed: int = 0) -> data_lib.Dataset:
    """Agents at a junction (train rows first, then test); ``data_dir`` is ignored.

    Raises:
      ValueError: ``route_probs`` not a probability vector, ``obs_len < 2``,
        ``pred_len < 1``, a non-positive ``noise_std`` or speed bounds out of order.
    """
    del data_dir
    probs = np.asarray(route_probs, np.float64)
    if probs.ndim != 1 or probs.size < 1 or np.any(probs < 0) or abs(probs.sum() - 1) > 1e-6:
        raise ValueError(f"route_trajectories: route_probs must be a probability vector, got "
                         f"{tuple(route_probs)}")
    if int(obs_len) < 2 or int(pred_len) < 1:
        raise ValueError(f"route_trajectories: obs_len must be >= 2 and pred_len >= 1, got "
                         f"{obs_len} and {pred_len}")
    if noise_std <= 0 or not 0 < speed_low <= speed_high:
        raise ValueError(f"route_trajectories: need noise_std > 0 and 0 < speed_low <= "
                         f"speed_high, got {noise_std}, {speed_low}, {speed_high}")
    rng = np.random.default_rng(int(seed))
    kwargs = dict(route_probs=probs, obs_len=int(obs_len), pred_len=int(pred_len),
                  spread=float(spread), speed_low=float(speed_low),
                  speed_high=float(speed_high), offset_std=float(offset_std),
                  noise_std=float(noise_std))
    train = sample_trajectories(rng, int(num_train), **kwargs)
    test = sample_trajectories(rng, int(num_test), **kwargs)
    return data_lib.Dataset(name, train, test, data_lib.DatasetInfo(
        kind="continuous", event_shape=(int(pred_len), 2), num_classes=len(probs),
        description=f"agents at a junction taking {len(probs)} routes with probabilities "
                    f"{tuple(float(p) for p in probs)}; future {pred_len} steps given "
                    f"{obs_len} observed"))
