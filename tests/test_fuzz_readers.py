"""Property-based fuzzing of every calibration and keypoint reader.

Each reader gets 200 malformed variants of a small valid file: structural mutations of the
parsed document (a key dropped, a value replaced by a string / NaN / null / bool / wrong
shape / huge number) and byte-level damage (truncation, deleted or inserted bytes). The
reader must either return a valid result or raise our error type; anything else (a
KeyError, TypeError, IndexError ...) is a bug.
"""

from __future__ import annotations

import copy
import json
import math
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from io_synthetic import ring_rig

from skelsplat.core.calibration import read_calibration, write_calibration_toml
from skelsplat.core.camera import Rig
from skelsplat.core.errors import CalibrationError, KeypointError
from skelsplat.core.keypoints import read_keypoints
from skelsplat.core.keypoints.multiview import Keypoints2D

FIX = Path(__file__).parent / "fixtures" / "io"
FUZZ = settings(max_examples=200, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

_REPLACEMENTS = ["text", "", float("nan"), None, True, -1, 0, 1e308, 10**400, [], [1.0],
                 [[1, 2], [3]], {"a": 1}, [float("nan")] * 3, [-5.0] * 9, [1e9] * 12]


def _paths(doc: object, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc[:6]):
            out += _paths(v, (*prefix, i))
    return out


def _mutate_doc(doc: object, data: st.DataObject) -> object:
    doc = copy.deepcopy(doc)
    for _ in range(data.draw(st.integers(1, 3))):
        paths = [p for p in _paths(doc) if p]
        if not paths:
            break
        path = data.draw(st.sampled_from(paths))
        parent = doc
        for k in path[:-1]:
            parent = parent[k]
        key = path[-1]
        if data.draw(st.booleans()) and isinstance(parent, (dict, list)):
            del parent[key]
        else:
            parent[key] = copy.deepcopy(data.draw(st.sampled_from(_REPLACEMENTS)))
    return doc


def _damage_bytes(raw: bytes, data: st.DataObject) -> bytes:
    op = data.draw(st.sampled_from(["truncate", "delete", "insert", "flip"]))
    n = len(raw)
    i = data.draw(st.integers(0, max(n - 1, 0)))
    if op == "truncate":
        return raw[:i]
    if op == "delete":
        return raw[:i] + raw[i + data.draw(st.integers(1, 40)):]
    if op == "insert":
        junk = data.draw(st.sampled_from([b"[", b"]", b"{", b"nan", b'"', b"<", b"\x00\xff",
                                          b"\n  x: 1\n", b"=", b",", b"-1e999"]))
        return raw[:i] + junk + raw[i:]
    return raw[:i] + bytes([raw[i] ^ 0x55]) + raw[i + 1:] if n else raw


def _check(call: Callable[[], object], error: type, ok: type) -> None:
    try:
        result = call()
    except error:
        return
    assert isinstance(result, ok)


# ------------------------------------------------------------------------ calibration
def _small_json_rigs() -> dict[str, object]:
    rig = ring_rig(2, distortion=True)
    shelf = {c.name: {"K": c.K.ravel().tolist(), "RT": np.c_[c.R, c.t].ravel().tolist(),
                      "imgSize": list(c.size)} for c in rig}
    vox = {c.name: {"k": [[c.dist[0]], [c.dist[1]], [c.dist[4]]], "p": [[c.dist[2]], [c.dist[3]]],
                    "R": c.R.tolist(), "T": (c.center * 1000).reshape(3, 1).tolist(),
                    "fx": c.fx, "fy": c.fy, "cx": c.cx, "cy": c.cy} for c in rig}
    pan = {"calibDataSource": "fuzz", "cameras": [
        {"name": f"00_0{i}", "type": "hd", "resolution": list(c.size), "panel": 0, "node": i,
         "K": c.K.tolist(), "distCoef": c.dist.tolist(), "R": c.R.tolist(),
         "t": (c.t * 100).reshape(3, 1).tolist()} for i, c in enumerate(rig)]}
    return {"shelf": shelf, "voxelpose": vox, "panoptic": pan}


_JSON_DOCS = _small_json_rigs()


@pytest.fixture(scope="module")
def toml_text() -> str:
    with tempfile.TemporaryDirectory() as d:
        path = write_calibration_toml(ring_rig(2), Path(d) / "c.toml")
        return path.read_text()


def _toml_to_doc(text: str) -> dict:
    import tomllib

    return tomllib.loads(text)


def _doc_to_toml(doc: object) -> str:
    """A tiny TOML emitter for fuzzed documents (tables of scalars and nested lists)."""
    def val(v: object) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, float) and math.isnan(v):
            return "nan"
        if isinstance(v, (int, float)):
            return repr(float(v)) if isinstance(v, float) else str(v)
        if isinstance(v, str):
            return json.dumps(v)
        if isinstance(v, list):
            return "[" + ", ".join(val(x) for x in v) + "]"
        if isinstance(v, dict):
            return "{" + ", ".join(f"{json.dumps(str(k))} = {val(x)}" for k, x in v.items()) + "}"
        return '"none"'
    lines = []
    if not isinstance(doc, dict):
        return "x = 1\n"
    for key, table in doc.items():
        if isinstance(table, dict):
            lines.append(f"[{json.dumps(str(key))}]")
            lines += [f"{json.dumps(str(k))} = {val(v)}" for k, v in table.items()]
        else:
            lines.insert(0, f"{json.dumps(str(key))} = {val(table)}")
    return "\n".join(lines) + "\n"


