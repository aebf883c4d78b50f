"""Board calibration on synthetic footage: a ring of 6 known cameras (lens distortion,
different focal lengths and principal points) filming a 5x7 ChArUco board (100 mm squares,
75 mm DICT_4X4_50 markers) rendered with blur (sigma 0.8 px) and noise (2 grey levels);
frame 0 shows the board on the floor, which defines the world (Z up).

Goals (issue 16): focal within 0.5 %, principal point within 2 px, camera centres within
5 mm, rotations within 0.1 degree, reprojection RMS <= 0.5 px. Bad input is reported by
camera with what was missing.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("cv2")

from board_synthetic import (
    board_trajectory,
    render_views,
    ring_rig,
    rotation_error_deg,
)

from skelsplat.core.calibration.board import BoardSpec, board_from_options
from skelsplat.core.calibration.board_calibrate import calibrate_board
from skelsplat.core.calibration.board_detect import detect_board_images
from skelsplat.core.errors import CalibrationError

BOARD = BoardSpec("charuco", (5, 7), 100.0, 75.0, "DICT_4X4_50")


@pytest.fixture(scope="module")
def rig_and_views():
    rig = ring_rig(6)
    poses = board_trajectory(rig, BOARD)
    return rig, render_views(rig, BOARD, poses)


@pytest.fixture(scope="module")
def calibration(rig_and_views):
    rig, views = rig_and_views
    dets = [detect_board_images(views[c.name], BOARD, c.name) for c in rig]
    return rig, calibrate_board(dets, BOARD, origin_frame=0)


def test_board_calibration_meets_the_goals(calibration) -> None:
    truth, cal = calibration
    assert cal.rig.names == truth.names
    for c in truth:
        e = cal.rig[c.name]
        assert abs(e.fx / c.fx - 1) < 0.005 and abs(e.fy / c.fy - 1) < 0.005, c.name
        assert np.abs(e.K[:2, 2] - c.K[:2, 2]).max() < 2.0, c.name
        assert np.linalg.norm(e.center - c.center) < 0.005, c.name
        assert rotation_error_deg(e.R, c.R) < 0.1, c.name
        assert cal.rms_px[c.name] <= 0.5, c.name
    # Z up: every camera is above the floor board
    assert all(c.center[2] > 1.0 for c in cal.rig)


def test_board_calibration_summary_names_every_camera(calibration) -> None:
    truth, cal = calibration
    text = "\n".join(cal.lines)
    for n in truth.names:
        assert f"{n}: RMS" in text
    assert set(cal.rms_px) == set(truth.names)


def test_video_without_board_names_the_camera(rig_and_views) -> None:
    rig, views = rig_and_views
    blank = [(f, np.full_like(img, 128)) for f, img in views["cam3"]]
    dets = [detect_board_images(views[c.name] if c.name != "cam3" else blank, BOARD, c.name)
            for c in rig]
    with pytest.raises(CalibrationError, match=r"camera 'cam3'.*no 5x7 ChArUco board"):
        calibrate_board(dets, BOARD)


def test_wrong_board_definition_is_reported(rig_and_views) -> None:
    _rig, views = rig_and_views
    wrong = BoardSpec("charuco", (5, 7), 100.0, 75.0, "DICT_5X5_50")
    det = detect_board_images(views["cam1"][:5], wrong, "cam1")
    with pytest.raises(CalibrationError, match=r"camera 'cam1'.*no 5x7 ChArUco.*ArUco dictionary"):
        calibrate_board([det], wrong)


def test_wrong_squares_are_reported(rig_and_views) -> None:
    _, views = rig_and_views
    transposed = BoardSpec("charuco", (7, 5), 100.0, 75.0, "DICT_4X4_50")
    det = detect_board_images(views["cam1"][:6], transposed, "cam1")
    with pytest.raises(CalibrationError, match=r"camera 'cam1': ArUco markers of DICT_4X4_50 "
                                               r"were found in 6 of 6 frames, but no 7x5"):
        calibrate_board([det], transposed)


def test_board_never_seen_by_two_cameras_together(rig_and_views) -> None:
    _rig, views = rig_and_views
    seen1 = {f for f, _ in views["cam1"]}
    # cam2's views without any frame cam1 also saw: cam1 and cam2 never share a view
    only2 = [(f, img) for f, img in views["cam2"] if f not in seen1]
    dets = [detect_board_images(views["cam1"], BOARD, "cam1"),
            detect_board_images(only2, BOARD, "cam2")]
    with pytest.raises(CalibrationError, match=r"camera 'cam1' never sees the board in the "
                                               r"same frame as another camera"):
        calibrate_board(dets, BOARD)


def test_board_options_and_presets() -> None:
    b = board_from_options("charuco", "5x7", 100, 75, "DICT_4X4_50")
    assert b == BOARD and b.n_corners == 24
    c = board_from_options("checkerboard", "9x6", 40)
    assert c.inner_corners == (8, 5) and c.marker_mm is None
    assert board_from_options("anipose").squares == (10, 7)
    with pytest.raises(CalibrationError, match="marker size"):
        board_from_options("charuco", "5x7", 100, 120)
    with pytest.raises(CalibrationError, match="COLUMNSxROWS"):
        board_from_options("charuco", "five", 100, 75)


@pytest.mark.parametrize(("board", "model"), [
    (BoardSpec("checkerboard", (9, 6), 40.0), "pinhole"),
    (BOARD, "fisheye"),
])
def test_single_camera_intrinsics(board: BoardSpec, model: str) -> None:
    """Intrinsics of one camera from its own views: a 9x6-square checkerboard of 40 mm
    (pinhole) and the ChArUco board through an equidistant fisheye lens."""
    from board_synthetic import Renderer

    from skelsplat.core.calibration.intrinsics import calibrate_intrinsics

    rig = ring_rig(3, size=(640, 480), f=480.0, model=model, seed=7)
    cam = rig[0]
    poses = [p for p in board_trajectory(rig, board, per_camera=40, per_pair=0, seed=8)[1:41]]
    rend = Renderer(rig, board)
    rng = np.random.default_rng(9)
    images = [(f, rend.render(cam, p, 0.7, 2.0, rng)) for f, p in enumerate(poses)
              if rend.visible(cam, p)]
    assert len(images) >= 8
    det = detect_board_images(images, board, cam.name)
    assert len(det.views) >= 8
    intr = calibrate_intrinsics(det, board, model)
    assert abs(intr.K[0, 0] / cam.fx - 1) < 0.005 and abs(intr.K[1, 1] / cam.fy - 1) < 0.005
    assert np.abs(intr.K[:2, 2] - cam.K[:2, 2]).max() < 2.0
    assert intr.rms_px < 0.5


def test_checkerboard_rig_around_the_board() -> None:
    """A 10x7-square checkerboard (60 mm) filmed by 4 cameras 90 degrees apart: the corner
    order must agree across cameras that see the board from opposite sides (odd total of
    squares: the dark outside square marks the first corner). Smaller images (640x480) and
    fewer views than the goal rig above; measured <= 2.4 mm, <= 0.11 deg, RMS <= 0.08 px."""
    board = BoardSpec("checkerboard", (10, 7), 60.0)
    rig = ring_rig(4, radius=2.0, size=(640, 480), f=520.0, seed=3)
    poses = board_trajectory(rig, board, per_camera=20, per_pair=6, seed=4)
    views = render_views(rig, board, poses)
    cal = calibrate_board([detect_board_images(views[c.name], board, c.name) for c in rig],
                          board, origin_frame=0)
    for c in rig:
        e = cal.rig[c.name]
        assert np.linalg.norm(e.center - c.center) < 0.006, c.name
        assert rotation_error_deg(e.R, c.R) < 0.25, c.name
        assert cal.rms_px[c.name] <= 0.5, c.name
