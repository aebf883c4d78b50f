"""Writing (and reading back) 3D motion: NPZ, JSON, TRC and C3D.

``write_motion(motion, path)`` picks the format from the suffix and never replaces a file
unless ``overwrite=True`` (:class:`ExportError` otherwise).

- ``.npz``: :meth:`Motion3D.save_npz` (``joints3d`` [F, J, 3] m, ``joint_names``, ``valid``,
  ``covariances`` [F, J, 3, 3], ``fps``, ``frame_numbers``...); exact round trip.
- ``.json``: ``{"format": "skelsplat-motion", "version": 1, "units": "m", "fps",
  "joint_names", "frames": [{"frame": n, "joints": {name: [x, y, z] or null}}],
  "valid": [[bool] * J] * F}`` in the calibration's world frame; floats are written with
  full precision, so the round trip is exact.
- ``.trc`` (OpenSim / Pose2Sim): metres, Y up. The calibration world is turned into the
  OpenSim frame by a rotation chosen by ``world_up``: ``"z"`` (Qualisys/Pose2Sim, Shelf:
  Z up; the default) maps (x, y, z) -> (y, z, x) as Pose2Sim does; ``"y"`` keeps axes;
  ``"-y"`` (CMU Panoptic, OpenCV-style worlds with y down) maps (x, y, z) -> (x, -y, -z).
  Header fields DataRate, CameraRate, NumFrames, NumMarkers, Units, OrigDataRate,
  OrigDataStartFrame, OrigNumFrames are filled; ``Frame#`` is the take frame + 1 and
  ``Time`` is take frame / fps. Invalid joints are empty cells. Coordinates are printed
  with 6 decimals, so a round trip is exact to 0.5 micrometre.
- ``.c3d`` (through the ``c3d`` package): millimetres, float storage, the world axes of
  the calibration (no rotation; C3D viewers read POINT units and axes from the file);
  invalid joints have residual -1. Round trip to float32 precision (< 1e-3 mm within
  ~10 m of the origin).
TRC and C3D need a frame rate: ``motion.fps`` (or the ``fps`` argument).
"""

from __future__ import annotations

import io
import json
import math
import warnings
from pathlib import Path

import numpy as np

from .atomic import write_bytes, write_text
from .errors import ExportError, SkelsplatError
from .motion import Motion3D

MOTION_SUFFIXES = (".npz", ".json", ".trc", ".c3d")

#: world_up -> [3, 3] rotation from the calibration world to the TRC (Y-up) frame.
TRC_ROTATIONS: dict[str, np.ndarray] = {
    "z": np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]),
    "y": np.eye(3),
    "-y": np.diag([1.0, -1.0, -1.0]),
}
_TRC_DECIMALS = 6


def write_motion(motion: Motion3D, path: str | Path, overwrite: bool = False, *,
                 world_up: str = "z", fps: float | None = None) -> Path:
    """Write ``motion`` in the format of ``path``'s suffix (.npz .json .trc .c3d).

    Args:
        motion: the 3D motion (metres, calibration world frame).
        path: output file; its parent folder is created.
        overwrite: replace an existing file (otherwise ExportError).
        world_up: TRC only: the calibration world's up axis (``"z"``, ``"y"``, ``"-y"``).
        fps: frame rate for TRC/C3D when ``motion.fps`` is unknown.
    Returns:
        The written path.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in MOTION_SUFFIXES:
        raise ExportError(f"{path}: unknown motion format {suffix or '(no suffix)'!r}; "
                          f"expected one of {MOTION_SUFFIXES}")
    if not isinstance(motion, Motion3D):
        raise ExportError(f"{path}: expected a Motion3D, got {type(motion).__name__}")
    if path.exists() and not overwrite:
        raise ExportError(f"{path} exists; allow overwriting to replace it", option="overwrite")
    if suffix == ".npz":
        return motion.save_npz(path, overwrite=True)
    if suffix == ".json":
        return write_text(path, json.dumps(_json_document(motion)))
    rate = _rate(motion, fps, path)
    if suffix == ".trc":
        return write_text(path, format_trc(motion, path.name, world_up, rate))
    return write_bytes(path, _c3d_bytes(motion, rate))


def read_motion(path: str | Path, *, world_up: str = "z") -> Motion3D:
    """Read a motion written by :func:`write_motion` (any of its formats)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if not path.is_file():
        raise SkelsplatError(f"{path}: motion file not found")
    if suffix == ".npz":
        return Motion3D.load_npz(path)
    if suffix == ".json":
        return read_motion_json(path)
    if suffix == ".trc":
        return read_trc(path, world_up=world_up)
    if suffix == ".c3d":
        return read_c3d(path)
    raise SkelsplatError(f"{path}: unknown motion format {suffix!r}; expected {MOTION_SUFFIXES}")


