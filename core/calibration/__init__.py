"""Calibration files -> :class:`~skelsplat.core.camera.Rig` (metres, OpenCV cameras).

``read_calibration(path)`` detects the format from the file's content (``fmt`` overrides)
and converts every unit to metres; ``write_calibration_toml`` writes the Pose2Sim/anipose
TOML layout. Format notes live in each reader module.

=============  ===================================================  ==================
``fmt``        file                                                 units / notes
=============  ===================================================  ==================
pose2sim       Pose2Sim TOML (``Calib*.toml``)                      m (auto-detected)
anipose        anipose ``calibration.toml``                         board units (auto)
freemocap      FreeMoCap ``*_camera_calibration.toml``              mm (auto-detected)
caliscope      Caliscope ``config.toml`` / ``camera_array.toml``    m, 3x3 rotations
qualisys       Qualisys ``.qca.txt`` (XML)                          mm, x64 intrinsics
panoptic       CMU Panoptic ``calibration_<seq>.json``              cm; 'hd' by default
shelf          4D-association ``calibration.json`` (Shelf/Campus)   m
voxelpose      VoxelPose ``calibration_*.json``                     mm, x = R (X - T)
easymocap      EasyMocap ``intri.yml`` + ``extri.yml`` (or folder)   m
opencv         OpenCV FileStorage YAML / XML, one or more cameras   m (auto-detected)
=============  ===================================================  ==================
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from ..camera import Camera, Rig
from ..errors import CalibrationError
from .json_formats import json_kind, parse_json, read_panoptic, read_shelf, read_voxelpose
from .opencv_storage import find_easymocap_pair, read_easymocap, read_opencv, sniff_opencv
from .qualisys import is_qualisys, parse_xml, read_qualisys
from .toml_format import (
    format_calibration_toml,
    is_toml_calibration,
    parse_toml,
    read_toml,
    write_calibration_toml,
)

CALIBRATION_FORMATS: list[str] = [
    "pose2sim", "anipose", "freemocap", "caliscope", "qualisys", "panoptic", "shelf",
    "voxelpose", "easymocap", "opencv",
]
_TOML_FORMATS = ("pose2sim", "anipose", "freemocap", "caliscope")

__all__ = [
    "CALIBRATION_FORMATS",
    "detect_calibration_format",
    "format_calibration_toml",
    "read_calibration",
    "write_calibration_toml",
]


def detect_calibration_format(path: str | Path) -> str:
    """The format name of a calibration file or folder, from its content.

    TOML files are reported as ``"pose2sim"`` (the same reader serves anipose,
    FreeMoCap and Caliscope, with units detected from the rig size).
    """
    path = Path(path)
    if path.is_dir():
        if find_easymocap_pair(path) is not None:
            return "easymocap"
        raise CalibrationError(f"{path}: a folder is only a calibration when it holds "
                               "EasyMocap intri.yml + extri.yml")
    if not path.is_file():
        raise CalibrationError(f"{path}: calibration file not found")
    try:
        with open(path, "rb") as fh:  # only the start: folders may hold videos too
            head = fh.read(4096).decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n")
    except OSError as exc:
        raise CalibrationError(f"{path}: cannot read ({exc.strerror})") from None
    suffix = path.suffix.lower()
    if head.startswith("%YAML") or "!!opencv-matrix" in head or suffix in (".yml", ".yaml"):
        if path.name.lower() in ("intri.yml", "extri.yml") or \
                sniff_opencv(path) == "easymocap":
            return "easymocap"
        return "opencv"
    if head.startswith("<"):
        if "<opencv_storage" in head:
            return "opencv"
        if is_qualisys(parse_xml(path)):
            return "qualisys"
        raise CalibrationError(f"{path}: XML that is neither a Qualisys calibration nor "
                               "OpenCV FileStorage")
    looks_toml = suffix == ".toml" or bool(
        "matrix" in head and re.search(r"^\s*\[[^\]]+\]\s*$", head, re.M))
    if head.startswith(("{", "[")) and not looks_toml:
        kind = json_kind(parse_json(path))
        if kind is None:
            raise CalibrationError(f"{path}: JSON that matches no known calibration layout "
                                   "(CMU Panoptic, 4D-association/Shelf, VoxelPose)")
        return kind
    if looks_toml:
        if is_toml_calibration(parse_toml(path)):
            return "pose2sim"
        raise CalibrationError(f"{path}: TOML without camera tables (tables with 'matrix')")
    raise CalibrationError(f"{path}: unknown calibration format; name the calibration "
                           f"format (one of {CALIBRATION_FORMATS})", option="fmt")


def read_calibration(path: str | Path, fmt: str = "auto",
                     cameras: Sequence[str | int] | None = None, *, units: str = "auto",
                     image_size: tuple[int, int] | None = None) -> Rig:
    """Read a calibration into a :class:`Rig` (metres, world-to-camera, file order).

    Args:
        path: calibration file (or EasyMocap folder).
        fmt: ``"auto"`` or one of :data:`CALIBRATION_FORMATS` (``"toml"`` = pose2sim).
        cameras: names (or file-order indices) of the cameras to keep, in the order wanted;
            None keeps all (CMU Panoptic: the 31 'hd' cameras).
        units: TOML/OpenCV translation units, ``"auto"`` (size-based), ``"m"``, ``"mm"``.
        image_size: (width, height) for formats that do not store it (VoxelPose,
            EasyMocap); otherwise twice the principal point is used.
    Raises:
        CalibrationError naming the file, the camera and what was expected.
    """
    path = Path(path)
    fmt = (fmt or "auto").lower()
    if fmt == "toml":
        fmt = "pose2sim"
    if fmt == "auto":
        fmt = detect_calibration_format(path)
    elif fmt not in CALIBRATION_FORMATS:
        raise CalibrationError(f"{path}: unknown calibration format {fmt!r}; "
                               f"expected auto or one of {CALIBRATION_FORMATS}")
    elif not path.exists():
        raise CalibrationError(f"{path}: calibration file not found")
    names = None if cameras is None else [c for c in cameras if isinstance(c, str)]
    cams: list[Camera]
    if fmt in _TOML_FORMATS:
        cams = read_toml(path, units)
    elif fmt == "qualisys":
        cams = read_qualisys(path)
    elif fmt == "panoptic":
        cams = read_panoptic(path, names if names and len(names) == len(cameras) else None)
    elif fmt == "shelf":
        cams = read_shelf(path)
    elif fmt == "voxelpose":
        cams = read_voxelpose(path, image_size)
    elif fmt == "easymocap":
        cams = read_easymocap(path, image_size)
    else:
        cams = read_opencv(path, units, image_size)
    rig = Rig(cams, source=f"{path} ({fmt})")
    if cameras is not None:
        rig = select_cameras(rig, cameras, path)
    return rig


def select_cameras(rig: Rig, cameras: Sequence[str | int], path: str | Path) -> Rig:
    """The named (or indexed) cameras of ``rig`` in the requested order."""
    keys: list[str | int] = []
    for c in cameras:
        if isinstance(c, (int, str)) and not isinstance(c, bool):
            keys.append(c)
        else:
            raise CalibrationError(f"{path}: camera selectors must be names or indices, got {c!r}")
    unknown = [c for c in keys if (isinstance(c, str) and c not in rig.names)
               or (isinstance(c, int) and not -len(rig) <= c < len(rig))]
    if unknown:
        raise CalibrationError(f"{path}: no camera(s) {unknown}; the file has {rig.names}")
    if not keys:
        raise CalibrationError(f"{path}: empty camera selection")
    return rig.subset(keys)
