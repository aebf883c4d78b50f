"""Qualisys QTM calibration export (``.qca.txt``, XML).

Conversion rules (they reproduce Pose2Sim's converted TOML of the same file):
- ``intrinsic`` focal lengths, principal point and distortion coefficients are stored
  multiplied by 64 (sub-pixel units); divide by 64 and by the binning factor.
- The principal point is relative to the sensor; subtract the ``fov_video`` origin
  (left, top). The image size is the ``fov_video`` extent (right - left + 1, ...).
- ``transform`` holds the camera pose in the world, in millimetres: ``x, y, z`` is the
  camera centre C and ``r11..r33`` a rotation ``Q`` whose camera axes are y-up /
  z-backward. The OpenCV world-to-camera rotation is ``R = diag(1, -1, -1) @ Q`` (a turn
  of pi about the camera x axis) and ``t = -R @ C``.
- Distortion (k1, k2, p1, p2, k3) = (radialDistortion1, radialDistortion2,
  tangentalDistortion1, tangentalDistortion2, radialDistortion3) / 64.
- Cameras with a non-zero ``viewrotation`` (rotated video) are rejected: their pixel
  axes would need a rotation that this reader does not guess.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from ..camera import Camera
from ..errors import CalibrationError
from ._common import make_camera, nearest_rotation, text_number, where

_FLIP = np.diag([1.0, -1.0, -1.0])
_SUBPIXEL = 64.0


def parse_xml(path: Path) -> ET.Element:
    try:
        return ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise CalibrationError(f"{path}: not valid XML ({exc})") from None
    except UnicodeDecodeError:
        raise CalibrationError(f"{path}: not a text XML file") from None


def is_qualisys(root: ET.Element) -> bool:
    return root.tag == "calibration" and root.find("cameras") is not None


def read_qualisys(path: Path, binning: float = 1.0) -> list[Camera]:
    """Cameras of a Qualisys ``.qca.txt`` file, in file order, named by ``serial``."""
    root = parse_xml(path)
    if not is_qualisys(root):
        raise CalibrationError(f"{path}: expected a Qualisys <calibration><cameras> document, "
                               f"found <{root.tag}>")
    cams = root.findall("cameras/camera")
    if not cams:
        raise CalibrationError(f"{path}: no <camera> elements under <cameras>")
    out = []
    for i, cam in enumerate(cams):
        name = cam.get("serial") or f"cam_{i + 1:02d}"
        ctx = where(path, name)
        if cam.get("active", "1") == "0":
            continue
        view_rot = text_number(cam.get("viewrotation", "0"), f"{ctx}: viewrotation")
        if view_rot != 0:
            raise CalibrationError(f"{ctx}: viewrotation={view_rot:g} (rotated video) is not "
                                   "supported; export the calibration without view rotation")

        def element(tag: str, cam: ET.Element = cam, ctx: str = ctx) -> dict[str, str]:
            el = cam.find(tag)
            if el is None:
                raise CalibrationError(f"{ctx}: missing <{tag}> element")
            return el.attrib

        def num(attrs: dict[str, str], key: str, tag: str, ctx: str = ctx) -> float:
            return text_number(attrs.get(key), f"{ctx}: <{tag}> attribute {key!r}")

        fov = element("fov_video")
        left, top, right, bottom = (num(fov, k, "fov_video")
                                    for k in ("left", "top", "right", "bottom"))
        size = (int(right - left + 1), int(bottom - top + 1))
        intr = element("intrinsic")
        scale = _SUBPIXEL * binning
        fx, fy = num(intr, "focalLengthU", "intrinsic"), num(intr, "focalLengthV", "intrinsic")
        cu, cv = num(intr, "centerPointU", "intrinsic"), num(intr, "centerPointV", "intrinsic")
        K = np.array([[fx / scale, 0.0, cu / scale - left],
                      [0.0, fy / scale, cv / scale - top],
                      [0.0, 0.0, 1.0]])
        dist = np.array([num(intr, k, "intrinsic") for k in (
            "radialDistortion1", "radialDistortion2", "tangentalDistortion1",
            "tangentalDistortion2", "radialDistortion3")]) / _SUBPIXEL
        tr = element("transform")
        Q = np.array([[num(tr, f"r{r}{c}", "transform") for c in (1, 2, 3)] for r in (1, 2, 3)])
        centre = np.array([num(tr, k, "transform") for k in "xyz"]) / 1000.0
        R = nearest_rotation(_FLIP @ Q, ctx)
        out.append(make_camera(path, name, K, dist, R, -R @ centre, size))
    if not out:
        raise CalibrationError(f"{path}: every camera is inactive")
    return out
