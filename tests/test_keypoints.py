"""2D keypoint readers and writers: OpenPose, NPZ, MMPose, DeepLabCut; people choice."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from io_synthetic import person, ring_rig

from skelsplat.core.errors import KeypointError
from skelsplat.core.keypoints import (
    KEYPOINT_FORMATS,
    detect_keypoint_format,
    read_keypoints,
    write_keypoints_npz,
    write_openpose_json,
)
from skelsplat.core.keypoints.multiview import Keypoints2D

FIX = Path(__file__).parent / "fixtures" / "io"


def _openpose_frame(people: list[np.ndarray]) -> str:
    return json.dumps({"version": 1.3, "people": [
        {"person_id": [-1], "pose_keypoints_2d": p.ravel().tolist()} for p in people]})


def _actor_and_ghosts(tmp: Path, rig, F: int = 12, J: int = 25, flat: bool = False,
                      skip: dict | None = None) -> list[np.ndarray]:
    """Write an OpenPose take: the actor (conf 0.6) and, per view, a brighter false
    detection (conf 0.9) at a view-specific place, so it is inconsistent across views."""
    rng = np.random.default_rng(1)
    actor = [person(J, (0.2 * np.sin(f / 3), 0.1 * f / F, 0), seed=f) for f in range(F)]
    for v, cam in enumerate(rig):
        folder = tmp if flat else tmp / f"{cam.name}_json"
        folder.mkdir(exist_ok=True)
        for f in range(F):
            if skip and f in skip.get(cam.name, ()):
                continue
            ghost = person(J, (1.2 * np.cos(2.1 * v), 1.2 * np.sin(2.1 * v), 0), seed=500 + f)
            people = [np.c_[cam.project(actor[f]) + rng.normal(0, 0.3, (J, 2)), np.full(J, 0.6)],
                      np.c_[cam.project(ghost), np.full(J, 0.9)]]
            if (v + f) % 2:
                people.reverse()
            (folder / f"{cam.name}_{f:012d}_keypoints.json").write_text(_openpose_frame(people))
    return actor


def test_openpose_multi_person_resolved_by_the_rig(tmp_path: Path) -> None:
    rig = ring_rig(4)
    actor = _actor_and_ghosts(tmp_path, rig)
    (tmp_path / "cam01_json" / "README.txt").write_text("not a frame")
    (tmp_path / "cam02_json" / "metadata.json").write_text('{"fps": 30}')
    assert detect_keypoint_format(tmp_path) == "openpose"
    calib = ring_rig(4, names=["cam_1", "cam_2", "cam_3", "cam_4"])  # matched by number
    kp = read_keypoints(tmp_path, rig=calib)
    assert kp.camera_names == calib.names and kp.joint_set == "body_25"
    assert kp.shape == (12, 4, 25)
    truth = np.stack([rig.project(a) for a in actor])                 # [F, J, V, 2]
    err = np.linalg.norm(kp.data[..., :2] - truth.transpose(0, 2, 1, 3), axis=-1)
    assert err.max() < 2.0                                            # px: always the actor
    assert np.all(kp.confidence == 0.6)
    assert kp.meta["people_choice"]["frames_with_choice"] == 12
    # without a rig the brighter ghost wins in every view: the rig is what fixes it
    blind = read_keypoints(tmp_path)
    blind_err = np.linalg.norm(blind.data[..., :2] - truth.transpose(0, 2, 1, 3), axis=-1)
    assert np.median(blind_err) > 100


def test_bystander_alone_in_a_view_is_not_taken_for_the_actor(tmp_path: Path) -> None:
    rig = ring_rig(3)
    actor = person(25, seed=3)
    bystander = person(25, (1.3, -1.1, 0), seed=4)    # only cam03 detects them
    other = person(25, (-1.4, 0.9, 0), seed=5)        # only cam01 detects them, frame 1
    hidden = {(2, 1), (2, 3)}                         # the actor is hidden in cam03
    for v, cam in enumerate(rig):
        folder = tmp_path / f"{cam.name}_json"
        folder.mkdir()
        for f in range(4):
            people = []
            if v == 2:
                people.append(np.c_[cam.project(bystander), np.full(25, 0.95)])
            if (v, f) == (0, 1):
                people.append(np.c_[cam.project(other), np.full(25, 0.9)])
            if (v, f) not in hidden:
                people.append(np.c_[cam.project(actor), np.full(25, 0.5)])
            (folder / f"{cam.name}_{f:012d}_keypoints.json").write_text(_openpose_frame(people))
    kp = read_keypoints(tmp_path, rig=rig)
    for f, v in [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (2, 2), (3, 0), (3, 1)]:
        np.testing.assert_allclose(kp.data[f, v, :, :2], rig[v].project(actor), atol=1e-9)
    assert np.all(kp.confidence[1, 2] == 0)           # a frame with a choice: dropped
    assert kp.meta["people_choice"] == {"policy": "multi-view epipolar consistency",
                                        "frames_with_choice": 3, "views_dropped": 1}
    # frame 3 has one candidate per view: nothing to choose, kept as detected (documented)
    np.testing.assert_allclose(kp.data[3, 2, :, :2], rig[2].project(bystander), atol=1e-9)
    blind = read_keypoints(tmp_path)                   # per-view: the confident bystander
    np.testing.assert_allclose(blind.data[0, 2, :, :2], rig[2].project(bystander), atol=1e-9)


def test_openpose_flat_folder_missing_frames_and_offsets(tmp_path: Path) -> None:
    rig = ring_rig(3, distortion=False)
    _actor_and_ghosts(tmp_path, rig, F=10, flat=True, skip={"cam02": {4, 5}})
    kp = read_keypoints(tmp_path, offsets={"cam03": 2})
    assert kp.camera_names == ["cam01", "cam02", "cam03"]
    np.testing.assert_array_equal(kp.frame_numbers, np.arange(10))
    assert np.all(kp.confidence[4:6, 1] == 0) and np.all(kp.confidence[[3, 6], 1] > 0)
    # take frame t is source frame t + 2 of cam03: its last two take frames are empty
    assert np.all(kp.confidence[8:, 2] == 0) and np.all(kp.confidence[:8, 2] > 0)
    plain = read_keypoints(tmp_path)
    np.testing.assert_array_equal(kp.data[:8, 2], plain.data[2:, 2])
    with pytest.raises(KeypointError, match="unknown camera"):
        read_keypoints(tmp_path, offsets={"cam09": 1})
    with pytest.raises(KeypointError, match="integer"):
        read_keypoints(tmp_path, offsets={"cam01": 1.5})


def test_openpose_writer_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    data = np.c_[rng.uniform(0, 1000, (6 * 2 * 17, 2)), rng.uniform(0.1, 1, 6 * 2 * 17)]
    data = data.reshape(6, 2, 17, 3)
    data[2, 1] = 0.0                                       # nobody in this frame
    data[3, 0, 5] = 0.0                                    # one missing joint
    kp = Keypoints2D(data, ["left", "right"], "coco_17", np.arange(20, 26))
    write_openpose_json(kp, tmp_path)
    assert (tmp_path / "left_json" / "left_000000000020_keypoints.json").is_file()
    back = read_keypoints(tmp_path, camera_names=["left", "right"])
    np.testing.assert_array_equal(back.frame_numbers, kp.frame_numbers)
    np.testing.assert_array_equal(back.data, kp.data)      # exact: floats written in full
    with pytest.raises(KeypointError, match="exists"):
        write_openpose_json(kp, tmp_path)


def test_npz_round_trip_and_rig_order(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    data = np.concatenate([rng.uniform(0, 500, (5, 3, 26, 2)), rng.uniform(0, 1, (5, 3, 26, 1))],
                          -1)
    kp = Keypoints2D(data, ["a", "b", "c"], "halpe_26", np.arange(5), fps=50.0)
    path = write_keypoints_npz(kp, tmp_path / "kp.npz")
    assert detect_keypoint_format(path) == "npz"
    back = read_keypoints(path)
    np.testing.assert_array_equal(back.data, kp.data)
    assert back.fps == 50.0 and back.joint_set == "halpe_26"
    assert back.camera_names == ["a", "b", "c"]
    rig = ring_rig(3, names=["c", "a", "b"])
    ordered = read_keypoints(path, rig=rig)
    np.testing.assert_array_equal(ordered.data[:, 0], kp.data[:, 2])
    shifted = read_keypoints(path, offsets={"b": -1})      # take t = source t - 1
    np.testing.assert_array_equal(shifted.frame_numbers, np.arange(6))
    np.testing.assert_array_equal(shifted.data[1:, 1], kp.data[:, 1])
    assert np.all(shifted.data[0, 1] == 0)
    with pytest.raises(KeypointError, match="exists"):
        write_keypoints_npz(kp, path)
    np.savez(tmp_path / "zero_fps.npz", keypoints=data, fps=np.array(0.0))
    bare = read_keypoints(tmp_path / "zero_fps.npz")
    assert bare.fps is None and bare.camera_names == ["cam01", "cam02", "cam03"]  # 0 = unknown
    in_rig_order = read_keypoints(tmp_path / "zero_fps.npz", rig=rig)   # no names: by order
    assert in_rig_order.camera_names == ["c", "a", "b"]
    np.testing.assert_array_equal(in_rig_order.data, kp.data)


def _mmpose_video(path: Path, frames: list[list[np.ndarray]], meta: dict) -> None:
    doc = {"meta_info": meta, "instance_info": [
        {"frame_id": f + 1, "instances": [
            {"keypoints": p[:, :2].tolist(), "keypoint_scores": p[:, 2].tolist(),
             "bbox": [[0, 0, 10, 10]], "bbox_score": 0.9} for p in people]}
        for f, people in enumerate(frames)]}
    path.write_text(json.dumps(doc))


def test_mmpose_predictions_per_camera(tmp_path: Path) -> None:
    rig = ring_rig(2)
    actor = [person(17, seed=f) for f in range(4)]
    for cam in rig:
        frames = [[np.c_[cam.project(a), np.full(17, 1.15)]] for a in actor]  # SimCC > 1
        frames[2] = []                                                     # nobody
        _mmpose_video(tmp_path / f"{cam.name}.json", frames, {"dataset_name": "coco"})
    (tmp_path / "notes.json").write_text('{"hello": 1}')
    assert detect_keypoint_format(tmp_path) == "mmpose"
    kp = read_keypoints(tmp_path, rig=rig)
    assert kp.joint_set == "coco_17" and kp.shape == (4, 2, 17)
    np.testing.assert_array_equal(kp.frame_numbers, [1, 2, 3, 4])      # frame ids as stored
    assert np.all(kp.confidence[[0, 1, 3]] == 1.0) and np.all(kp.confidence[2] == 0)
    np.testing.assert_allclose(kp.data[0, 1, :, :2], rig[1].project(actor[0]), atol=1e-9)
    single = read_keypoints(tmp_path / "cam01.json")
    assert single.camera_names == ["cam01"]


def test_mmpose_per_frame_instance_files(tmp_path: Path) -> None:
    """The inferencer's per-image output: one list of instances per frame, a folder per
    camera, frames numbered by the file name."""
    for cam in ("front", "side"):
        (tmp_path / cam).mkdir()
        for f in (3, 4, 6):
            pts = np.c_[np.full((26, 2), 10.0 * f), np.full(26, 0.25)]
            inst = [{"keypoints": pts[:, :2].tolist(), "keypoint_scores": pts[:, 2].tolist()}]
            (tmp_path / cam / f"frame_{f:06d}.json").write_text(json.dumps(inst))
    kp = read_keypoints(tmp_path)
    assert kp.camera_names == ["front", "side"] and kp.joint_set == "halpe_26"
    np.testing.assert_array_equal(kp.frame_numbers, [3, 4, 5, 6])
    assert np.all(kp.confidence[2] == 0) and np.all(kp.data[3, :, :, 0] == 60.0)


def test_mmpose_wholebody_is_reduced_to_coco_body(tmp_path: Path) -> None:
    pts = np.c_[np.arange(133 * 2, dtype=float).reshape(133, 2), np.full(133, 0.5)]
    _mmpose_video(tmp_path / "cam01.json", [[pts]], {"dataset_name": "coco_wholebody"})
    kp = read_keypoints(tmp_path / "cam01.json")
    assert kp.joint_set == "coco_17"
    np.testing.assert_array_equal(kp.data[0, 0, :, :2], pts[:17, :2])
    assert kp.meta["wholebody_reduced_to"] == "coco_17"


def test_deeplabcut_csv_and_h5_agree() -> None:
    d = FIX / "dlc"
    csv_kp = read_keypoints(d / "cam1DLC_resnet50_skelsplatTestNov25shuffle1_1000.csv")
    h5_kp = read_keypoints(d / "cam1DLC_resnet50_skelsplatTestNov25shuffle1_1000.h5")
    assert csv_kp.camera_names == h5_kp.camera_names == ["cam1"]
    assert csv_kp.joint_set == "coco_17"            # nose/shoulders/hips: smallest set naming all
    np.testing.assert_array_equal(csv_kp.data, h5_kp.data)
    js = csv_kp.joints
    nose, lsh = js.index("nose"), js.index("left_shoulder")
    np.testing.assert_array_equal(csv_kp.data[:, 0, nose, :2],
                                  np.c_[100 + np.arange(6), 200 + 0.5 * np.arange(6)])
    assert csv_kp.data[0, 0, nose, 2] == 0.813
    assert csv_kp.confidence[2, 0, lsh] == 0        # NaN in the file: missing
    assert np.all(csv_kp.confidence[:, 0, js.index("left_knee")] == 0)  # not tracked
    as_body25 = read_keypoints(d / "cam1DLC_resnet50_skelsplatTestNov25shuffle1_1000.csv",
                               joint_set="body_25")
    assert as_body25.shape == (6, 1, 25)


def test_deeplabcut_multi_animal_and_folder() -> None:
    d = FIX / "dlc"
    kp = read_keypoints(d)                          # folder: one camera per file, .h5 preferred
    assert kp.camera_names == ["cam1", "cam2"] and kp.meta["format"] == "deeplabcut"
    nose = kp.joints.index("nose")
    # cam2 holds two individuals 300 px apart; the tracker keeps one of them throughout
    u = kp.data[:, 1, nose, 0]
    assert np.all(np.isin(np.round(u - np.arange(6)), [100.0, 400.0]))
    assert len(set(np.round(u - np.arange(6)))) == 1
    h5 = read_keypoints(d / "cam2DLC_resnet50_skelsplatTestNov25shuffle1_1000_el.h5")
    csv = read_keypoints(d / "cam2DLC_resnet50_skelsplatTestNov25shuffle1_1000_el.csv")
    np.testing.assert_array_equal(h5.data, csv.data)


def test_formats_and_errors(tmp_path: Path) -> None:
    assert set(KEYPOINT_FORMATS) == {"openpose", "npz", "mmpose", "deeplabcut"}
    with pytest.raises(KeypointError, match="not found"):
        read_keypoints(tmp_path / "nothing")
    with pytest.raises(KeypointError, match="unknown keypoint format 'vicon'"):
        read_keypoints(tmp_path, fmt="vicon")
    (tmp_path / "cam1_json").mkdir()
    (tmp_path / "cam2_json").mkdir()
    (tmp_path / "cam1_json" / "cam1_000000000000_keypoints.json").write_text(
        _openpose_frame([np.ones((25, 3)) * 0.5]))
    (tmp_path / "cam2_json" / "cam2_000000000000_keypoints.json").write_text(
        _openpose_frame([np.ones((17, 3)) * 0.5]))
    with pytest.raises(KeypointError, match="joint count"):
        read_keypoints(tmp_path)
    (tmp_path / "cam2_json" / "cam2_000000000000_keypoints.json").write_text('{"people": [')
    with pytest.raises(KeypointError, match=r"cam2_000000000000_keypoints.json: not valid JSON"):
        read_keypoints(tmp_path)
    (tmp_path / "cam2_json" / "cam2_000000000000_keypoints.json").write_text(
        _openpose_frame([np.ones((25, 3)) * 0.5]))
    with pytest.raises(KeypointError, match=r"no keypoints for camera\(s\) \['cam7'\]"):
        read_keypoints(tmp_path, rig=ring_rig(2, names=["cam1", "cam7"]))


def test_replace_changes_some_fields_copies_the_rest_and_checks_the_result() -> None:
    rng = np.random.default_rng(5)
    data = np.concatenate([rng.uniform(0, 500, (4, 2, 17, 2)), np.ones((4, 2, 17, 1))], -1)
    kp = Keypoints2D(data, ["a", "b"], "coco_17", np.arange(10, 14), fps=25.0, source="s",
                     meta={"k": 1})
    half = kp.replace(data=kp.data * 0.5 + [0, 0, 0.5], fps=50.0)
    assert half.fps == 50.0 and kp.fps == 25.0
    assert (half.camera_names, half.joint_set, half.source, half.meta) == (
        ["a", "b"], "coco_17", "s", {"k": 1})
    np.testing.assert_array_equal(half.frame_numbers, [10, 11, 12, 13])
    np.testing.assert_allclose(half.data[..., 2], 1.0)
    half.meta["k"] = 2
    half.frame_numbers[0] = 99
    assert kp.meta == {"k": 1} and kp.frame_numbers[0] == 10  # copies, not shared
    with pytest.raises(KeypointError, match="2 camera names for 1 views"):
        kp.replace(data=kp.data[:, :1])
    with pytest.raises(TypeError, match="no field"):
        kp.replace(frames=3)
    part = kp.frames(1, 3)
    np.testing.assert_array_equal(part.frame_numbers, [11, 12])
    assert part.data.shape == (2, 2, 17, 3) and part.fps == 25.0
