"""Pose2Sim / anipose / FreeMoCap / Caliscope TOML calibrations (reader and writer).

Layout read (one table per camera, in file order; anipose sorts its tables by name, we
keep whatever order the file has)::

    [cam_01]                       # Caliscope: [cameras.0] or [cam_0]
    name = "cam_01"                # optional; else the table key
    size = [1088.0, 1920.0]        # width, height (px)
    matrix = [[fx, 0, cx], [0, fy, cy], [0, 0, 1]]
    distortions = [k1, k2, p1, p2(, k3)]   # fisheye: [k1, k2, k3, k4]
    rotation = [rx, ry, rz]        # Rodrigues, world->camera (Caliscope: a 3x3 matrix)
    translation = [tx, ty, tz]     # world->camera; metres (Pose2Sim, Caliscope) or
                                   # millimetres (anipose/FreeMoCap boards in mm)
    fisheye = false

Units are detected from the rig size (see :func:`._common.detect_scale`) unless given.
Tables without any of ``matrix``, ``distortions``, ``rotation``, ``translation``
(``[metadata]``, ``[charuco]``...) are ignored; a camera table missing one of them is an
error naming the camera and the key.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ..atomic import write_text
from ..camera import Camera, Rig, rodrigues_from_rotation, rotation_from_rodrigues
from ..errors import CalibrationError
from ._common import detect_scale, get, image_size, make_camera, numbers, where


def parse_toml(path: Path) -> dict:
    """The TOML document, or a CalibrationError naming the file and the syntax problem."""
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise CalibrationError(f"{path}: not valid TOML ({exc})") from None
    except UnicodeDecodeError:
        raise CalibrationError(f"{path}: not a text (UTF-8) TOML file") from None


#: A table with any of these keys is a camera (and must then have all required ones).
_CAMERA_KEYS = {"matrix", "distortions", "rotation", "translation"}


def camera_tables(doc: Mapping) -> list[tuple[str, Mapping]]:
    """(key, table) of every camera table, in file order (Caliscope's ``cameras`` nested)."""
    nested = doc.get("cameras")
    if isinstance(nested, Mapping) and any(isinstance(v, Mapping) for v in nested.values()):
        doc = nested
    return [(str(k), v) for k, v in doc.items()
            if isinstance(v, Mapping) and _CAMERA_KEYS & set(v)]


def is_toml_calibration(doc: Mapping) -> bool:
    return bool(camera_tables(doc))


def read_toml(path: Path, units: str = "auto") -> list[Camera]:
    """Cameras of a Pose2Sim/anipose/FreeMoCap/Caliscope TOML file (world units -> metres)."""
    tables = camera_tables(parse_toml(path))
    if not tables:
        raise CalibrationError(f"{path}: no camera tables (tables with 'matrix', "
                               "'rotation', ...); "
                               "expected the Pose2Sim/anipose layout [cam_1] matrix = ...")
    raw = []
    for key, tab in tables:
        name = tab.get("name", key)
        if not isinstance(name, (str, int)) or isinstance(name, bool):
            raise CalibrationError(f"{where(path, key)}: 'name' must be a string, got {name!r}")
        name = str(name)
        if name.isdigit() and "name" not in tab:
            name = f"cam_{name}"
        ctx = where(path, name)
        fisheye = tab.get("fisheye", False)
        if not isinstance(fisheye, bool):
            raise CalibrationError(f"{ctx}: 'fisheye' must be true or false, got {fisheye!r}")
        model = "fisheye" if fisheye else "pinhole"
        K = numbers(get(tab, "matrix", ctx), (3, 3), f"{ctx}: matrix")
        dist = numbers(get(tab, "distortions", ctx, "dist"), None, f"{ctx}: distortions",
                       sizes=(4,) if fisheye else (4, 5))
        rot = numbers(get(tab, "rotation", ctx), None, f"{ctx}: rotation", sizes=(3, 9))
        R = rotation_from_rodrigues(rot) if rot.size == 3 else rot.reshape(3, 3)
        t = numbers(get(tab, "translation", ctx), (3,), f"{ctx}: translation")
        size = image_size(get(tab, "size", ctx), f"{ctx}: size")
        raw.append((name, K, dist, R, t, size, model))
    scale = detect_scale([(r[3], r[4]) for r in raw], units, path)
    return [make_camera(path, n, K, d, R, t * scale, s, m) for n, K, d, R, t, s, m in raw]


# --------------------------------------------------------------------------- writer
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _num(x: float) -> str:
    """Shortest text that reads back as the same float64."""
    return repr(float(x))


def _vec(v: np.ndarray) -> str:
    return "[ " + ", ".join(_num(x) for x in np.ravel(v)) + "]"


def format_calibration_toml(rig: Rig) -> str:
    """The Pose2Sim/anipose TOML text of a rig (metres, Rodrigues rotations, file order)."""
    lines: list[str] = []
    for cam in rig:
        key = cam.name if _BARE_KEY.match(cam.name) else json.dumps(cam.name)
        dist = cam.dist
        if cam.model == "pinhole" and dist[4] == 0.0:
            dist = dist[:4]  # Pose2Sim writes (k1, k2, p1, p2)
        lines += [
            f"[{key}]",
            f"name = {json.dumps(cam.name)}",
            f"size = [ {float(cam.size[0])!r}, {float(cam.size[1])!r}]",
            "matrix = [ " + ", ".join(_vec(row) for row in cam.K) + "]",
            f"distortions = {_vec(dist)}",
            f"rotation = {_vec(rodrigues_from_rotation(cam.R))}",
            f"translation = {_vec(cam.t)}",
            f"fisheye = {'true' if cam.model == 'fisheye' else 'false'}",
            "",
        ]
    lines += ["[metadata]", "adjusted = false", "error = 0.0", ""]
    return "\n".join(lines)


def write_calibration_toml(rig: Rig, path: str | Path, overwrite: bool = False) -> Path:
    """Write ``rig`` as a Pose2Sim/anipose TOML (metres); refuses to replace a file unless
    ``overwrite``. Reading it back gives the same rig (to float64 round-off in R)."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise CalibrationError(f"{path} exists; allow overwriting to replace it",
                               option="overwrite")
    if not isinstance(rig, Rig):
        raise CalibrationError(f"{path}: expected a Rig to write, got {type(rig).__name__}")
    return write_text(path, format_calibration_toml(rig))
