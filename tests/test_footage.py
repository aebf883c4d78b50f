"""Takes: matching videos to cameras, size reconciliation, fps / frame-count checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from skelsplat.core.camera import Camera, Rig
from skelsplat.core.errors import VideoError
from skelsplat.core.footage import demo_take_dir, match_videos, read_take, reconcile_camera
from skelsplat.core.video import write_video


def _camera(name: str, size=(1088, 1920), f: float = 1600.0) -> Camera:
    K = np.array([[f, 0, 533.0], [0, f, 948.0], [0, 0, 1]])
    return Camera(name, K, np.zeros(5), np.eye(3), np.array([0.0, 0.0, 3.0]), size)


def _paths(*names: str) -> list[Path]:
    return [Path("/take") / n for n in names]


def test_match_exact_then_case_then_digits() -> None:
    got = match_videos(["cam01", "Cam2", "cam03"], _paths("cam01.mp4", "cam2.MOV", "cam_3.avi"))
    assert {c: p.name for c, p in got.items()} == {
        "cam01": "cam01.mp4", "Cam2": "cam2.MOV", "cam03": "cam_3.avi"}


def test_digits_rule_pairs_numbered_names() -> None:
    got = match_videos(["cam01", "cam02"], _paths("02.mp4", "1.mp4"))
    assert {c: p.name for c, p in got.items()} == {"cam01": "1.mp4", "cam02": "02.mp4"}


def test_exact_name_wins_over_digits() -> None:
    got = match_videos(["cam1", "cam01"], _paths("cam01.mp4", "cam1.mp4"))
    assert {c: p.name for c, p in got.items()} == {"cam1": "cam1.mp4", "cam01": "cam01.mp4"}


def test_unmatched_camera_is_an_error_unless_sorted_is_asked() -> None:
    cams, vids = ["left", "right"], _paths("GOPR0001.mp4", "GOPR0002.mp4")
    with pytest.raises(VideoError, match=r"no video for camera\(s\) \['left', 'right'\].*sorted"):
        match_videos(cams, vids)
    got = match_videos(cams, vids, allow_sorted=True)
    assert [got["left"].name, got["right"].name] == ["GOPR0001.mp4", "GOPR0002.mp4"]


def test_explicit_mapping_overrides_names() -> None:
    got = match_videos(["cam01", "cam02"], _paths("cam01.mp4", "cam02.mp4"),
                       mapping={"cam01": "cam02.mp4", "cam02": "cam01"})
    assert (got["cam01"].name, got["cam02"].name) == ("cam02.mp4", "cam01.mp4")
    with pytest.raises(VideoError, match="camera 'cam07', which the calibration"):
        match_videos(["cam01"], _paths("cam01.mp4"), mapping={"cam07": "cam01.mp4"})
    with pytest.raises(VideoError, match=r"'other\.mp4' is not one of the videos"):
        match_videos(["cam01"], _paths("cam01.mp4"), mapping={"cam01": "other.mp4"})


def test_ambiguous_match_is_an_error() -> None:
    with pytest.raises(VideoError, match="camera 'cam1' matches several videos"):
        match_videos(["cam1"], _paths("a_1.mp4", "b_1.mp4"))


def test_small_crop_keeps_intrinsics_and_warns() -> None:
    cam = _camera("cam01")
    new, msg = reconcile_camera(cam, (1080, 1920))
    assert new.size == (1080, 1920)
    np.testing.assert_array_equal(new.K, cam.K)
    assert "cam01" in msg and "1080x1920" in msg and "1088x1920" in msg and "cropped" in msg
    same, none = reconcile_camera(cam, (1088, 1920))
    assert same is cam and none is None


def test_same_aspect_other_scale_rescales_intrinsics() -> None:
    cam = _camera("c", size=(3840, 2160), f=3000.0)
    new, msg = reconcile_camera(cam, (1920, 1080))
    assert new.K[0, 0] == pytest.approx(1500.0) and new.K[1, 1] == pytest.approx(1500.0)
    assert new.K[0, 2] == pytest.approx((533.0 + 0.5) / 2 - 0.5)
    assert "rescaled by 0.5" in msg
    # a rescaled camera sees a world point at half the pixel coordinates (+ centre shift)
    X = np.array([0.3, -0.2, 1.0])
    np.testing.assert_allclose(new.project(X), (cam.project(X) + 0.5) / 2 - 0.5, atol=1e-9)


@pytest.mark.parametrize("size", [(1920, 1088), (1200, 1920), (1000, 1920)])
def test_irreconcilable_sizes_are_errors(size) -> None:
    with pytest.raises(VideoError, match=r"camera cam01: video is \d+x\d+ px but the "
                                         r"calibration says 1088x1920"):
        reconcile_camera(_camera("cam01"), size)


def test_demo_take_matches_and_reconciles() -> None:
    root = demo_take_dir()
    assert (root / "LICENSE").is_file() and (root / "PROVENANCE.md").is_file()
    rig = Rig([_camera(f"cam0{i}") for i in range(1, 5)])
    take = read_take(root / "videos", rig)
    assert take.camera_names == ["cam01", "cam02", "cam03", "cam04"]
    assert take.n_frames == 100 and take.fps == pytest.approx(60.0)
    assert [tuple(s) for s in take.rig.sizes] == [(1080, 1920)] * 2 + [(1088, 1920)] * 2
    assert len(take.warnings) == 2
    assert all("cropped at the right/bottom" in w for w in take.warnings)
    assert "cam01" in take.warnings[0] and "cam02" in take.warnings[1]


def _write(path: Path, n: int, fps: float, size=(32, 24)) -> Path:
    w, h = size
    return write_video(path, np.full((n, h, w, 3), 90, np.uint8), fps=fps)


def test_frame_counts_and_offsets_give_the_common_range(tmp_path: Path) -> None:
    _write(tmp_path / "a.mp4", 12, 30)
    _write(tmp_path / "b.mp4", 10, 30)
    take = read_take(tmp_path)
    assert take.camera_names == ["a", "b"] and take.n_frames == 10
    assert any("frame counts" in w and "common take frames 0..9" in w for w in take.warnings)
    shifted = read_take(tmp_path, offsets={"a": 3, "b": -1})
    # a: t + 3 < 12 -> t < 9; b: 0 <= t - 1 < 10 -> 1 <= t < 11  => t in 1..8
    np.testing.assert_array_equal(shifted.frame_numbers, np.arange(1, 9))
    np.testing.assert_array_equal(shifted.video_frames("a"), np.arange(4, 12))
    np.testing.assert_array_equal(shifted.video_frames("b"), np.arange(0, 8))
    with pytest.raises(VideoError, match=r"offsets given for unknown camera\(s\) \['c'\]"):
        read_take(tmp_path, offsets={"c": 1})
    with pytest.raises(VideoError, match="share no frame"):
        read_take(tmp_path, offsets={"a": 12})


def test_different_fps_is_an_error(tmp_path: Path) -> None:
    _write(tmp_path / "a.mp4", 5, 30)
    _write(tmp_path / "b.mp4", 5, 25)
    with pytest.raises(VideoError, match=r"different frame rates \(.*a=30.*b=25"):
        read_take(tmp_path)


def test_fps_within_a_tenth_of_a_percent_is_a_warning(tmp_path: Path) -> None:
    _write(tmp_path / "a.mp4", 5, 30)
    _write(tmp_path / "b.mp4", 5, 30.01)  # 0.033 % faster
    _write(tmp_path / "c.mp4", 5, 30)
    take = read_take(tmp_path)
    assert take.fps == pytest.approx(30.0)
    assert any("frame rates differ slightly (b=30.01)" in w for w in take.warnings)


def test_unreadable_video_names_the_camera(tmp_path: Path) -> None:
    _write(tmp_path / "cam1.mp4", 5, 30)
    (tmp_path / "cam2.mp4").write_bytes(b"not a video at all")
    rig = Rig([_camera("cam1", (32, 24), 30.0), _camera("cam2", (32, 24), 30.0)])
    with pytest.raises(VideoError, match=r"cam2\.mp4.*\(camera cam2\).*cannot be opened"):
        read_take(tmp_path, rig)


def test_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(VideoError, match="no video files in folder"):
        read_take(tmp_path)
