"""``skelsplat calibrate`` end to end: board videos -> TOML; refine; sync; bad input.

The board videos are rendered from a synthetic ring of 4 cameras (tests/board_synthetic.py)
and encoded with H.264 (CRF 12), so detection runs on decoded, compressed frames.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("cv2")

from board_synthetic import (
    Renderer,
    board_trajectory,
    ring_rig,
    rotation_error_deg,
)
from test_calibration_refine import perturb, synthetic_take

from skelsplat.cli.main import main
from skelsplat.core.calibration import read_calibration, write_calibration_toml
from skelsplat.core.calibration.board import BoardSpec
from skelsplat.core.calibration.quality import read_calibration_errors
from skelsplat.core.keypoints import write_keypoints_npz
from skelsplat.core.video import write_video

BOARD = BoardSpec("charuco", (5, 7), 100.0, 75.0, "DICT_4X4_50")
BOARD_ARGS = ["--board", "charuco", "--squares", "5x7", "--square-mm", "100", "--marker-mm",
              "75", "--dictionary", "DICT_4X4_50"]


def run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def board_take(tmp_path_factory) -> tuple[object, Path]:
    """4 videos (cam1..cam4.mp4) of the board moving through a known rig."""
    rig = ring_rig(4, radius=2.0, size=(640, 480), f=520.0, seed=3)
    poses = board_trajectory(rig, BOARD, per_camera=14, per_pair=6, seed=4)
    rend = Renderer(rig, BOARD)
    rng = np.random.default_rng(5)
    folder = tmp_path_factory.mktemp("board_videos")
    for cam in rig:
        frames = []
        for pose in poses:
            img = rend.render(cam, pose, 0.8, 2.0, rng) if rend.visible(cam, pose) \
                else np.full(cam.size[::-1], 110, np.uint8)
            frames.append(np.repeat(img[..., None], 3, -1))
        write_video(folder / f"{cam.name}.mp4", np.stack(frames), fps=30)
    return rig, folder


def test_calibrate_board_videos_writes_toml(board_take, tmp_path) -> None:
    truth, folder = board_take
    out = tmp_path / "calib.toml"
    code, text, err = run(["calibrate", "--videos", str(folder), *BOARD_ARGS,
                           "--origin-frame", "0", "--out", str(out)])
    assert code == 0, err
    rig = read_calibration(out)
    assert rig.names == ["cam1", "cam2", "cam3", "cam4"]
    errors = read_calibration_errors(out)
    assert set(errors) == set(rig.names) and max(errors.values()) <= 0.5
    for c in truth:
        e = rig[c.name]
        assert abs(e.fx / c.fx - 1) < 0.005, c.name
        # 4 cameras, 640x480, fewer views and H.264: looser than the goal rig
        # (test_board_calibration.py); measured <= 10 mm, <= 0.32 deg
        assert np.linalg.norm(e.center - c.center) < 0.015, c.name
        assert rotation_error_deg(e.R, c.R) < 0.5, c.name
    assert "cam1: RMS" in text and f"wrote {out}" in text
    # never replaces a file without --overwrite
    code, _, err = run(["calibrate", "--videos", str(folder), *BOARD_ARGS, "--out", str(out)])
    assert code == 2 and "exists" in err


def test_calibrate_video_without_board_writes_nothing(board_take, tmp_path) -> None:
    _, folder = board_take
    bad = tmp_path / "videos"
    bad.mkdir()
    for name in ("cam1", "cam2", "cam4"):
        (bad / f"{name}.mp4").symlink_to(folder / f"{name}.mp4")
    write_video(bad / "cam3.mp4", np.full((10, 480, 640, 3), 110, np.uint8), fps=30)
    out = tmp_path / "calib.toml"
    code, _, err = run(["calibrate", "--videos", str(bad), *BOARD_ARGS, "--out", str(out)])
    assert code == 2 and not out.exists()
    assert "camera 'cam3'" in err and "no 5x7 ChArUco board" in err


def test_calibrate_wrong_board_definition_writes_nothing(board_take, tmp_path) -> None:
    _, folder = board_take
    out = tmp_path / "calib.toml"
    code, _, err = run(["calibrate", "--videos", str(folder), "--board", "checkerboard",
                        "--squares", "9x6", "--square-mm", "40", "--step", "4",
                        "--out", str(out)])
    assert code == 2 and not out.exists()
    assert "camera 'cam1'" in err and "no 9x6 checkerboard" in err
    assert "squares, not inner corners" in err


def test_refine_and_sync_commands(tmp_path) -> None:
    from io_synthetic import ring_rig as io_ring

    truth = io_ring(4, radius=3.5)
    start = perturb(truth)
    cal = write_calibration_toml(start, tmp_path / "start.toml")
    kp = synthetic_take(truth, n=60)
    kp_path = write_keypoints_npz(kp, tmp_path / "kp.npz")
    out = tmp_path / "refined.toml"
    code, text, err = run(["calibrate", "refine", "--calibration", str(cal), "--keypoints",
                           str(kp_path), "--out", str(out)])
    assert code == 0, err
    refined = read_calibration(out)
    errors = read_calibration_errors(out)
    assert max(errors.values()) < 2.5 and "cam01: RMS" in text
    moved = [np.linalg.norm(refined[n].center - start[n].center) for n in truth.names]
    assert max(moved) > 0.01  # it did move the cameras
    # sync on the true calibration: shifted keypoints give the shifts back
    data = kp.data.copy()
    data[:-4, 1] = kp.data[4:, 1]  # cam02's frame t shows frame t + 4: offset -4
    data[-4:, 1] = 0
    shifted = write_keypoints_npz(type(kp)(data, kp.camera_names, kp.joint_set),
                                  tmp_path / "shifted.npz")
    truth_path = write_calibration_toml(truth, tmp_path / "truth.toml")
    code, text, err = run(["calibrate", "sync", "--calibration", str(truth_path),
                           "--keypoints", str(shifted)])
    assert code == 0, err
    assert "--offsets cam02=-4 cam03=0 cam04=0" in text
    code, _, err = run(["calibrate", "sync", "--keypoints", str(shifted)])
    assert code == 2 and "--calibration" in err


def test_calibration_errors_for_the_report(tmp_path) -> None:
    from io_synthetic import ring_rig as io_ring

    from skelsplat.core.calibration.quality import (
        calibration_error_details,
        write_calibration_with_errors,
    )

    rig = io_ring(2)
    path = write_calibration_with_errors(rig, {"cam01": 0.25, "cam02": 0.5}, "board",
                                         tmp_path / "c.toml", "5x7 board")
    assert read_calibration(path).allclose(rig, 1e-9, 1e-9)
    text = path.read_text()
    assert "error = 0.3952847075210474" in text  # RMS over cameras
    assert calibration_error_details(path) == {
        "calibration reprojection error (RMS, board)": "cam01 0.250 px, cam02 0.500 px"}
    plain = write_calibration_toml(rig, tmp_path / "plain.toml")
    assert read_calibration_errors(plain) is None and calibration_error_details(plain) == {}
    with pytest.raises(Exception, match="exists"):
        write_calibration_with_errors(rig, {}, "board", path)