@FUZZ
@given(data=st.data())
def test_fuzz_toml_calibration(data: st.DataObject, toml_text: str, tmp_path_factory) -> None:
    path = tmp_path_factory.mktemp("toml") / "calib.toml"
    if data.draw(st.booleans()):
        path.write_text(_doc_to_toml(_mutate_doc(_toml_to_doc(toml_text), data)))
    else:
        path.write_bytes(_damage_bytes(toml_text.encode(), data))
    _check(lambda: read_calibration(path), CalibrationError, Rig)


@pytest.mark.parametrize("kind", sorted(_JSON_DOCS))
@FUZZ
@given(data=st.data())
def test_fuzz_json_calibrations(kind: str, data: st.DataObject, tmp_path_factory) -> None:
    path = tmp_path_factory.mktemp("json") / f"{kind}.json"
    if data.draw(st.booleans()):
        text = json.dumps(_mutate_doc(_JSON_DOCS[kind], data))
        path.write_text(text)
    else:
        path.write_bytes(_damage_bytes(json.dumps(_JSON_DOCS[kind], indent=1).encode(), data))
    fmt = data.draw(st.sampled_from(["auto", kind]))
    _check(lambda: read_calibration(path, fmt=fmt), CalibrationError, Rig)


@FUZZ
@given(data=st.data())
def test_fuzz_qualisys(data: st.DataObject, tmp_path_factory) -> None:
    import xml.etree.ElementTree as ET

    src = FIX / "qualisys" / "two_cameras.qca.txt"
    root = ET.parse(src).getroot()
    if data.draw(st.booleans()):
        elements = list(root.iter())
        el = data.draw(st.sampled_from(elements))
        if el.attrib and data.draw(st.booleans()):
            key = data.draw(st.sampled_from(sorted(el.attrib)))
            if data.draw(st.booleans()):
                del el.attrib[key]
            else:
                el.attrib[key] = data.draw(st.sampled_from(["x", "", "nan", "inf", "-1", "0",
                                                            "1e400", "3.5e2"]))
        else:
            parent = next((p for p in root.iter() if el in list(p)), None)
            if parent is not None:
                parent.remove(el)
        raw = ET.tostring(root)
    else:
        raw = _damage_bytes(src.read_bytes(), data)
    path = tmp_path_factory.mktemp("qca") / "calib.qca.txt"
    path.write_bytes(raw)
    _check(lambda: read_calibration(path), CalibrationError, Rig)


@pytest.mark.parametrize("names", [("intri.yml", "extri.yml"), ("single.yml", "single.xml")],
                         ids=["easymocap", "opencv"])
@FUZZ
@given(data=st.data())
def test_fuzz_opencv_storage(names: tuple[str, str], data: st.DataObject,
                             tmp_path_factory) -> None:
    name = data.draw(st.sampled_from(names))
    folder = tmp_path_factory.mktemp("ocv")
    if name.startswith("single"):
        src = FIX / "opencv" / f"single_camera.{name.split('.')[1]}"
        target = folder / name
    else:
        for f in ("intri.yml", "extri.yml"):
            shutil.copy(FIX / "easymocap" / f, folder / f)
        src, target = FIX / "easymocap" / name, folder / name
    raw = src.read_bytes()
    if data.draw(st.booleans()):
        lines = raw.split(b"\n")
        i = data.draw(st.integers(0, len(lines) - 1))
        op = data.draw(st.sampled_from(["drop", "dedent", "indent", "value"]))
        if op == "drop":
            del lines[i]
        elif op == "dedent":
            lines[i] = lines[i].lstrip()
        elif op == "indent":
            lines[i] = b"     " + lines[i]
        else:
            lines[i] = lines[i].split(b":")[0] + b": " + data.draw(st.sampled_from(
                [b"abc", b"[1, 2", b"!!opencv-matrix", b".nan", b"-3", b"[]", b"{a: 1}"]))
        raw = b"\n".join(lines)
    else:
        raw = _damage_bytes(raw, data)
    target.write_bytes(raw)
    _check(lambda: read_calibration(target), CalibrationError, Rig)


# ------------------------------------------------------------------------ keypoints
def _openpose_doc() -> dict:
    kp = np.c_[np.linspace(10, 500, 25), np.linspace(20, 900, 25), np.full(25, 0.7)]
    people = [{"person_id": [-1], "pose_keypoints_2d": (kp * s).ravel().tolist()}
              for s in (1.0, 1.1)]
    return {"version": 1.3, "people": people}


