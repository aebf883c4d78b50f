"""3D exports: NPZ, JSON, TRC, C3D round trips, conventions and refusals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from skelsplat.core.errors import ExportError
from skelsplat.core.export3d import (
    TRC_ROTATIONS,
    read_c3d,
    read_motion,
    read_trc,
    write_motion,
)
from skelsplat.core.motion import Motion3D
from skelsplat.core.skeletons import CANONICAL_JOINTS

FIX = Path(__file__).parent / "fixtures" / "io"


def _motion(F: int = 9, fps: float | None = 60.0, seed: int = 0) -> Motion3D:
    rng = np.random.default_rng(seed)
    J = len(CANONICAL_JOINTS)
    X = rng.uniform(-3, 3, (F, J, 3))
    valid = rng.random((F, J)) > 0.15
    cov = np.broadcast_to(np.eye(3) * 4e-4, (F, J, 3, 3)).copy()
    return Motion3D(X, list(CANONICAL_JOINTS), valid, covariances=cov, fps=fps,
                    frame_numbers=np.arange(100, 100 + F), camera_names=["a", "b"])


@pytest.mark.parametrize("suffix, tol", [(".npz", 0.0), (".json", 0.0), (".trc", 5.0e-7),
                                         (".c3d", 1e-6)])
def test_round_trip(tmp_path: Path, suffix: str, tol: float) -> None:
    m = _motion()
    path = write_motion(m, tmp_path / f"take{suffix}")
    back = read_motion(path)
    assert back.joint_names == m.joint_names
    np.testing.assert_array_equal(back.valid, m.valid)
    np.testing.assert_array_equal(back.frame_numbers, m.frame_numbers)
    assert back.fps == 60.0
    err = np.abs(back.joints3d[m.valid] - m.joints3d[m.valid]).max()
    assert err <= tol
    assert np.all(np.isnan(back.joints3d[~m.valid]))
    if suffix == ".npz":
        np.testing.assert_array_equal(back.covariances, m.covariances)


@pytest.mark.parametrize("world_up", list(TRC_ROTATIONS))
def test_trc_header_and_y_up_convention(tmp_path: Path, world_up: str) -> None:
    m = _motion(F=4)
    path = write_motion(m, tmp_path / "t.trc", world_up=world_up)
    lines = path.read_text().splitlines()
    assert lines[0] == "PathFileType\t4\t(X/Y/Z)\tt.trc"
    header = dict(zip(lines[1].split("\t"), lines[2].split("\t")))
    assert header == {"DataRate": "60", "CameraRate": "60", "NumFrames": "4",
                      "NumMarkers": str(len(CANONICAL_JOINTS)), "Units": "m", "OrigDataRate": "60",
                      "OrigDataStartFrame": "101", "OrigNumFrames": "4"}
    assert lines[3].split("\t")[2] == "pelvis" and lines[4].split("\t")[2:5] == ["X1", "Y1", "Z1"]
    first = lines[6].split("\t")
    assert first[0] == "101" and float(first[1]) == pytest.approx(100 / 60, abs=1e-6)
    # the world's up axis becomes TRC +Y
    up = {"z": [0, 0, 1.0], "y": [0, 1.0, 0], "-y": [0, -1.0, 0]}[world_up]
    np.testing.assert_array_equal(TRC_ROTATIONS[world_up] @ up, [0, 1, 0])
    assert np.linalg.det(TRC_ROTATIONS[world_up]) == pytest.approx(1.0)
    back = read_trc(path, world_up=world_up)
    assert np.abs(back.joints3d[m.valid] - m.joints3d[m.valid]).max() <= 5e-7


def test_trc_from_another_tool_in_millimetres() -> None:
    m = read_trc(FIX / "trc" / "pose2sim_style.trc", world_up="y")
    assert m.joint_names == ["Hip", "Neck"] and m.fps == 30.0
    np.testing.assert_array_equal(m.frame_numbers, [0, 1, 2])
    np.testing.assert_allclose(m.joints3d[0], [[0.1, 0.9, -0.05], [0.11, 1.4, -0.04]])
    assert not m.valid[1, 1] and m.valid.sum() == 5


def test_c3d_metadata(tmp_path: Path) -> None:
    m = _motion(F=3, fps=50.0)
    path = write_motion(m, tmp_path / "t.c3d")
    back = read_c3d(path)
    assert back.fps == 50.0 and back.joint_names == list(CANONICAL_JOINTS)
    np.testing.assert_array_equal(back.frame_numbers, [100, 101, 102])


def test_json_layout(tmp_path: Path) -> None:
    import json

    m = _motion(F=2)
    doc = json.loads(write_motion(m, tmp_path / "t.json").read_text())
    assert doc["units"] == "m" and doc["fps"] == 60.0 and doc["joint_names"][0] == "pelvis"
    f0 = doc["frames"][0]
    assert f0["frame"] == 100
    for j, name in enumerate(CANONICAL_JOINTS):
        assert (f0["joints"][name] is None) == (not m.valid[0, j])
    assert doc["valid"] == m.valid.tolist()


@pytest.mark.parametrize("suffix", [".npz", ".json", ".trc", ".c3d"])
def test_never_overwrites_without_permission(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"x{suffix}"
    path.write_bytes(b"keep me")
    with pytest.raises(ExportError, match="exists"):
        write_motion(_motion(), path)
    assert path.read_bytes() == b"keep me"
    write_motion(_motion(), path, overwrite=True)
    assert read_motion(path).n_frames == 9


def test_bad_requests(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="unknown motion format"):
        write_motion(_motion(), tmp_path / "x.bvh")
    with pytest.raises(ExportError, match="frame rate"):
        write_motion(_motion(fps=None), tmp_path / "x.trc")
    write_motion(_motion(fps=None), tmp_path / "x.trc", fps=25.0)
    assert read_trc(tmp_path / "x.trc").fps == 25.0
    write_motion(_motion(fps=None), tmp_path / "x.json")          # JSON needs no rate
    with pytest.raises(ExportError, match="world_up"):
        write_motion(_motion(), tmp_path / "y.trc", world_up="x")
