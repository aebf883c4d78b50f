"""2D keypoint files -> :class:`~skelsplat.core.keypoints.multiview.Keypoints2D`.

``read_keypoints(path)`` detects the format (``fmt`` overrides), aligns frames across
cameras by frame number, applies sync offsets, matches cameras to the rig by name and,
where files hold several people, picks the actor (policy in ``people.py``).

==========  ==============================================================  ============
``fmt``     input                                                           people
==========  ==============================================================  ============
openpose    folder: ``<cam>_json/*_<frame>_keypoints.json`` per camera, or   several
            one folder of ``<cam>_<frame>_keypoints.json``
npz         ``.npz`` with ``keypoints`` [F, V, J, 3] (+ camera_names,        one
            joint_set, fps, frame_numbers)
mmpose      ``.json`` per camera (MMPose/RTMLib predictions), a folder of    several
            them, or per-frame instance lists in OpenPose-like folders
deeplabcut  ``.csv`` / ``.h5`` per camera (or a folder of them)              individuals
==========  ==============================================================  ============
A list of files (one per camera) is accepted for mmpose and deeplabcut.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from ..camera import Rig
from ..errors import KeypointError, SkelsplatError
from ..skeletons import get_joint_set, guess_joint_set, joint_set_names
from ._assemble import CameraTrack, assemble, match_names
from .deeplabcut import camera_from_stem, read_dlc_csv, read_dlc_h5
from .mmpose import joint_set_from_meta, read_mmpose_file, read_mmpose_frame
from .multiview import Keypoints2D
from .npz import read_npz, write_keypoints_npz
from .openpose import read_frame_folder, write_openpose_json
from .people import select_people

KEYPOINT_FORMATS: list[str] = ["openpose", "npz", "mmpose", "deeplabcut"]

__all__ = [
    "KEYPOINT_FORMATS",
    "detect_keypoint_format",
    "match_names",
    "read_keypoints",
    "select_people",
    "write_keypoints_npz",
    "write_openpose_json",
]

_DLC_SUFFIXES = (".csv", ".h5", ".hdf5")


def _peek_json(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, OSError):
        return None


def _json_kind(doc: object) -> str | None:
    if isinstance(doc, Mapping):
        if "people" in doc:
            return "openpose"
        if "instance_info" in doc:
            return "mmpose"
    if isinstance(doc, list) and doc and isinstance(doc[0], Mapping) \
            and ("instances" in doc[0] or "keypoints" in doc[0]):
        return "mmpose"
    return None


def _folder_jsons(root: Path) -> list[Path]:
    files = sorted(p for p in root.iterdir() if p.is_file() and p.suffix.lower() == ".json")
    for d in sorted(p for p in root.iterdir() if p.is_dir()):
        files += sorted(p for p in d.iterdir() if p.is_file() and p.suffix.lower() == ".json")
    return files


def detect_keypoint_format(path: str | Path | Sequence[str | Path]) -> str:
    """The keypoint format of a file, folder or list of per-camera files."""
    if not isinstance(path, (str, Path)):
        paths = [Path(p) for p in path]
        if not paths:
            raise KeypointError("empty list of keypoint files")
        kinds = {detect_keypoint_format(p) for p in paths}
        if len(kinds) != 1:
            raise KeypointError(f"keypoint files of mixed formats {sorted(kinds)}")
        return kinds.pop()
    path = Path(path)
    if not path.exists():
        raise KeypointError(f"{path}: keypoint file or folder not found")
    if path.is_file():
        suffix = path.suffix.lower()
        if suffix == ".npz":
            return "npz"
        if suffix in _DLC_SUFFIXES:
            return "deeplabcut"
        if suffix == ".json":
            kind = _json_kind(_peek_json(path))
            if kind == "mmpose":
                return kind
            if kind == "openpose":
                raise KeypointError(f"{path}: one OpenPose frame; pass the folder of frames")
        raise KeypointError(f"{path}: unknown keypoint format; name the keypoint format (one of "
                            f"{KEYPOINT_FORMATS})", option="keypoint_format")
    for p in _folder_jsons(path)[:50]:
        kind = _json_kind(_peek_json(p))
        if kind is not None:
            return kind
    if any(p.suffix.lower() in _DLC_SUFFIXES for p in path.iterdir() if p.is_file()):
        return "deeplabcut"
    raise KeypointError(f"{path}: no OpenPose/MMPose JSON or DeepLabCut files in this folder")


# ------------------------------------------------------------------------------ joints
def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _joint_keys(joint: str) -> set[str]:
    n = _norm(joint)
    keys = {n}
    for long, short in (("left", "l"), ("right", "r")):
        if n.startswith(long):
            keys.add(short + n[len(long):])
    return keys


def map_parts(parts: Sequence[str], joint_set: str | None, where: str) -> tuple[str, list[int]]:
    """Joint set and, for each of its joints, the index in ``parts`` (-1 = absent).

    Names match ignoring case and punctuation, with ``L``/``R`` for ``left``/``right``
    (``LKnee`` = ``left_knee``). Without a joint set, the registered set that names every
    part (the smallest such) is used.
    """
    normed = {_norm(p): i for i, p in enumerate(parts)}

    def index_map(js_name: str) -> list[int]:
        js = get_joint_set(js_name)
        return [next((normed[k] for k in _joint_keys(j) if k in normed), -1) for j in js.joints]

    if joint_set is not None:
        idx = index_map(joint_set)
        if all(i < 0 for i in idx):
            raise KeypointError(f"{where}: none of the body parts {list(parts)} is a joint of "
                                f"{joint_set}")
        return get_joint_set(joint_set).name, idx
    best = None
    for name in joint_set_names():
        idx = index_map(name)
        covers = sorted(i for i in idx if i >= 0) == list(range(len(parts)))
        if covers and (best is None or get_joint_set(name).n < get_joint_set(best).n):
            best = name
    if best is None:
        raise KeypointError(f"{where}: body parts {list(parts)} match no registered joint set; "
                            f"name the joint set (one of {joint_set_names()})",
                            option="joint_set")
    return best, index_map(best)


def _reorder(track: CameraTrack, idx: list[int]) -> CameraTrack:
    frames = {}
    for f, c in track.frames.items():
        out = np.zeros((c.shape[0], len(idx), 3))
        for j, i in enumerate(idx):
            if i >= 0:
                out[:, j] = c[:, i]
        frames[f] = out
    return CameraTrack(track.name, frames, track.source)


def _resolve_joint_set(J: int, joint_set: str | None, hint: str | None, where: str) -> str:
    try:
        if joint_set is not None:
            js = get_joint_set(joint_set)
            if js.n != J:
                raise KeypointError(f"{where}: {J} joints per person, but joint set {js.name} "
                                    f"has {js.n}")
            return js.name
        if hint is not None and get_joint_set(hint).n == J:
            return get_joint_set(hint).name
        return guess_joint_set(J).name
    except KeypointError:
        raise
    except SkelsplatError as exc:
        raise KeypointError(f"{where}: {exc}") from None


def _tracks_joints(tracks: list[CameraTrack]) -> int:
    js = {t.n_joints for t in tracks} - {None}
    if not js:
        raise KeypointError(f"{tracks[0].source}: no frames with people in any camera")
    if len(js) > 1:
        raise KeypointError(f"{tracks[0].source}: cameras disagree on the joint count "
                            f"{ {t.name: t.n_joints for t in tracks} }")
    return js.pop()


# ------------------------------------------------------------------------------ reader
def read_keypoints(path: str | Path | Sequence[str | Path], fmt: str = "auto",
                   joint_set: str | None = None, camera_names: Sequence[str] | None = None,
                   offsets: Mapping[str, int] | None = None,
                   rig: Rig | None = None) -> Keypoints2D:
    """Read multi-view 2D keypoints.

    Args:
        path: a file, a folder, or a list of per-camera files (see the module table).
        fmt: ``"auto"`` or one of :data:`KEYPOINT_FORMATS`.
        joint_set: joint set name; None: from the file (NPZ, MMPose meta) or the joint count
            (DeepLabCut: from the body-part names).
        camera_names: the cameras to keep, in this order (matched like the rig's names).
        offsets: camera -> frames; take frame ``t`` is source frame ``t + offset``.
        rig: calibrated cameras; the result follows its names and order, and several
            people per file are resolved by multi-view consistency.
    Returns:
        :class:`Keypoints2D` with ``data`` [F, V, J, 3] (confidence 0 where missing).
    Raises:
        KeypointError naming the file, camera or frame and what was expected.
    """
    fmt = (fmt or "auto").lower()
    if fmt == "auto":
        fmt = detect_keypoint_format(path)
    elif fmt not in KEYPOINT_FORMATS:
        raise KeypointError(f"{path}: unknown keypoint format {fmt!r}; expected auto or one "
                            f"of {KEYPOINT_FORMATS}")
    if rig is not None and not isinstance(rig, Rig):
        raise KeypointError(f"rig must be a Rig, got {type(rig).__name__}")
    paths = [Path(path)] if isinstance(path, (str, Path)) else [Path(p) for p in path]
    if not paths:
        raise KeypointError("empty list of keypoint files")
    source = str(paths[0]) if len(paths) == 1 else f"{paths[0].parent} ({len(paths)} files)"
    for p in paths:
        if not p.exists():
            raise KeypointError(f"{p}: keypoint file or folder not found")
    kw = dict(camera_names=camera_names, offsets=offsets, rig=rig)
    meta = {"format": fmt}
    if fmt == "npz":
        if len(paths) != 1 or not paths[0].is_file():
            raise KeypointError(f"{source}: the npz format is one .npz file")
        kp, names, js, fps, frames = read_npz(paths[0], joint_set)
        V = kp.shape[1]
        if names is None:  # views in order: the caller's names, the rig's, or cam01...
            if camera_names is not None and len(camera_names) == V:
                names = [str(c) for c in camera_names]
            elif rig is not None and len(rig) == V:
                names = list(rig.names)
            else:
                names = [f"cam{v + 1:02d}" for v in range(V)]
            meta["camera_names"] = "assumed in order"
        tracks = [CameraTrack(n, {int(f): kp[i, v][None] for i, f in enumerate(frames)},
                              source) for v, n in enumerate(names)]
        js = _resolve_joint_set(kp.shape[2], js, None, source)
        return assemble(tracks, js, source, fps=fps, meta=meta, **kw)
    if fmt == "openpose":
        if len(paths) != 1 or not paths[0].is_dir():
            raise KeypointError(f"{source}: OpenPose keypoints are a folder of JSON frames")
        tracks = read_frame_folder(paths[0])
        js = _resolve_joint_set(_tracks_joints(tracks), joint_set, None, source)
        return assemble(tracks, js, source, meta=meta, **kw)
    if fmt == "mmpose":
        return _read_mmpose(paths, joint_set, source, meta, kw)
    return _read_dlc(paths, joint_set, source, meta, kw)


def _is_mmpose_video(doc: object) -> bool:
    """A whole-camera MMPose file (frames with instances), not a one-frame instance list."""
    if isinstance(doc, Mapping):
        return "instance_info" in doc
    return (isinstance(doc, list) and bool(doc) and isinstance(doc[0], Mapping)
            and "instances" in doc[0])


def _read_mmpose(paths: list[Path], joint_set: str | None, source: str, meta: dict,
                 kw: dict) -> Keypoints2D:
    hint = None
    if len(paths) == 1 and paths[0].is_dir():
        files = sorted(p for p in paths[0].iterdir() if p.is_file() and p.suffix == ".json")
        per_camera = [p for p in files if _is_mmpose_video(_peek_json(p))]
        if per_camera:
            paths = per_camera
        else:
            tracks = read_frame_folder(paths[0], read_mmpose_frame, "MMPose")
            paths = []
    if paths:
        tracks = []
        for p in paths:
            t, m = read_mmpose_file(p)
            hint = hint or joint_set_from_meta(m)
            tracks.append(t)
    J = _tracks_joints(tracks)
    if J == 133 and joint_set in (None, "coco_17", "coco"):
        tracks = [CameraTrack(t.name, {f: c[:, :17] for f, c in t.frames.items()}, t.source)
                  for t in tracks]
        J, hint = 17, "coco_17"
        meta["wholebody_reduced_to"] = "coco_17"
    js = _resolve_joint_set(J, joint_set, hint, source)
    return assemble(tracks, js, source, meta=meta, **kw)


def _read_dlc(paths: list[Path], joint_set: str | None, source: str, meta: dict,
              kw: dict) -> Keypoints2D:
    if len(paths) == 1 and paths[0].is_dir():
        files = sorted(p for p in paths[0].iterdir()
                       if p.is_file() and p.suffix.lower() in _DLC_SUFFIXES)
        by_cam: dict[str, Path] = {}
        for p in files:  # prefer .h5 over the .csv twin DeepLabCut also writes
            cam = camera_from_stem(p.stem)
            if cam not in by_cam or p.suffix.lower() != ".csv":
                by_cam[cam] = p
        paths = list(by_cam.values())
        if not paths:
            raise KeypointError(f"{source}: no DeepLabCut .csv/.h5 files")
    tracks, parts_seen = [], None
    for p in paths:
        reader = read_dlc_csv if p.suffix.lower() == ".csv" else read_dlc_h5
        t, parts = reader(p)
        if parts_seen is not None and parts != parts_seen:
            raise KeypointError(f"{p}: body parts {parts} differ from the other cameras' "
                                f"{parts_seen}")
        parts_seen = parts
        tracks.append(t)
    js, idx = map_parts(parts_seen or [], joint_set, source)
    meta["body_parts"] = list(parts_seen or [])
    return assemble([_reorder(t, idx) for t in tracks], js, source, meta=meta, **kw)