def _rate(motion: Motion3D, fps: float | None, path: Path) -> float:
    rate = fps if fps is not None else motion.fps
    if rate is None or not math.isfinite(rate) or rate <= 0:
        raise ExportError(f"{path}: {path.suffix.lower()[1:].upper()} needs a frame rate and "
                          f"the motion has none (got {rate}); give the frame rate",
                          option="fps")
    return float(rate)


# ------------------------------------------------------------------------------ JSON
def _json_document(motion: Motion3D) -> dict:
    frames = []
    for f in range(motion.n_frames):
        joints = {name: (motion.joints3d[f, j].tolist() if motion.valid[f, j] else None)
                  for j, name in enumerate(motion.joint_names)}
        frames.append({"frame": int(motion.frame_numbers[f]), "joints": joints})
    return {"format": "skelsplat-motion", "version": 1, "units": "m", "fps": motion.fps,
            "joint_names": list(motion.joint_names), "frames": frames,
            "valid": motion.valid.tolist()}


def read_motion_json(path: str | Path) -> Motion3D:
    """Read the JSON layout written by :func:`write_motion`."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        names = [str(n) for n in doc["joint_names"]]
        F, J = len(doc["frames"]), len(names)
        X = np.full((F, J, 3), np.nan)
        frames = np.zeros(F, dtype=int)
        for f, fr in enumerate(doc["frames"]):
            frames[f] = int(fr["frame"])
            for j, n in enumerate(names):
                p = fr["joints"].get(n)
                if p is not None:
                    X[f, j] = np.asarray(p, dtype=float).reshape(3)
        valid = np.asarray(doc.get("valid", np.isfinite(X).all(-1)), dtype=bool).reshape(F, J)
        fps = doc.get("fps")
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, ValueError,
            AttributeError) as exc:
        raise SkelsplatError(f"{path}: not a SkelSplat motion JSON ({exc})") from None
    return Motion3D(X, names, valid, fps=None if fps is None else float(fps),
                    frame_numbers=frames, meta={"source": str(path)})


# ------------------------------------------------------------------------------ TRC
def _trc_rotation(world_up: str) -> np.ndarray:
    try:
        return TRC_ROTATIONS[world_up]
    except KeyError:
        raise ExportError(f"unknown world_up {world_up!r}; expected one of "
                          f"{list(TRC_ROTATIONS)}") from None


def format_trc(motion: Motion3D, name: str, world_up: str, fps: float) -> str:
    """TRC text of ``motion`` (see the module docstring for the conventions)."""
    R = _trc_rotation(world_up)
    F, J = motion.n_frames, motion.n_joints
    first = int(motion.frame_numbers[0]) + 1 if F else 1
    rate = f"{fps:g}"
    lines = [
        f"PathFileType\t4\t(X/Y/Z)\t{name}",
        "DataRate\tCameraRate\tNumFrames\tNumMarkers\tUnits\tOrigDataRate\t"
        "OrigDataStartFrame\tOrigNumFrames",
        f"{rate}\t{rate}\t{F}\t{J}\tm\t{rate}\t{first}\t{F}",
        "Frame#\tTime\t" + "\t\t\t".join(motion.joint_names) + "\t\t",
        "\t\t" + "\t".join(f"X{j}\tY{j}\tZ{j}" for j in range(1, J + 1)),
        "",
    ]
    Y = motion.joints3d @ R.T
    for f in range(F):
        frame = int(motion.frame_numbers[f])
        cells = [str(frame + 1), f"{frame / fps:.{_TRC_DECIMALS}f}"]
        for j in range(J):
            if motion.valid[f, j]:
                cells += [f"{x:.{_TRC_DECIMALS}f}" for x in Y[f, j]]
            else:
                cells += ["", "", ""]
        lines.append("\t".join(cells))
    return "\n".join(lines) + "\n"


def read_trc(path: str | Path, *, world_up: str = "z") -> Motion3D:
    """Read a TRC file into a :class:`Motion3D` in the calibration world frame.

    ``world_up`` must be the value used when writing (default ``"z"``); units ``mm`` or
    ``cm`` are converted to metres. ``frame_numbers`` = ``Frame#`` - 1.
    """
    path = Path(path)
    R = _trc_rotation(world_up)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise SkelsplatError(f"{path}: cannot read TRC ({exc})") from None
    if len(lines) < 5 or not lines[0].startswith("PathFileType"):
        raise SkelsplatError(f"{path}: not a TRC file (expected 'PathFileType' on line 1)")
    keys, values = lines[1].split("\t"), lines[2].split("\t")
    header = dict(zip([k.strip() for k in keys], [v.strip() for v in values]))
    try:
        fps = float(header["DataRate"])
        n_markers = int(header["NumMarkers"])
        units = header.get("Units", "m").lower()
    except (KeyError, ValueError):
        raise SkelsplatError(f"{path}: TRC header lacks DataRate/NumMarkers") from None
    scale = {"m": 1.0, "mm": 1e-3, "cm": 1e-2}.get(units)
    if scale is None:
        raise SkelsplatError(f"{path}: unknown TRC units {units!r}")
    names = [n.strip() for n in lines[3].split("\t")[2:] if n.strip()]
    if len(names) != n_markers:
        raise SkelsplatError(f"{path}: {len(names)} marker names for NumMarkers={n_markers}")
    frames, rows = [], []
    for no, line in enumerate(lines[5:], start=6):
        if not line.strip():
            continue
        cells = line.split("\t")
        cells += [""] * (2 + 3 * n_markers - len(cells))
        try:
            frames.append(int(cells[0]) - 1)
            rows.append([float(c) if c.strip() else np.nan for c in cells[2:2 + 3 * n_markers]])
        except ValueError:
            raise SkelsplatError(f"{path}, line {no}: expected numbers") from None
    X = np.array(rows, dtype=float).reshape(len(rows), n_markers, 3) * scale @ R
    valid = np.isfinite(X).all(-1)
    return Motion3D(X, names, valid, fps=fps, frame_numbers=np.array(frames, dtype=int),
                    meta={"source": str(path), "world_up": world_up})


# ------------------------------------------------------------------------------ C3D
def _c3d_bytes(motion: Motion3D, fps: float) -> bytes:
    import c3d

    writer = c3d.Writer(point_rate=fps, analog_rate=0.0, point_scale=-1.0, point_units="mm  ")
    empty = np.zeros((0, 0), dtype=np.float32)
    for f in range(motion.n_frames):
        pts = np.zeros((motion.n_joints, 5), dtype=np.float32)
        ok = motion.valid[f]
        pts[ok, :3] = motion.joints3d[f, ok] * 1000.0
        pts[~ok, 3] = -1.0
        writer.add_frames([(pts, empty)])
    writer.set_point_labels(list(motion.joint_names))
    writer.set_start_frame(int(motion.frame_numbers[0]) + 1 if motion.n_frames else 1)
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="No analog data")
        writer.write(buf)
    return buf.getvalue()


def read_c3d(path: str | Path) -> Motion3D:
    """Read the points of a C3D file (POINT:UNITS mm/cm/m) into a :class:`Motion3D`."""
    import c3d

    path = Path(path)
    try:
        with open(path, "rb") as fh, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reader = c3d.Reader(fh)
            labels = [str(s).strip() for s in reader.point_labels]
            units = reader.get("POINT:UNITS").string_value.strip().lower() \
                if reader.get("POINT:UNITS") is not None else "mm"
            frames, pts = [], []
            for fno, points, _ in reader.read_frames():
                frames.append(int(fno) - 1)
                pts.append(np.array(points[:, :4], dtype=float))
            fps = float(reader.point_rate)
    except (OSError, ValueError, AssertionError, KeyError, IndexError, TypeError) as exc:
        raise SkelsplatError(f"{path}: not a readable C3D file ({exc})") from None
    scale = {"mm": 1e-3, "cm": 1e-2, "m": 1.0}.get(units, 1e-3)
    P = np.array(pts).reshape(len(pts), len(labels), 4)
    valid = P[..., 3] >= 0
    X = np.where(valid[..., None], P[..., :3] * scale, np.nan)
    return Motion3D(X, labels, valid, fps=fps, frame_numbers=np.array(frames, dtype=int),
                    meta={"source": str(path)})
