"""Plain NPZ keypoints: the simplest multi-view format (reader and writer).

Arrays: ``keypoints`` [F, V, J, 3] float (u, v px distorted, confidence in [0, 1], 0 =
missing); optional ``camera_names`` [V] str (without them the views are, in order, the
``camera_names`` passed to the reader, else the rig's cameras when the counts match, else
``cam01``, ``cam02``...), ``joint_set`` str, ``fps`` float (0 = unknown),
``frame_numbers`` [F] int (source frames; offsets are applied on read).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from ..atomic import atomic_write
from ..errors import KeypointError
from ..skeletons import guess_joint_set
from .multiview import Keypoints2D


def read_npz(path: Path, joint_set: str | None = None) -> tuple[np.ndarray, list[str] | None,
                                                                str, float | None, np.ndarray]:
    """(keypoints [F, V, J, 3], camera names (None when not stored), joint set, fps,
    frame numbers [F])."""
    try:
        z = np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise KeypointError(f"{path}: not a readable NPZ file ({exc})") from None
    if not isinstance(z, np.lib.npyio.NpzFile):
        raise KeypointError(f"{path}: expected an .npz archive with a 'keypoints' array")
    with z:
        try:
            if "keypoints" not in z.files:
                raise KeypointError(f"{path}: missing the 'keypoints' array [F, V, J, 3] "
                                    f"(found {z.files})")
            kp = z["keypoints"]
            if kp.dtype.kind not in "fiu" or kp.ndim != 4 or kp.shape[-1] != 3:
                raise KeypointError(f"{path}: 'keypoints' must be numbers [F, V, J, 3], got "
                                    f"{kp.dtype} {kp.shape}")
            F, V, J, _ = kp.shape
            names = ([str(c) for c in z["camera_names"].ravel()] if "camera_names" in z.files
                     else None)
            if names is not None and len(names) != V:
                raise KeypointError(f"{path}: {len(names)} camera_names for {V} views")
            stored = str(z["joint_set"]) if "joint_set" in z.files else None
            fps = float(z["fps"]) if "fps" in z.files and z["fps"].size == 1 else None
            frames = z["frame_numbers"] if "frame_numbers" in z.files else np.arange(F)
        except (ValueError, TypeError, zipfile.BadZipFile, EOFError, OSError) as exc:
            if isinstance(exc, KeypointError):
                raise
            raise KeypointError(f"{path}: damaged NPZ ({exc})") from None
    if frames.shape != (F,) or frames.dtype.kind not in "iu":
        raise KeypointError(f"{path}: 'frame_numbers' must be {F} integers")
    values, counts = np.unique(frames, return_counts=True)
    if (counts > 1).any():
        dup = int(values[np.argmax(counts > 1)])
        rows = np.flatnonzero(frames == dup).tolist()
        raise KeypointError(f"{path}: frame number {dup} appears {int(counts.max())} times "
                            f"(rows {rows[:5]}); each frame must appear once in "
                            "'frame_numbers'")
    if fps is not None and not (np.isfinite(fps) and fps >= 0):
        raise KeypointError(f"{path}: 'fps' must be positive (0 = unknown), got {fps}")
    if fps == 0:
        fps = None
    js = joint_set or stored
    if js is None:
        try:
            js = guess_joint_set(J).name
        except ValueError as exc:
            raise KeypointError(f"{path}: {exc}") from None
    return kp.astype(float), names, js, fps, frames.astype(int)


def write_keypoints_npz(keypoints: Keypoints2D, path: str | Path,
                        overwrite: bool = False) -> Path:
    """Write ``keypoints`` in the NPZ layout above (refuses to replace a file by default)."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise KeypointError(f"{path} exists; allow overwriting to replace it",
                            option="overwrite")
    arrays = {
        "keypoints": keypoints.data,
        "camera_names": np.array(keypoints.camera_names, dtype=str),
        "joint_set": np.array(keypoints.joint_set),
        "frame_numbers": keypoints.frame_numbers,
    }
    if keypoints.fps is not None:
        arrays["fps"] = np.array(float(keypoints.fps))
    with atomic_write(path, "wb") as fh:
        np.savez_compressed(fh, **arrays)
    return path
