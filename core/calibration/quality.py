"""Per-camera reprojection errors stored with a calibration we made, for reports and panels.

Our board calibration and actor refinement write the Pose2Sim/anipose TOML with the
per-camera RMS reprojection errors inside its ``[metadata]`` table (Pose2Sim and anipose
skip that table, so the file stays readable by both)::

    [metadata]
    adjusted = true
    error = 0.142                  # RMS over all cameras (px)
    method = "board"               # or "actor"
    detail = "5x7 ChArUco board (100 mm squares, 75 mm DICT_4X4_50 markers)"
    [metadata.reprojection_error_px]
    cam01 = 0.121

:func:`read_calibration_errors` returns them (None for files made elsewhere).
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import numpy as np

from ..camera import Rig
from ..errors import CalibrationError
from .toml_format import format_calibration_toml


def format_calibration_with_errors(rig: Rig, errors_px: dict[str, float], method: str,
                                   detail: str = "") -> str:
    """The TOML text of ``rig`` with per-camera RMS errors (px) in ``[metadata]``."""
    text = format_calibration_toml(rig)
    head = text[: text.rindex("[metadata]")]
    vals = np.array([v for v in errors_px.values() if np.isfinite(v)])
    overall = float(np.sqrt(np.mean(vals ** 2))) if vals.size else 0.0
    lines = ["[metadata]", "adjusted = true", f"error = {overall!r}",
             f"method = {json.dumps(method)}", f"detail = {json.dumps(detail)}", "",
             "[metadata.reprojection_error_px]"]
    lines += [f"{json.dumps(n)} = {float(errors_px[n])!r}" for n in rig.names
              if n in errors_px and np.isfinite(errors_px[n])]
    return head + "\n".join(lines) + "\n"


def write_calibration_with_errors(rig: Rig, errors_px: dict[str, float], method: str,
                                  path: str | Path, detail: str = "",
                                  overwrite: bool = False) -> Path:
    """Write the TOML (see :func:`format_calibration_with_errors`); never replaces an
    existing file unless ``overwrite``."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise CalibrationError(f"{path} exists; allow overwriting to replace it",
                               option="overwrite")
    if path.suffix.lower() != ".toml":
        raise CalibrationError(f"{path}: the calibration is written as TOML; use a .toml name")
    text = format_calibration_with_errors(rig, errors_px, method, detail)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def read_calibration_errors(path: str | Path) -> dict[str, float] | None:
    """{camera: RMS reprojection error (px)} stored by our calibration tools, or None when
    the file holds none (a calibration made by another tool, or not TOML)."""
    path = Path(path)
    if path.suffix.lower() != ".toml" or not path.is_file():
        return None
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError):
        return None
    table = doc.get("metadata", {}).get("reprojection_error_px")
    if not isinstance(table, dict):
        return None
    return {str(k): float(v) for k, v in table.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)}


def calibration_error_details(path: str | Path | None) -> dict[str, str]:
    """One report row with the per-camera errors our calibration tools stored in ``path``
    (``{}`` for calibrations made elsewhere)."""
    errors = read_calibration_errors(path) if path else None
    if not errors:
        return {}
    try:
        meta = tomllib.loads(Path(path).read_text(encoding="utf-8")).get("metadata", {})
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError):
        meta = {}
    how = {"board": "board", "actor": "refined from the actor"}.get(meta.get("method"), "")
    text = ", ".join(f"{c} {e:.3f} px" for c, e in errors.items())
    return {f"calibration reprojection error (RMS{', ' + how if how else ''})": text}
