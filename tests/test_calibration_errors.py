"""Bad calibration files: our error type, naming the file, the camera and what was expected."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from skelsplat.core.calibration import read_calibration
from skelsplat.core.errors import CalibrationError

FIX = Path(__file__).parent / "fixtures" / "io"

GOOD_TOML = (FIX / "toml" / "fisheye_m.toml").read_text()


def _toml(old: str, new: str) -> str:
    assert old in GOOD_TOML
    return GOOD_TOML.replace(old, new, 1)


TOML_CASES = {
    "missing key": (_toml('matrix = [ [ 1500.0, 0.0, 960.0], [ 0.0, 1500.0, 540.0], '
                          '[ 0.0, 0.0, 1.0]]\n', ""),
                    ["camera 'narrow'", "missing 'matrix'"]),
    "wrong shape": (_toml("translation = [ -0.3, 0.8, 3.9]", "translation = [ -0.3, 0.8]"),
                    ["camera 'narrow'", "translation", "expected 3 numbers"]),
    "text value": (_toml("rotation = [ -1.1, 0.9, 0.4]", 'rotation = [ -1.1, "a", 0.4]'),
                   ["camera 'narrow'", "rotation", "expected numbers"]),
    "nan": (_toml("rotation = [ -1.1, 0.9, 0.4]", "rotation = [ -1.1, nan, 0.4]"),
            ["camera 'narrow'", "NaN"]),
    "focal": (_toml("[ 1500.0, 0.0, 960.0]", "[ -1500.0, 0.0, 960.0]"),
              ["camera 'narrow'", "focal lengths must be positive", "fx=-1500"]),
    "size": (_toml("size = [ 1920.0, 1080.0]", "size = [ 1920.5, 1080.0]"),
             ["camera 'narrow'", "size", "positive integers"]),
    "fisheye flag": (_toml("fisheye = false", 'fisheye = "no"'),
                     ["camera 'narrow'", "'fisheye' must be true or false"]),
    "fisheye coefficients": (_toml("distortions = [ 0.05, -0.01, 0.002, -0.0005]",
                                   "distortions = [ 0.05, -0.01, 0.002, -0.0005, 0.1]"),
                             ["camera 'wide'", "distortions", "expected 4 numbers"]),
    "rotation matrix": (_toml("rotation = [ -1.1, 0.9, 0.4]",
                              "rotation = [[1, 0, 0], [0, 1, 0], [0, 0.5, 1]]"),
                        ["camera 'narrow'", "not orthonormal"]),
    "syntax": (GOOD_TOML[:200], ["not valid TOML"]),
}


@pytest.mark.parametrize("case", sorted(TOML_CASES))
def test_toml_errors_name_file_camera_and_expectation(case: str, tmp_path: Path) -> None:
    text, fragments = TOML_CASES[case]
    path = tmp_path / "calib.toml"
    path.write_text(text)
    with pytest.raises(CalibrationError) as info:
        read_calibration(path)
    message = str(info.value)
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message, message


def _shelf(**change) -> dict:
    cam = {"K": [1000, 0, 500, 0, 1000, 400, 0, 0, 1],
           "RT": [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3], "imgSize": [1032, 776]}
    cam.update(change)
    good = {"K": [1000, 0, 500, 0, 1000, 400, 0, 0, 1],
            "RT": [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3], "imgSize": [1032, 776]}
    return {"0": good, "7": {k: v for k, v in cam.items() if v is not None}}


@pytest.mark.parametrize("doc, fmt, fragments", [
    (_shelf(RT=None), "shelf", ["camera '7'", "missing 'RT'"]),
    (_shelf(RT=[1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]), "shelf", ["camera '7'", "RT",
                                                           "expected 12 numbers"]),
    (_shelf(RT=[1, 0, 0, 0, 0, 1, 0, 0, 0, 1, 1, 3]), "shelf", ["camera '7'",
                                                              "not orthonormal"]),
    (_shelf(K=[0, 0, 500, 0, 1000, 400, 0, 0, 1]), "shelf", ["camera '7'", "focal"]),
    ({"cameras": [{"name": "00_01", "type": "hd", "resolution": [1920, 1080],
                   "K": [[1, 0, 0], [0, 1, 0], [0, 0, 1]], "distCoef": [0, 0, 0, 0, 0],
                   "R": [[1, 0, 0], [0, 1, 0], [0, 0, 1]]}]}, "panoptic",
     ["camera '00_01'", "missing 't'"]),
    ({"0": {"R": [[1, 0, 0], [0, 1, 0], [0, 0, 1]], "T": [[0], [0], [-3000]], "fx": "x",
            "fy": 1000, "cx": 500, "cy": 400}}, "voxelpose", ["camera '0'", "fx",
                                                               "expected numbers"]),
    ([1, 2, 3], "shelf", ["expected a 4D-association JSON object"]),
])
def test_json_errors(doc: object, fmt: str, fragments: list[str], tmp_path: Path) -> None:
    path = tmp_path / "calibration.json"
    path.write_text(json.dumps(doc))
    for f in ("auto", fmt):
        with pytest.raises(CalibrationError) as info:
            read_calibration(path, fmt=f)
        message = str(info.value)
        assert str(path) in message
        if f == fmt:
            for fragment in fragments:
                assert fragment in message, message


def test_qualisys_missing_element_names_the_camera(tmp_path: Path) -> None:
    text = (FIX / "qualisys" / "two_cameras.qca.txt").read_text()
    start = text.index("<intrinsic", text.index('serial="cam02"'))
    end = text.index("/>", start) + 2
    path = tmp_path / "c.qca.txt"
    path.write_text(text[:start] + text[end:])
    with pytest.raises(CalibrationError, match=r"camera 'cam02': missing <intrinsic> element"):
        read_calibration(path)
    path.write_text(text.replace('focalLengthU="', 'focalLengthU="x', 1))
    with pytest.raises(CalibrationError, match=r"camera 'cam01': <intrinsic> attribute "
                                               r"'focalLengthU': expected a number"):
        read_calibration(path)


def test_easymocap_missing_matrix_names_the_camera(tmp_path: Path) -> None:
    for name in ("intri.yml", "extri.yml"):
        (tmp_path / name).write_text((FIX / "easymocap" / name).read_text())
    intri = (tmp_path / "intri.yml").read_text()
    (tmp_path / "intri.yml").write_text(intri.replace("K_02:", "K_20:"))
    with pytest.raises(CalibrationError, match=r"camera '02': missing K_02"):
        read_calibration(tmp_path)
    (tmp_path / "intri.yml").write_text(intri.replace("rows: 3", "rows: 4", 1))
    with pytest.raises(CalibrationError, match=r"line \d+: opencv-matrix data: expected 12"):
        read_calibration(tmp_path)
