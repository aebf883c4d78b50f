"""Bad keypoint files: KeypointError naming the file, camera or frame and the expectation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from skelsplat.core.errors import KeypointError
from skelsplat.core.keypoints import read_keypoints

FIX = Path(__file__).parent / "fixtures" / "io"
DLC_CSV = FIX / "dlc" / "cam1DLC_resnet50_skelsplatTestNov25shuffle1_1000.csv"


def _op_folder(tmp: Path, frame_text: str) -> Path:
    good = json.dumps({"people": [{"pose_keypoints_2d": [1.0, 2.0, 0.5] * 25}]})
    for cam in ("cam1", "cam2"):
        (tmp / f"{cam}_json").mkdir()
        for f in range(3):
            text = frame_text if (cam, f) == ("cam2", 1) else good
            (tmp / f"{cam}_json" / f"{cam}_{f:012d}_keypoints.json").write_text(text)
    return tmp / "cam2_json" / "cam2_000000000001_keypoints.json"


@pytest.mark.parametrize("text, fragment", [
    ('{"people": [{"pose_keypoints_2d": [1, 2, 0.5, 4]}]}',
     "person 0: 'pose_keypoints_2d' must be a list of u, v, confidence triplets"),
    ('{"people": [{"pose_keypoints_2d": ' + json.dumps(["a", 2, 0.5] * 25) + "}]}",
     "must hold numbers"),
    ('{"people": [{"pose_keypoints_2d": ' + json.dumps([1, 2, 1.5] * 25) + "}]}",
     "confidences must lie in [0, 1]"),
    ('{"people": [{"pose_keypoints_2d": ' + json.dumps([1, 2, 0.5] * 17) + "}]}",
     "17 joints, but earlier frames of camera 'cam2' have 25"),
    ('{"people": 3}', "expected an OpenPose frame"),
    ('{"people": [', "not valid JSON"),
])
def test_openpose_frame_errors_name_the_file(text: str, fragment: str, tmp_path: Path) -> None:
    bad = _op_folder(tmp_path, text)
    with pytest.raises(KeypointError) as info:
        read_keypoints(tmp_path)
    message = str(info.value)
    assert fragment in message, message
    if "earlier frames" not in fragment:
        assert str(bad) in message


@pytest.mark.parametrize("arrays, fragment", [
    ({"poses": np.zeros((2, 2, 17, 3))}, "missing the 'keypoints' array"),
    ({"keypoints": np.zeros((2, 17, 3))}, "must be numbers [F, V, J, 3]"),
    ({"keypoints": np.zeros((2, 2, 17, 3)), "camera_names": np.array(["a"])},
     "1 camera_names for 2 views"),
    ({"keypoints": np.zeros((2, 2, 17, 3)), "frame_numbers": np.array([0.5, 1.5])},
     "'frame_numbers' must be 2 integers"),
    ({"keypoints": np.zeros((2, 2, 17, 3)), "joint_set": np.array("body_25")},
     "joint set body_25 has 25"),
    ({"keypoints": np.zeros((2, 2, 19, 3))}, "cannot tell the joint set from 19 joints"),
])
def test_npz_errors(arrays: dict, fragment: str, tmp_path: Path) -> None:
    path = tmp_path / "kp.npz"
    np.savez(path, **arrays)
    with pytest.raises(KeypointError) as info:
        read_keypoints(path)
    assert str(path) in str(info.value) and fragment in str(info.value), str(info.value)


def test_deeplabcut_bad_cell_names_row_and_column(tmp_path: Path) -> None:
    lines = DLC_CSV.read_text().splitlines()
    cells = lines[5].split(",")
    cells[4] = "oops"
    lines[5] = ",".join(cells)
    path = tmp_path / "cam9DLC_x.csv"
    path.write_text("\n".join(lines))
    with pytest.raises(KeypointError, match=r"cam9DLC_x.csv: row 6, column 5: expected a "
                                            r"number, got 'oops'"):
        read_keypoints(path)
    path.write_text("\n".join(lines[1:]))
    with pytest.raises(KeypointError, match="expected DeepLabCut header rows"):
        read_keypoints(path)
    path.write_text(DLC_CSV.read_text().replace("bodyparts,nose,nose,nose",
                                                "bodyparts,tail,tail,tail"))
    with pytest.raises(KeypointError, match=r"body parts \['tail', .*\] match no registered "
                                            r"joint set; name the joint set"):
        read_keypoints(path)
    assert read_keypoints(path, joint_set="coco_17").confidence[:, 0, 0].max() == 0  # no nose


def test_mmpose_errors_name_frame_and_instance(tmp_path: Path) -> None:
    inst = {"keypoints": [[1.0, 2.0]] * 17, "keypoint_scores": [0.5] * 16}
    path = tmp_path / "cam1.json"
    path.write_text(json.dumps({"instance_info": [{"frame_id": 4, "instances": [inst]}]}))
    with pytest.raises(KeypointError, match=r"cam1.json, frame 4, instance 0: 16 keypoint_scores "
                                            r"for 17 keypoints"):
        read_keypoints(path)
    path.write_text(json.dumps({"instance_info": [{"frame_id": "4", "instances": []}]}))
    with pytest.raises(KeypointError, match=r"frame 0: 'frame_id' must be an integer"):
        read_keypoints(path)


def test_camera_selection_errors(tmp_path: Path) -> None:
    _op_folder(tmp_path, json.dumps({"people": []}))
    with pytest.raises(KeypointError, match=r"no keypoints for camera\(s\) \['side'\]; "
                                            r"keypoint cameras are \['cam1', 'cam2'\]"):
        read_keypoints(tmp_path, camera_names=["cam2", "side"])
    kp = read_keypoints(tmp_path, camera_names=["cam2"])
    assert kp.camera_names == ["cam2"] and np.all(kp.confidence[1] == 0)