@FUZZ
@given(data=st.data())
def test_fuzz_openpose(data: st.DataObject, tmp_path_factory) -> None:
    root = tmp_path_factory.mktemp("op")
    doc = _openpose_doc()
    for cam in ("cam1", "cam2"):
        (root / f"{cam}_json").mkdir()
        for f in range(2):
            (root / f"{cam}_json" / f"{cam}_{f:012d}_keypoints.json").write_text(json.dumps(doc))
    bad = root / "cam2_json" / "cam2_000000000001_keypoints.json"
    if data.draw(st.booleans()):
        bad.write_text(json.dumps(_mutate_doc(doc, data), allow_nan=True))
    else:
        bad.write_bytes(_damage_bytes(json.dumps(doc).encode(), data))
    rig = ring_rig(2, names=["cam1", "cam2"]) if data.draw(st.booleans()) else None
    _check(lambda: read_keypoints(root, rig=rig), KeypointError, Keypoints2D)


@FUZZ
@given(data=st.data())
def test_fuzz_mmpose(data: st.DataObject, tmp_path_factory) -> None:
    pts = np.c_[np.linspace(0, 300, 17), np.linspace(5, 400, 17)]
    doc = {"meta_info": {"dataset_name": "coco"}, "instance_info": [
        {"frame_id": f, "instances": [{"keypoints": pts.tolist(),
                                       "keypoint_scores": [0.8] * 17, "bbox": [[0, 0, 1, 1]]}]}
        for f in range(2)]}
    path = tmp_path_factory.mktemp("mm") / "cam1.json"
    if data.draw(st.booleans()):
        path.write_text(json.dumps(_mutate_doc(doc, data), allow_nan=True))
    else:
        path.write_bytes(_damage_bytes(json.dumps(doc).encode(), data))
    fmt = data.draw(st.sampled_from(["auto", "mmpose"]))
    _check(lambda: read_keypoints(path, fmt=fmt), KeypointError, Keypoints2D)


@pytest.mark.parametrize("name", ["cam1DLC_resnet50_skelsplatTestNov25shuffle1_1000.csv",
                                  "cam2DLC_resnet50_skelsplatTestNov25shuffle1_1000_el.csv",
                                  "cam1DLC_resnet50_skelsplatTestNov25shuffle1_1000.h5"])
@FUZZ
@given(data=st.data())
def test_fuzz_deeplabcut(name: str, data: st.DataObject, tmp_path_factory) -> None:
    src = FIX / "dlc" / name
    raw = src.read_bytes()
    if name.endswith(".csv") and data.draw(st.booleans()):
        rows = [r.split(",") for r in raw.decode().splitlines()]
        r = data.draw(st.integers(0, len(rows) - 1))
        c = data.draw(st.integers(0, len(rows[r]) - 1))
        op = data.draw(st.sampled_from(["cell", "drop_cell", "drop_row"]))
        if op == "cell":
            rows[r][c] = data.draw(st.sampled_from(["", "x", "nan", "-1", "1e400", "coords",
                                                    "likelihood", "z"]))
        elif op == "drop_cell":
            del rows[r][c]
        else:
            del rows[r]
        raw = "\n".join(",".join(x) for x in rows).encode()
    else:
        raw = _damage_bytes(raw, data)
    path = tmp_path_factory.mktemp("dlc") / name
    path.write_bytes(raw)
    _check(lambda: read_keypoints(path, fmt="deeplabcut"), KeypointError, Keypoints2D)


@FUZZ
@given(data=st.data())
def test_fuzz_npz(data: st.DataObject, tmp_path_factory) -> None:
    rng = np.random.default_rng(0)
    arrays: dict[str, object] = {
        "keypoints": np.c_[rng.uniform(0, 100, (3 * 2 * 17, 2)),
                           rng.uniform(0, 1, (3 * 2 * 17, 1))].reshape(3, 2, 17, 3),
        "camera_names": np.array(["a", "b"]), "joint_set": np.array("coco_17"),
        "fps": np.array(30.0), "frame_numbers": np.arange(3)}
    key = data.draw(st.sampled_from(sorted(arrays)))
    op = data.draw(st.sampled_from(["drop", "nan", "shape", "text", "neg", "big", "bytes"]))
    if op == "drop":
        del arrays[key]
    elif op == "nan":
        arrays[key] = np.full(np.shape(arrays[key]), np.nan)
    elif op == "shape":
        arrays[key] = np.zeros(data.draw(st.sampled_from([(2,), (3, 2, 17), (3, 2, 17, 2),
                                                          (1, 1, 1, 3), (0, 2, 17, 3)])))
    elif op == "text":
        arrays[key] = np.array(["x", "y"])
    elif op == "neg":
        value = np.asarray(arrays[key])
        arrays[key] = -np.abs(value.astype(float)) if value.dtype.kind in "fiu" \
            else np.array([""])
    elif op == "big":
        arrays[key] = np.full(np.shape(arrays[key]), 1e308)
    path = tmp_path_factory.mktemp("npz") / "kp.npz"
    np.savez(path, **arrays)
    if op == "bytes":
        path.write_bytes(_damage_bytes(path.read_bytes(), data))
    _check(lambda: read_keypoints(path), KeypointError, Keypoints2D)
