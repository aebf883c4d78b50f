"""Offset suggestions from 2D keypoint motion (core.sync) on synthetic multi-view takes."""

from __future__ import annotations

import numpy as np
import pytest

from skelsplat.core.camera import Camera
from skelsplat.core.errors import KeypointError
from skelsplat.core.keypoints.multiview import Keypoints2D
from skelsplat.core.sync import estimate_offsets, lag_correlation, speed_profile

J = 17


def _look_at(eye: np.ndarray, name: str) -> Camera:
    z = -eye / np.linalg.norm(eye)
    x = np.cross(z, [0.0, 0.0, 1.0])
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    R = np.stack([x, y, z])
    K = np.array([[1000.0, 0, 640], [0, 1000.0, 360], [0, 0, 1]])
    return Camera(name, K, np.zeros(5), R, -R @ eye, (1280, 720))


def _motion(n: int, seed: int) -> np.ndarray:
    """[n, J, 3] m: a body whose limbs swing with bursts of activity at random times."""
    rng = np.random.default_rng(seed)
    t = np.arange(n, dtype=float)
    envelope = np.zeros(n)
    for c in rng.uniform(0, n, 8):
        envelope += np.exp(-0.5 * ((t - c) / rng.uniform(3, 8)) ** 2)
    base = rng.normal(0, 0.25, (J, 3)) + np.array([0.0, 0.0, 1.0])
    phase = rng.uniform(0, 2 * np.pi, (J, 3))
    swing = 0.15 * envelope[:, None, None] * np.sin(0.5 * t[:, None, None] + phase)
    return base + swing


def _take(delays: list[int], n: int = 120, noise_px: float = 0.7, seed: int = 0) -> Keypoints2D:
    """Camera v's frame t shows world time t + delays[v] (+ 20 margin)."""
    X = _motion(n + 40, seed)
    eyes = [np.array([4.0, 0, 1.5]), np.array([0, 4.0, 1.2]), np.array([-3.0, -3.0, 2.0])]
    rng = np.random.default_rng(seed + 1)
    data = np.zeros((n, len(delays), J, 3))
    for v, d in enumerate(delays):
        cam = _look_at(eyes[v], f"cam{v}")
        uv = cam.project(X[20 + d: 20 + d + n])
        data[:, v, :, :2] = uv + rng.normal(0, noise_px, uv.shape)
        data[:, v, :, 2] = 0.9
    return Keypoints2D(data, [f"cam{v}" for v in range(len(delays))], "coco_17")


def test_lag_correlation_finds_a_shift() -> None:
    rng = np.random.default_rng(3)
    a = np.convolve(rng.normal(size=200), np.ones(5) / 5, mode="same")
    b = np.roll(a, 6)  # b[t] = a[t - 6]: the event at a's t shows at b's t + 6
    r = lag_correlation(a, b, 20, 100)
    assert int(np.argmax(r)) - 20 == 6 and r.max() > 0.95


@pytest.mark.parametrize("delays", [[0, 7, -5], [0, 0, 0], [3, -12, 0]])
def test_estimate_offsets_recovers_known_delays(delays: list[int]) -> None:
    s = estimate_offsets(_take(delays), max_lag=20)
    expected = {f"cam{v}": delays[0] - d for v, d in enumerate(delays)}
    assert s.offsets == expected
    assert s.reference == "cam0"
    assert all(s.reliable.values()), s.lines()
    assert min(s.correlation.values()) > 0.8


def test_reference_camera_choice() -> None:
    s = estimate_offsets(_take([0, 7, -5]), reference="cam1", max_lag=20)
    assert s.offsets == {"cam0": 7, "cam1": 0, "cam2": 12}


def test_unrelated_motion_is_not_reliable() -> None:
    a, b = _take([0, 0], seed=1), _take([0, 0], seed=2)
    mixed = Keypoints2D(np.concatenate([a.data[:, :1], b.data[:, 1:]], axis=1),
                        ["cam0", "cam1"], "coco_17")
    s = estimate_offsets(mixed, max_lag=20)
    assert not s.reliable["cam1"], s.lines()
    assert "UNCERTAIN" in s.lines()[1]
    if abs(s.offsets["cam1"]) == 20:
        assert "at the search limit of 20 frames" in s.lines()[1]


def test_missing_detections_are_tolerated() -> None:
    kp = _take([0, 4])
    data = kp.data.copy()
    data[30:45, 1, :, 2] = 0.0  # camera 1 loses the person for 15 frames
    data[::7, 0, :5, 2] = 0.0
    s = estimate_offsets(Keypoints2D(data, kp.camera_names, "coco_17"), max_lag=20)
    assert s.offsets["cam1"] == -4 and s.reliable["cam1"]
    prof = speed_profile(data[:, 1])
    assert prof.shape == (119,) and np.all(prof[30:44] == 0.0)


def test_bad_inputs() -> None:
    kp = _take([0, 0])
    with pytest.raises(KeypointError, match="at least two cameras"):
        estimate_offsets(Keypoints2D(kp.data[:, :1], ["cam0"], "coco_17"))
    with pytest.raises(KeypointError, match="reference camera 'camX'"):
        estimate_offsets(kp, reference="camX")
    with pytest.raises(KeypointError, match="too few"):
        estimate_offsets(kp.frames(0, 6))
