"""Frame offsets from the epipolar geometry (core.sync.estimate_offsets_geometric).

Goal (issue 16): offsets of up to +/- 10 frames recovered exactly on synthetic takes and on
the demo with artificial shifts. The demo's own videos are not known to be in sync to the
frame (cam03 is placed 1 frame off), so on the demo the suggestion for a shifted take must
equal the unshifted suggestion minus the shift, for every shift that stays in range.
"""

from __future__ import annotations

import numpy as np
import pytest
from io_synthetic import ring_rig

from skelsplat.core.calibration import read_calibration
from skelsplat.core.errors import KeypointError
from skelsplat.core.footage import demo_take_dir, read_take
from skelsplat.core.keypoints.multiview import Keypoints2D
from skelsplat.core.sync import estimate_offsets_geometric

J = 17


def _motion(n: int, seed: int) -> np.ndarray:
    """[n, J, 3] m: a person walking about and swinging their limbs."""
    rng = np.random.default_rng(seed)
    t = np.arange(n, dtype=float)[:, None, None]
    base = rng.uniform([-0.25, -0.15, 0.1], [0.25, 0.15, 1.75], (J, 3))
    walk = np.concatenate([0.6 * np.sin(t[..., :1] / 15), 0.5 * np.cos(t[..., :1] / 11),
                           0 * t[..., :1]], -1)
    return base + walk + 0.15 * np.sin(t / 4 + rng.uniform(0, 6, (J, 3)))


def shift(kp: Keypoints2D, shifts: list[int]) -> Keypoints2D:
    """Camera v's frame t shows what frame t + shifts[v] showed (missing beyond the ends);
    the offsets that undo it are -shifts."""
    F = kp.shape[0]
    data = np.zeros_like(kp.data)
    for v, s in enumerate(shifts):
        src = np.arange(F) + s
        ok = (src >= 0) & (src < F)
        data[ok, v] = kp.data[src[ok], v]
    return Keypoints2D(data, kp.camera_names, kp.joint_set, fps=kp.fps)


@pytest.mark.parametrize("shifts", [[0, 10, -10, 3, -7, 0], [0, -4, 9, -10, 1, 6],
                                    [0, 0, 0, 0, 0, 0]])
def test_synthetic_offsets_are_recovered_exactly(shifts: list[int]) -> None:
    rig = ring_rig(6, radius=4.0)
    rng = np.random.default_rng(1)
    X = _motion(120, 0)
    uv = rig.project(X) + rng.normal(0, 1.0, (120, J, 6, 2))
    data = np.concatenate([uv, np.full((120, J, 6, 1), 0.9)], -1).transpose(0, 2, 1, 3)
    kp = Keypoints2D(data, rig.names, "coco_17")
    s = estimate_offsets_geometric(rig, shift(kp, shifts), max_lag=12)
    assert list(s.offsets.values()) == [-x for x in shifts], s.lines()
    assert all(s.reliable.values()), s.lines()


def test_demo_shifts_are_recovered_exactly(demo_keypoints) -> None:
    root = demo_take_dir()
    rig = read_take(root / "videos", read_calibration(root / "calibration" / "Calib.qca.txt")).rig
    kp = demo_keypoints
    first = estimate_offsets_geometric(rig, kp, max_lag=10)
    base = np.array(list(first.offsets.values()))
    assert base[[0, 1, 3]].tolist() == [0, 0, 0] and abs(base[2]) <= 2
    assert first.reliable["cam02"] and first.reliable["cam04"], first.lines()
    rng = np.random.default_rng(0)
    patterns = [[0, 10, -7, 4], [0, -10, 9, -3], [0, 3, -3, -10], [0, 7, 4, 10]]
    patterns += [[0, *rng.integers(-10, 11, 3)] for _ in range(4)]
    for shifts in patterns:
        expected = base - np.array(shifts)
        if np.abs(expected).max() > 10:
            continue
        got = estimate_offsets_geometric(rig, shift(kp, shifts), max_lag=10).offsets
        assert list(got.values()) == expected.tolist(), (shifts, got)


def test_geometric_sync_bad_input() -> None:
    rig = ring_rig(2)
    kp = Keypoints2D(np.zeros((12, 2, J, 3)), rig.names, "coco_17")
    with pytest.raises(KeypointError, match="too few"):
        estimate_offsets_geometric(rig, kp, max_lag=10)
    with pytest.raises(KeypointError, match="reference camera 'x'"):
        estimate_offsets_geometric(rig, kp, reference="x", max_lag=2)
