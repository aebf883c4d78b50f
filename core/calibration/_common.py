"""Shared helpers of the calibration readers: strict value checks and camera building.

Every helper raises :class:`CalibrationError` with a message that names the file, the
camera and what was expected, so a reader never lets a bare ``KeyError`` escape.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ..camera import Camera
from ..errors import CalibrationError

#: Rotations whose ``max |R R^T - I|`` is below this are projected onto SO(3) (files
#: often store 6-8 significant digits); larger errors are reported as not orthonormal.
ORTHO_TOLERANCE = 1e-4

#: A rig whose median camera distance from the origin and from each other exceeds this
#: many units is taken to be in millimetres (no real capture rig spans 50 m).
MM_THRESHOLD = 50.0


def where(path: Path | str, camera: str | None = None) -> str:
    """``"file"`` or ``"file, camera 'name'"`` for messages."""
    return f"{path}" if camera is None else f"{path}, camera {camera!r}"


def get(table: Mapping, key: str, ctx: str, *alternatives: str) -> object:
    """``table[key]`` (or the first present alternative key), else a CalibrationError."""
    if not isinstance(table, Mapping):
        raise CalibrationError(f"{ctx}: expected a table of camera fields, got "
                               f"{type(table).__name__}")
    for k in (key, *alternatives):
        if k in table:
            return table[k]
    keys = " / ".join(repr(k) for k in (key, *alternatives))
    raise CalibrationError(f"{ctx}: missing {keys} (found keys {sorted(map(str, table))})")


def numbers(value: object, shape: tuple[int, ...] | None, what: str,
            sizes: tuple[int, ...] | None = None) -> np.ndarray:
    """Strictly convert nested lists of real numbers to a float array.

    Args:
        value: the raw value (nested lists, numbers, numpy array).
        shape: required shape after reshaping (total size must match), or None.
        what: description for messages, e.g. ``"file, camera 'a': matrix"``.
        sizes: alternatively, the allowed total sizes of a flat vector.
    Strings, booleans, None and non-finite values are rejected.
    """
    def bad(reason: str) -> CalibrationError:
        text = repr(value)
        if len(text) > 80:
            text = text[:77] + "..."
        return CalibrationError(f"{what}: {reason}, got {text}")

    def check(v: object) -> None:
        if isinstance(v, (bool, str, bytes)) or v is None:
            raise bad("expected numbers")
        if isinstance(v, (list, tuple)):
            for x in v:
                check(x)

    if not isinstance(value, np.ndarray):
        check(value)
    try:
        arr = np.array(value, dtype=float)
    except (TypeError, ValueError, OverflowError):
        raise bad("expected a regular array of numbers") from None
    if shape is not None:
        if arr.size != math.prod(shape):
            raise bad(f"expected {math.prod(shape)} numbers (shape {shape})")
        arr = arr.reshape(shape)
    elif sizes is not None:
        arr = arr.ravel()
        if arr.size not in sizes:
            raise bad(f"expected {' or '.join(map(str, sizes))} numbers")
    if not np.all(np.isfinite(arr)):
        raise bad("contains NaN or infinite values")
    return arr


def number(value: object, what: str) -> float:
    """One finite real number (strings and booleans rejected)."""
    return float(numbers(value, (1,), what)[0])


def text_number(value: str | None, what: str) -> float:
    """A finite number written as text (XML attributes)."""
    if value is None:
        raise CalibrationError(f"{what}: missing")
    try:
        x = float(value)
    except ValueError:
        raise CalibrationError(f"{what}: expected a number, got {value!r}") from None
    if not math.isfinite(x):
        raise CalibrationError(f"{what}: expected a finite number, got {value!r}")
    return x


def nearest_rotation(R: np.ndarray, what: str) -> np.ndarray:
    """Project an almost-orthonormal [3, 3] matrix onto SO(3); reject anything else."""
    with np.errstate(over="ignore", invalid="ignore"):
        err = float(np.abs(R @ R.T - np.eye(3)).max())
        det = float(np.linalg.det(R))
    if not np.isfinite(err):
        err = np.inf
    if err > ORTHO_TOLERANCE or det <= 0:
        raise CalibrationError(f"{what}: rotation is not orthonormal with det +1 "
                               f"(max |R R^T - I| = {err:.2e}, det = {det:.4f})")
    if err == 0.0:
        return R
    u, _, vt = np.linalg.svd(R)
    return u @ vt


def image_size(value: object, what: str) -> tuple[int, int]:
    """(width, height) from two positive integral numbers."""
    wh = numbers(value, (2,), what)
    if np.any(wh <= 0) or np.any(wh != np.round(wh)) or np.any(wh > 1e6):
        raise CalibrationError(f"{what}: expected two positive integers (width, height), "
                               f"got {wh.tolist()}")
    return int(wh[0]), int(wh[1])


def size_from_principal_point(K: np.ndarray) -> tuple[int, int]:
    """Image size estimated as twice the principal point (formats that do not store it)."""
    return max(1, round(2 * K[0, 2])), max(1, round(2 * K[1, 2]))


def make_camera(path: Path | str, name: str, K: np.ndarray, dist: np.ndarray, R: np.ndarray,
                t: np.ndarray, size: tuple[int, int], model: str = "pinhole") -> Camera:
    """Build a :class:`Camera` (rotation cleaned up), prefixing any error with the file."""
    ctx = where(path, name)
    R = nearest_rotation(numbers(R, (3, 3), f"{ctx}: rotation"), ctx)
    try:
        return Camera(str(name), K, dist, R, t, size, model)
    except CalibrationError as exc:
        raise CalibrationError(f"{path}: {exc}") from None


def detect_scale(cameras_t: list[tuple[np.ndarray, np.ndarray]], units: str,
                 path: Path | str) -> float:
    """Metres per file unit for a list of (R, t) pairs.

    Args:
        cameras_t: world-to-camera (R [3, 3], t [3]) in file units.
        units: ``"m"``, ``"mm"``, ``"cm"`` or ``"auto"`` (millimetres when the median
            baseline, or for one camera its distance from the origin, exceeds
            :data:`MM_THRESHOLD`; metres otherwise).
    """
    fixed = {"m": 1.0, "mm": 1e-3, "cm": 1e-2}
    if units in fixed:
        return fixed[units]
    if units != "auto":
        raise CalibrationError(f"{path}: unknown units {units!r}; expected auto, m, cm or mm")
    centres = np.array([-R.T @ t for R, t in cameras_t]).reshape(-1, 3)
    if len(centres) > 1:
        d = np.linalg.norm(centres[:, None] - centres[None], axis=-1)
        size = float(np.median(d[np.triu_indices(len(centres), 1)]))
    else:
        size = float(np.linalg.norm(centres[0])) if len(centres) else 0.0
    return 1e-3 if size > MM_THRESHOLD else 1.0
