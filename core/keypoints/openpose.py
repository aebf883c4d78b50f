"""OpenPose JSON keypoints (one file per frame and camera) - reader and writer.

Layouts read:
- one folder per camera: ``<root>/<camera>[_json]/<anything>_<frame>[_keypoints].json``
  (the ``_json`` suffix of the folder is dropped from the camera name);
- one folder with camera prefixes: ``<root>/<camera>_<frame>_keypoints.json``
  (the camera is the file stem before its last number).
The frame number is the last group of digits of the stem (``..._000000000012_keypoints``
-> 12). Files without a frame number, that are not ``.json``, or JSON objects without a
``people`` key are ignored (stray ``metadata.json``, thumbnails, notes); a frame file
that is broken is an error naming it. Each file: ``{"people": [{"pose_keypoints_2d":
[u0, v0, c0, u1, ...]}, ...]}``; every person is a candidate (see ``people.py``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

from ..atomic import write_text
from ..errors import KeypointError
from ._assemble import CameraTrack
from .multiview import Keypoints2D

_FRAME = re.compile(r"^(.*?)[_\-.]?(\d+)(?:[_\-.]?keypoints)?$", re.IGNORECASE)


def frame_of(path: Path) -> tuple[str, int] | None:
    """(prefix, frame number) of an OpenPose file name, or None for a stray file."""
    if path.suffix.lower() != ".json":
        return None
    m = _FRAME.match(path.stem)
    if not m:
        return None
    return m.group(1), int(m.group(2))


def read_frame(path: Path) -> np.ndarray | None:
    """Candidates [P, J, 3] of one OpenPose JSON file (P = 0 for an empty frame); None for a
    stray JSON document that is not an OpenPose frame (an object without ``people``)."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise KeypointError(f"{path}: not valid JSON ({exc})") from None
    if isinstance(doc, Mapping) and "people" not in doc:
        return None
    if not isinstance(doc, Mapping) or not isinstance(doc.get("people"), list):
        raise KeypointError(f"{path}: expected an OpenPose frame {{'people': [...]}}")
    people = []
    for i, person in enumerate(doc["people"]):
        kp = person.get("pose_keypoints_2d") if isinstance(person, Mapping) else None
        if not isinstance(kp, list) or not kp or len(kp) % 3:
            raise KeypointError(f"{path}: person {i}: 'pose_keypoints_2d' must be a list of "
                                f"u, v, confidence triplets")
        if any(isinstance(x, (bool, str)) or x is None for x in kp):
            raise KeypointError(f"{path}: person {i}: 'pose_keypoints_2d' must hold numbers")
        try:
            arr = np.asarray(kp, dtype=float).reshape(-1, 3)
        except (TypeError, ValueError, OverflowError):
            raise KeypointError(f"{path}: person {i}: 'pose_keypoints_2d' must hold "
                                "numbers") from None
        people.append(arr)
    if len({p.shape[0] for p in people}) > 1:
        raise KeypointError(f"{path}: people have different joint counts "
                            f"{[p.shape[0] for p in people]}")
    if not people:
        return np.zeros((0, 0, 3))
    out = np.stack(people)
    conf = out[..., 2]
    if np.any(np.isfinite(conf) & ((conf < 0) | (conf > 1 + 1e-6))):
        raise KeypointError(f"{path}: confidences must lie in [0, 1]")
    return out


FrameReader = Callable[[Path], "np.ndarray | None"]


def _track(name: str, files: list[tuple[int, Path]], source: str,
           reader: FrameReader) -> CameraTrack:
    track = CameraTrack(name, {}, source)
    J = None
    for frame, path in sorted(files):
        if frame in track.frames:
            raise KeypointError(f"{source}: camera {name!r} has two files for frame {frame} "
                                f"(one is {path.name})")
        cands = reader(path)
        if cands is None:
            continue
        if cands.shape[0]:
            if J is not None and cands.shape[1] != J:
                raise KeypointError(f"{path}: {cands.shape[1]} joints, but earlier frames of "
                                    f"camera {name!r} have {J}")
            J = cands.shape[1]
        track.frames[frame] = cands
    if J is None:
        return track
    for f, c in track.frames.items():
        if c.shape[0] == 0:
            track.frames[f] = np.zeros((0, J, 3))
    return track


def read_frame_folder(root: Path, reader: FrameReader = read_frame,
                      kind: str = "OpenPose") -> list[CameraTrack]:
    """Per-camera tracks of a folder of per-frame files (either layout, see module
    docstring); ``reader`` parses one file into candidates [P, J, 3] (None: stray)."""
    if not root.is_dir():
        raise KeypointError(f"{root}: expected a folder of {kind} JSON files")
    subdirs = sorted(d for d in root.iterdir() if d.is_dir()
                     and any(frame_of(p) for p in d.iterdir() if p.is_file()))
    if subdirs:
        tracks = []
        for d in subdirs:
            files = [(fr[1], p) for p in d.iterdir() if p.is_file() and (fr := frame_of(p))]
            name = re.sub(r"[_\-]json$", "", d.name, flags=re.IGNORECASE)
            tracks.append(_track(name, files, str(root), reader))
        return tracks
    groups: dict[str, list[tuple[int, Path]]] = {}
    for p in sorted(root.iterdir()):
        if p.is_file() and (fr := frame_of(p)):
            groups.setdefault(fr[0] or root.name, []).append((fr[1], p))
    if not groups:
        raise KeypointError(f"{root}: no {kind} frame files (<name>_<frame>_keypoints.json)")
    tracks = [_track(name, files, str(root), reader) for name, files in groups.items()]
    if all(t.n_joints is None for t in tracks):
        raise KeypointError(f"{root}: no {kind} frame files with people")
    return tracks


def write_openpose_json(keypoints: Keypoints2D, folder: str | Path,
                        overwrite: bool = False) -> Path:
    """Write ``<folder>/<camera>_json/<camera>_<frame:012d>_keypoints.json`` (one person).

    Missing joints are written as ``0, 0, 0`` as OpenPose does; frames are numbered by
    ``keypoints.frame_numbers``. Refuses to replace existing files unless ``overwrite``.
    """
    folder = Path(folder)
    planned = []
    for v, cam in enumerate(keypoints.camera_names):
        safe = re.sub(r"[^\w\-]", "_", cam)
        d = folder / f"{safe}_json"
        for f, frame in enumerate(keypoints.frame_numbers):
            planned.append((d / f"{safe}_{int(frame):012d}_keypoints.json", f, v))
    existing = [p for p, _, _ in planned if p.exists()]
    if existing and not overwrite:
        raise KeypointError(f"{existing[0]} exists ({len(existing)} files would be replaced); "
                            "allow overwriting to replace them", option="overwrite")
    for path, f, v in planned:
        kp = keypoints.data[f, v]
        people = []
        if (kp[:, 2] > 0).any():
            people.append({"person_id": [-1],
                           "pose_keypoints_2d": [float(x) for x in kp.ravel()]})
        write_text(path, json.dumps({"version": 1.3, "people": people}))
    return folder
