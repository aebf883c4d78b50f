"""JSON calibrations: CMU Panoptic, 4D-association (Shelf/Campus) and VoxelPose.

- CMU Panoptic ``calibration_<seq>.json``: ``{"cameras": [{"name": "00_03", "type": "hd",
  "resolution": [w, h], "K", "distCoef": [k1, k2, p1, p2, k3], "R", "t"}]}``, ``t`` in
  centimetres, ``x_cam = R X + t``. Without an explicit camera list only the 31 ``hd``
  cameras are read (the ``vga`` and ``kinect-color`` ones are other sensors).
- 4D association (Shelf/Campus): ``{"0": {"K": [9], "RT": [12], "imgSize": [w, h]}, ...}``,
  row-major, metres, ``x_cam = R X + t``, no distortion.
- VoxelPose: ``{"0": {"R": 3x3, "T": 3x1, "fx", "fy", "cx", "cy", "k": [k1, k2, k3],
  "p": [p1, p2]}}``, millimetres, ``x_cam = R (X - T)`` (T is the camera centre). The file
  has no image size: it is estimated as twice the principal point unless given.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ..camera import Camera
from ..errors import CalibrationError
from ._common import (
    get,
    image_size,
    make_camera,
    nearest_rotation,
    number,
    numbers,
    size_from_principal_point,
    where,
)

#: Panoptic camera types read by default.
PANOPTIC_DEFAULT_TYPES = ("hd",)


def parse_json(path: Path) -> object:
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except json.JSONDecodeError as exc:
        raise CalibrationError(f"{path}: not valid JSON ({exc})") from None
    except UnicodeDecodeError:
        raise CalibrationError(f"{path}: not a text (UTF-8) JSON file") from None


def json_kind(doc: object) -> str | None:
    """``"panoptic"``, ``"shelf"``, ``"voxelpose"`` or None, from the document's keys."""
    if isinstance(doc, Mapping):
        cams = doc.get("cameras")
        if isinstance(cams, list) and cams and isinstance(cams[0], Mapping) \
                and "distCoef" in cams[0]:
            return "panoptic"
        first = next(iter(doc.values()), None) if doc else None
        if isinstance(first, Mapping):
            if "RT" in first:
                return "shelf"
            if "fx" in first and "T" in first:
                return "voxelpose"
    return None


def _camera_dict(doc: object, path: Path, kind: str) -> Mapping:
    if not isinstance(doc, Mapping) or not doc:
        raise CalibrationError(f"{path}: expected a {kind} JSON object "
                               "{camera name: {...}, ...}")
    return doc


def read_panoptic(path: Path, cameras: list[str] | None = None) -> list[Camera]:
    """CMU Panoptic cameras; ``cameras`` picks names (``"00_03"``), else all ``hd`` ones."""
    doc = parse_json(path)
    entries = get(doc, "cameras", f"{path}") if isinstance(doc, Mapping) else None
    if not isinstance(entries, list):
        raise CalibrationError(f"{path}: expected {{'cameras': [ ... ]}} (CMU Panoptic)")
    wanted = None if cameras is None else set(cameras)
    out = []
    for i, cam in enumerate(entries):
        ctx = where(path, f"#{i}")
        if not isinstance(cam, Mapping):
            raise CalibrationError(f"{ctx}: expected a camera object, got {cam!r:.60}")
        name = get(cam, "name", ctx)
        if not isinstance(name, str):
            raise CalibrationError(f"{ctx}: 'name' must be a string, got {name!r}")
        ctx = where(path, name)
        if wanted is None:
            if cam.get("type") not in PANOPTIC_DEFAULT_TYPES:
                continue
        elif name not in wanted:
            continue
        K = numbers(get(cam, "K", ctx), (3, 3), f"{ctx}: K")
        dist = numbers(get(cam, "distCoef", ctx), None, f"{ctx}: distCoef", sizes=(4, 5))
        R = numbers(get(cam, "R", ctx), (3, 3), f"{ctx}: R")
        t = numbers(get(cam, "t", ctx), (3,), f"{ctx}: t") / 100.0
        size = image_size(get(cam, "resolution", ctx), f"{ctx}: resolution")
        out.append(make_camera(path, name, K, dist, R, t, size))
    if wanted is not None:
        missing = sorted(wanted - {c.name for c in out})
        if missing:
            names = [c.get("name") for c in entries if isinstance(c, Mapping)]
            raise CalibrationError(f"{path}: no camera(s) {missing}; the file has {len(names)} "
                                   f"cameras named like {names[:3]}")
    if not out:
        raise CalibrationError(f"{path}: no 'hd' cameras; pick cameras by name")
    return out


def read_shelf(path: Path) -> list[Camera]:
    """4D-association Shelf/Campus cameras (``K``, ``RT`` row-major, metres)."""
    doc = _camera_dict(parse_json(path), path, "4D-association")
    out = []
    for name, cam in doc.items():
        ctx = where(path, name)
        K = numbers(get(cam, "K", ctx), (3, 3), f"{ctx}: K")
        RT = numbers(get(cam, "RT", ctx), (3, 4), f"{ctx}: RT")
        size = image_size(get(cam, "imgSize", ctx), f"{ctx}: imgSize")
        out.append(make_camera(path, str(name), K, np.zeros(5), RT[:, :3], RT[:, 3], size))
    return out


def read_voxelpose(path: Path, size: tuple[int, int] | None = None) -> list[Camera]:
    """VoxelPose cameras (mm, ``x_cam = R (X - T)``); ``size`` is the image size of all."""
    doc = _camera_dict(parse_json(path), path, "VoxelPose")
    out = []
    for name, cam in doc.items():
        ctx = where(path, name)
        fx, fy, cx, cy = (number(get(cam, k, ctx), f"{ctx}: {k}") for k in ("fx", "fy", "cx", "cy"))
        K = np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])
        k = numbers(cam.get("k", [0, 0, 0]), None, f"{ctx}: k", sizes=(2, 3))
        p = numbers(cam.get("p", [0, 0]), (2,), f"{ctx}: p")
        k3 = k[2] if k.size == 3 else 0.0
        dist = np.array([k[0], k[1], p[0], p[1], k3])
        R = nearest_rotation(numbers(get(cam, "R", ctx), (3, 3), f"{ctx}: R"), ctx)
        centre = numbers(get(cam, "T", ctx), (3,), f"{ctx}: T") / 1000.0
        wh = size if size is not None else size_from_principal_point(K)
        out.append(make_camera(path, str(name), K, dist, R, -R @ centre, wh))
    return out
