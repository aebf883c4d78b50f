"""On-disk cache of per-camera detections, so re-fitting a take never re-detects.

Location: ``<take folder>/.skelsplat_cache/<camera>-<key>.npz`` where ``key`` is the first
16 hex digits of a sha256 over

- the video's content fingerprint: file size + sha256 of its first and last MiB (no
  mtime, so copying or touching the file keeps the cache valid), and
- the detector settings (backend, model hash / version, thresholds) as sorted JSON.

File layout (plain ``numpy.savez``: the NPZ keypoint layout with one view, so a cache file
reads with ``skelsplat.core.keypoints.read_keypoints``; extra arrays are ignored there):

=================  =========================================================
``keypoints``      [F, 1, J, 3] float32: u, v (px, distorted), confidence (0 = missing)
``camera_names``   [1] str
``joint_set``      str (registered joint set name)
``frame_numbers``  [F] int: video frame index of each row (0-based)
``fps``            float
``video``          str: video file name
``fingerprint``    str: the content fingerprint above
``detector``       str: the detector settings JSON
``ms_per_frame``   float: mean wall time per frame when the detections were made
=================  =========================================================
"""

from __future__ import annotations

import hashlib
import json
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..atomic import atomic_write

CACHE_DIRNAME = ".skelsplat_cache"
_CHUNK = 1 << 20  # 1 MiB


def video_fingerprint(path: str | Path) -> str:
    """``<size>-<sha256 of the first and last MiB>`` of a file (mtime-free)."""
    path = Path(path)
    size = path.stat().st_size
    h = hashlib.sha256()
    with open(path, "rb") as f:
        h.update(f.read(_CHUNK))
        if size > _CHUNK:
            f.seek(max(size - _CHUNK, _CHUNK))
            h.update(f.read(_CHUNK))
    return f"{size}-{h.hexdigest()}"


def cache_key(fingerprint: str, settings: dict) -> str:
    """16 hex digits identifying (video content, detector settings)."""
    blob = json.dumps({"video": fingerprint, "detector": settings}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name) or "camera"


def cache_path(cache_dir: str | Path, camera: str, key: str) -> Path:
    """``<cache_dir>/<camera>-<key>.npz`` (camera name made file-system safe)."""
    return Path(cache_dir) / f"{_safe(camera)}-{key}.npz"


@dataclass
class CachedDetections:
    """Detections of one camera's whole video."""

    camera: str
    keypoints: np.ndarray      # [F, J, 3]  u, v px, confidence
    joint_set: str
    fps: float
    video: str
    fingerprint: str
    detector: dict
    ms_per_frame: float

    @property
    def n_frames(self) -> int:
        return int(self.keypoints.shape[0])


def save_cached(path: str | Path, det: CachedDetections) -> Path:
    """Write atomically (temporary file + rename), so a cancelled run leaves no half file."""
    with atomic_write(path, "wb") as fh:
        _savez(fh, det)
    return Path(path)


def _savez(fh, det: CachedDetections) -> None:
    np.savez(
        fh,
        keypoints=det.keypoints[:, None].astype(np.float32),
        camera_names=np.array([det.camera]),
        joint_set=np.array(det.joint_set),
        frame_numbers=np.arange(det.n_frames),
        fps=np.array(float(det.fps)),
        video=np.array(det.video),
        fingerprint=np.array(det.fingerprint),
        detector=np.array(json.dumps(det.detector, sort_keys=True)),
        ms_per_frame=np.array(float(det.ms_per_frame)),
    )


def load_cached(path: str | Path) -> CachedDetections | None:
    """Read a cache file; None when it is absent or unreadable (it is then recomputed)."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            return CachedDetections(
                camera=str(z["camera_names"][0]),
                keypoints=np.asarray(z["keypoints"][:, 0], dtype=float),
                joint_set=str(z["joint_set"]),
                fps=float(z["fps"]),
                video=str(z["video"]),
                fingerprint=str(z["fingerprint"]),
                detector=json.loads(str(z["detector"])),
                ms_per_frame=float(z["ms_per_frame"]),
            )
    except (OSError, KeyError, ValueError, IndexError, EOFError, zipfile.BadZipFile):
        return None  # damaged (truncated, empty, foreign): the caller detects again
