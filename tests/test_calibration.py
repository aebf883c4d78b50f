"""Calibration readers and the TOML writer: real files (shared data), fixtures, round trips."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from io_synthetic import ring_rig

from skelsplat.cli.main import main as cli_main
from skelsplat.core.calibration import (
    CALIBRATION_FORMATS,
    detect_calibration_format,
    read_calibration,
    write_calibration_toml,
)
from skelsplat.core.camera import Camera, Rig, rotation_from_rodrigues
from skelsplat.core.errors import CalibrationError

FIX = Path(__file__).parent / "fixtures" / "io"


def _pose2sim(shared: Path) -> Path:
    return shared / "pose2sim_demo" / "calibration"


def _panoptic(shared: Path, seq: str = "160906_band1") -> Path:
    return shared / "mmpose_testdata" / "panoptic" / seq


def assert_same_rig(a: Rig, b: Rig, tol: float = 1e-12) -> None:
    assert a.names == b.names
    for x, y in zip(a, b):
        assert x.model == y.model and x.size == y.size
        np.testing.assert_array_equal(x.K, y.K)
        np.testing.assert_array_equal(x.dist, y.dist)
        np.testing.assert_allclose(x.R, y.R, atol=tol, rtol=0)
        np.testing.assert_allclose(x.t, y.t, atol=tol, rtol=0)


# ------------------------------------------------------------------------ real data
def test_qualisys_agrees_with_pose2sim_conversion(shared_data: Path) -> None:
    qca = read_calibration(_pose2sim(shared_data) / "Calib.qca.txt")
    ref = read_calibration(_pose2sim(shared_data) / "Calib_converted.toml")
    assert qca.names == ["cam01", "cam02", "cam03", "cam04"]
    assert ref.names == ["cam_01", "cam_02", "cam_03", "cam_04"]
    for a, b in zip(qca, ref):
        assert a.size == b.size == (1088, 1920)
        np.testing.assert_array_equal(a.K, b.K)          # intrinsics exact
        np.testing.assert_array_equal(a.dist, b.dist)
        assert np.abs(a.R - b.R).max() < 1e-6
        assert np.abs(a.t - b.t).max() < 1e-4             # 0.1 mm
    assert detect_calibration_format(_pose2sim(shared_data) / "Calib.qca.txt") == "qualisys"
    assert detect_calibration_format(_pose2sim(shared_data) / "Calib_converted.toml") == "pose2sim"
    # the demo cameras stand 2.9 m to 6.7 m apart
    b = qca.baselines()[np.triu_indices(4, 1)]
    assert 2.8 < b.min() < 2.9 and 6.6 < b.max() < 6.7


def _read_shelf_gt(path: Path) -> np.ndarray:
    """All valid ground-truth joints [N, 3] (metres) of the 4D-association gt.txt."""
    tok = path.read_text().split()
    J, F = int(tok[0]), int(tok[1])
    i, pts = 2, []
    for _ in range(F):
        n = int(tok[i])
        i += 1
        for _ in range(n):
            a = np.array(tok[i + 1:i + 1 + 4 * J], dtype=float).reshape(4, J)
            i += 1 + 4 * J
            pts.append(a[:3].T[a[3] > 0])
    assert i == len(tok)
    return np.concatenate(pts)


def test_shelf_and_voxelpose_describe_the_same_rig(shared_data: Path) -> None:
    root = shared_data / "shelf_4dassoc"
    shelf = read_calibration(root / "calibration.json")
    vox = read_calibration(root / "calibration_shelf_voxelpose_mm.json")
    assert detect_calibration_format(root / "calibration.json") == "shelf"
    assert detect_calibration_format(root / "calibration_shelf_voxelpose_mm.json") == "voxelpose"
    assert shelf.names == vox.names == ["0", "1", "2", "3", "4"]
    assert all(c.size == (1032, 776) for c in shelf)
    assert np.linalg.norm(shelf.centers - vox.centers, axis=1).max() < 1e-3   # 1 mm
    X = _read_shelf_gt(root / "gt.txt")
    assert len(X) > 5000
    uv_s, uv_v = shelf.project(X), vox.project(X)
    assert np.linalg.norm(uv_s - uv_v, axis=-1).max() < 1.0                     # px
    inside = np.stack([c.in_image(uv_s[:, k]) for k, c in enumerate(shelf)], 1)
    assert inside.mean() > 0.95
    # VoxelPose stores no image size: estimated from the principal point, or given
    given = read_calibration(root / "calibration_shelf_voxelpose_mm.json",
                             image_size=(1032, 776))
    assert all(c.size == (1032, 776) for c in given)


def test_panoptic_hd_cameras_and_ground_truth_projection(shared_data: Path) -> None:
    seq = _panoptic(shared_data)
    rig = read_calibration(seq / "calibration_160906_band1.json")
    assert len(rig) == 31 and rig.names[0] == "00_00" and rig.names[-1] == "00_30"
    assert all(c.size == (1920, 1080) and c.has_distortion for c in rig)
    assert 2.5 < rig.scale < 5.0                                   # cm -> m
    sub = read_calibration(seq / "calibration_160906_band1.json", cameras=["00_16", "00_03"])
    assert sub.names == ["00_16", "00_03"]
    vga = read_calibration(seq / "calibration_160906_band1.json", cameras=["01_01"])
    assert vga[0].size == (640, 480)
    pts = []
    for f in sorted((seq / "hdPose3d_stage1_coco19").glob("*.json")):
        for body in json.loads(f.read_text())["bodies"]:
            j = np.array(body["joints19"]).reshape(-1, 4)
            pts.append(j[j[:, 3] > 0.1, :3] / 100.0)
    X = np.concatenate(pts)
    assert np.all(np.stack([c.depth(X) for c in rig]) > 0.5)     # in front of every camera
    uv = rig.project(X)
    inside = np.stack([c.in_image(uv[:, v]) for v, c in enumerate(rig)], 1)
    assert inside.mean() > 0.85 and inside.mean(0).min() > 0.6
    # distortion matters at this scale: ignoring it moves points by > 2 px somewhere
    c = rig["00_03"]
    plain = Camera("p", c.K, np.zeros(5), c.R, c.t, c.size)
    assert np.nanmax(np.linalg.norm(c.project(X) - plain.project(X), axis=-1)) > 2.0


def test_unknown_panoptic_camera_is_reported(shared_data: Path) -> None:
    path = _panoptic(shared_data) / "calibration_160906_band1.json"
    with pytest.raises(CalibrationError, match="99_99"):
        read_calibration(path, cameras=["99_99"])


def test_every_real_rig_round_trips_through_toml(shared_data: Path, tmp_path: Path) -> None:
    files = [
        (_pose2sim(shared_data) / "Calib.qca.txt", {}),
        (_pose2sim(shared_data) / "Calib_converted.toml", {}),
        (shared_data / "shelf_4dassoc" / "calibration.json", {}),
        (shared_data / "shelf_4dassoc" / "calibration_shelf_voxelpose_mm.json", {}),
        (_panoptic(shared_data) / "calibration_160906_band1.json", {}),
    ]
    for i, (path, kw) in enumerate(files):
        rig = read_calibration(path, **kw)
        out = write_calibration_toml(rig, tmp_path / f"{i}.toml")
        again = read_calibration(out)
        assert_same_rig(rig, again, tol=1e-12)
        # writing the re-read rig gives the same file again
        out2 = write_calibration_toml(again, tmp_path / f"{i}b.toml")
        assert_same_rig(again, read_calibration(out2), tol=1e-12)


def test_cli_convert_output_rereads_exactly(shared_data: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture) -> None:
    src = _pose2sim(shared_data) / "Calib.qca.txt"
    out = tmp_path / "calib.toml"
    assert cli_main(["calibration", "convert", str(src), str(out)]) == 0
    assert_same_rig(read_calibration(src), read_calibration(out))
    assert cli_main(["calibration", "convert", str(src), str(out)]) == 2   # exists
    assert "exists" in capsys.readouterr().err
    assert cli_main(["calibration", "convert", str(src), str(out), "--overwrite",
                     "--cameras", "cam03", "cam01"]) == 0
    assert read_calibration(out).names == ["cam03", "cam01"]


def test_cli_show_prints_cameras_and_baselines(shared_data: Path,
                                               capsys: pytest.CaptureFixture) -> None:
    src = shared_data / "shelf_4dassoc" / "calibration.json"
    assert cli_main(["calibration", "show", str(src)]) == 0
    text = capsys.readouterr().out
    assert "1032x776" in text and "baselines (m)" in text
    rig = read_calibration(src)
    assert f"{rig.baselines()[0, 1]:.3f}" in text
    assert f"{rig[2].fx:.2f} / {rig[2].fy:.2f}" in text


# ------------------------------------------------------------------------ fixtures
def test_qualisys_fixture_reproduces_the_rig_it_was_made_from() -> None:
    rig = read_calibration(FIX / "qualisys" / "two_cameras.qca.txt")
    assert rig.allclose(ring_rig(2), atol_px=0.0, atol_m=1e-12)


def test_anipose_millimetres_and_file_order() -> None:
    rig = read_calibration(FIX / "toml" / "anipose_mm.toml", fmt="anipose")
    assert rig.names == ["B", "A"]                       # file order, not sorted
    a = rig["A"]
    np.testing.assert_allclose(a.t, [1.5234, -0.0125, 0.40225], atol=1e-15)
    np.testing.assert_allclose(a.R, rotation_from_rodrigues([0.1, -0.6, 0.05]), atol=1e-15)
    assert 1.5 < rig.scale < 1.7                          # metres
    freemocap = read_calibration(FIX / "toml" / "anipose_mm.toml", fmt="freemocap")
    assert_same_rig(rig, freemocap)
    metres = read_calibration(FIX / "toml" / "anipose_mm.toml", units="m")
    assert metres.scale > 1000                            # explicit units win


def test_caliscope_nested_tables_with_matrix_rotations() -> None:
    path = FIX / "toml" / "caliscope_camera_array.toml"
    assert detect_calibration_format(path) == "pose2sim"
    rig = read_calibration(path, fmt="caliscope")
    assert rig.names == ["cam_0", "cam_1"]
    np.testing.assert_array_equal(rig[0].R, [[0, -1, 0], [0, 0, -1], [1, 0, 0]])
    np.testing.assert_array_equal(rig[0].t, [0.1, -0.2, 1.5])
    np.testing.assert_array_equal(rig[1].dist, [0.19, -0.25, 0.002, -0.005, 0.11])


def test_fisheye_toml_round_trip(tmp_path: Path) -> None:
    rig = read_calibration(FIX / "toml" / "fisheye_m.toml")
    assert [c.model for c in rig] == ["fisheye", "pinhole"]
    again = read_calibration(write_calibration_toml(rig, tmp_path / "f.toml"))
    assert_same_rig(rig, again)
    X = np.array([[0.2, 0.1, 1.0], [-0.5, 0.3, 1.6]])
    np.testing.assert_allclose(rig.project(X), again.project(X), atol=1e-9)


def test_easymocap_intri_extri_from_folder_or_file() -> None:
    truth = ring_rig(3, names=["01", "02", "03"])
    folder = FIX / "easymocap"
    assert detect_calibration_format(folder) == "easymocap"
    for path in (folder, folder / "intri.yml", folder / "extri.yml"):
        rig = read_calibration(path, image_size=(1280, 720))
        assert rig.allclose(truth, atol_px=1e-9, atol_m=1e-12)
    estimated = read_calibration(folder)                  # no size stored: 2 x principal point
    assert [c.size for c in estimated] == [(1280, 720), (1286, 716), (1292, 712)]


@pytest.mark.parametrize("suffix", ["yml", "xml"])
def test_opencv_single_camera_in_millimetres(suffix: str) -> None:
    path = FIX / "opencv" / f"single_camera.{suffix}"
    assert detect_calibration_format(path) == "opencv"
    rig = read_calibration(path)
    assert rig.names == ["single_camera"]
    assert rig[0].allclose(ring_rig(1)[0], atol_px=1e-9, atol_m=1e-12)


def test_opencv_yaml_nested_cameras_with_fisheye(tmp_path: Path) -> None:
    path = tmp_path / "rig.yaml"
    path.write_text("""%YAML:1.0
---
# two cameras, one mapping each (hand-written, comments and multi-line lists)
left:
   camera_name: "left"   # not used: the key names the camera
   distortion_model: fisheye
   image_size: [ 2704, 1520 ]
   camera_matrix: !!opencv-matrix
      rows: 3
      cols: 3
      dt: d
      data: [ 880., 0., 1352.,
              0., 880., 760., 0., 0., 1. ]
   D: [ 0.05, -0.01, 0.002, -0.0005 ]
   R: [ 0., 0., 0. ]
   T: [ 0., 0., 0. ]
right:
   image_width: 1920
   image_height: 1080
   K: [ [1500., 0., 960.], [0., 1500., 540.], [0., 0., 1.] ]
   rvec: !!opencv-matrix
      rows: 3
      cols: 1
      dt: d
      data: [ 0., 0.1, 0. ]
   tvec: [ -0.4, 0.0, 0.02 ]
""")
    rig = read_calibration(path)
    assert rig.names == ["left", "right"]
    assert rig["left"].model == "fisheye" and rig["left"].size == (2704, 1520)
    np.testing.assert_array_equal(rig["left"].dist, [0.05, -0.01, 0.002, -0.0005])
    assert rig["right"].model == "pinhole" and rig["right"].size == (1920, 1080)
    np.testing.assert_allclose(rig["right"].R, rotation_from_rodrigues([0, 0.1, 0]))
    assert rig.baselines()[0, 1] == pytest.approx(np.hypot(0.4, 0.02), abs=1e-12)


def test_opencv_storage_written_by_cv2(tmp_path: Path) -> None:
    cv2 = pytest.importorskip("cv2")
    truth = ring_rig(2, names=["left", "right"], distortion=False)
    path = tmp_path / "stereo.yaml"
    fs = cv2.FileStorage(str(path), cv2.FILE_STORAGE_WRITE)
    fs.write("names", truth.names)
    for c in truth:
        fs.write(f"K_{c.name}", c.K)
        fs.write(f"Rot_{c.name}", c.R)
        fs.write(f"T_{c.name}", c.t.reshape(3, 1))
        fs.write(f"H_{c.name}", c.size[1])
        fs.write(f"W_{c.name}", c.size[0])
    fs.release()
    rig = read_calibration(path, fmt="opencv")
    assert rig.allclose(truth, atol_px=1e-9, atol_m=1e-12)


def test_synthetic_rig_round_trip_and_camera_selection(tmp_path: Path) -> None:
    rig = ring_rig(5, names=["front", "left side", "back", "r", "top.cam"])
    path = write_calibration_toml(rig, tmp_path / "rig.toml")
    again = read_calibration(path)
    assert_same_rig(rig, again, tol=1e-14)
    assert read_calibration(path, cameras=["back", 0]).names == ["back", "front"]
    with pytest.raises(CalibrationError, match="exists"):
        write_calibration_toml(rig, path)
    write_calibration_toml(again, path, overwrite=True)


def test_formats_list_and_unknown_format(tmp_path: Path) -> None:
    assert {"pose2sim", "qualisys", "panoptic", "shelf", "voxelpose", "easymocap",
            "opencv", "caliscope", "freemocap", "anipose"} == set(CALIBRATION_FORMATS)
    bad = tmp_path / "notes.txt"
    bad.write_text("hello")
    with pytest.raises(CalibrationError, match="unknown calibration format"):
        read_calibration(bad)
    with pytest.raises(CalibrationError, match="unknown calibration format 'vicon'"):
        read_calibration(FIX / "toml" / "fisheye_m.toml", fmt="vicon")
    with pytest.raises(CalibrationError, match="not found"):
        read_calibration(tmp_path / "missing.toml")


@settings(max_examples=60, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**32 - 1), fisheye=st.booleans(), n=st.integers(1, 4))
def test_toml_round_trip_of_random_rigs(seed: int, fisheye: bool, n: int,
                                        tmp_path_factory) -> None:
    rng = np.random.default_rng(seed)
    cams = []
    for i in range(n):
        axis = rng.normal(size=3)
        angle = rng.choice([rng.uniform(0, np.pi), np.pi - 10 ** rng.uniform(-12, -2)])
        R = rotation_from_rodrigues(axis / np.linalg.norm(axis) * angle)
        K = np.array([[rng.uniform(200, 5000), 0, rng.uniform(0, 4000)],
                      [0, rng.uniform(200, 5000), rng.uniform(0, 3000)], [0, 0, 1]])
        model = "fisheye" if fisheye and i % 2 == 0 else "pinhole"
        dist = rng.normal(0, 0.1, 4 if model == "fisheye" else 5)
        size = (int(rng.integers(64, 8000)), int(rng.integers(64, 8000)))
        cams.append(Camera(f"c{i}", K, dist, R, rng.uniform(-20, 20, 3), size, model))
    rig = Rig(cams)
    path = write_calibration_toml(rig, tmp_path_factory.mktemp("rt") / "rig.toml")
    assert_same_rig(rig, read_calibration(path, units="m"), tol=1e-14)
