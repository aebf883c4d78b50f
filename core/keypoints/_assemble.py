"""Turning per-camera detections into one :class:`Keypoints2D`: camera-name matching,
frame alignment with sync offsets, and the choice of one person per frame.

Per-camera readers return a :class:`CameraTrack`: for each source frame number, the
candidate people ``[P, J, 3]`` (u, v px, confidence). :func:`assemble` then

1. matches camera names to the rig (or ``camera_names``) with ``core.names``: equal names,
   equal ignoring case, equal camera numbers (``cam01_json`` <-> ``cam_1``);
2. applies sync offsets: ``offsets[camera] = o`` means take frame ``t`` is source frame
   ``t + o`` (the convention of ``core.footage``); take frames < 0 are dropped;
3. spans every take frame from the first to the last one any camera has; a frame that a
   camera lacks has confidence 0 there;
4. picks one person per frame and view with :func:`select_people` (policy documented there).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..camera import Rig
from ..errors import KeypointError
from ..names import match_camera_names
from .multiview import Keypoints2D
from .people import select_people

#: Largest |frame number| accepted, and the longest take (frames) assembled.
MAX_FRAME = 2**31 - 1
MAX_SPAN = 10_000_000
#: Detections farther than this from the image origin (px) are corrupt, not keypoints.
MAX_PIXEL = 1e7


@dataclass
class CameraTrack:
    """Detections of one camera.

    Attributes:
        name: camera name as found (folder or file stem).
        frames: source frame number -> [P, J, 3] candidates (P may be 0).
        source: file or folder, for messages.
    """

    name: str
    frames: dict[int, np.ndarray] = field(default_factory=dict)
    source: str = ""

    @property
    def n_joints(self) -> int | None:
        for arr in self.frames.values():
            if arr.ndim == 3 and arr.shape[1] > 0:
                return int(arr.shape[1])
        return None


def match_names(found: Sequence[str], wanted: Sequence[str], where: str) -> list[int]:
    """Index into ``found`` for every name of ``wanted`` (rules in the module docstring)."""

    def ambiguous(w: str, hits: list[int]) -> KeypointError:
        return KeypointError(f"{where}: camera {w!r} matches several keypoint cameras "
                             f"{[found[i] for i in hits]}")

    result = match_camera_names(wanted, found, ambiguous)
    missing = [w for w in wanted if w not in result]
    if missing:
        raise KeypointError(f"{where}: no keypoints for camera(s) {missing}; keypoint cameras "
                            f"are {list(found)}")
    return [result[w] for w in wanted]


def assemble(tracks: Sequence[CameraTrack], joint_set: str, source: str, *,
             camera_names: Sequence[str] | None = None,
             offsets: Mapping[str, int] | None = None, rig: Rig | None = None,
             fps: float | None = None, meta: dict | None = None) -> Keypoints2D:
    """One :class:`Keypoints2D` from per-camera tracks (see the module docstring).

    Camera names of the result are the rig's names (rig order) when a rig is given,
    else ``camera_names`` (matched and renamed in that order), else the found names.
    """
    if not tracks:
        raise KeypointError(f"{source}: no cameras with keypoints found")
    found = [t.name for t in tracks]
    if rig is not None:
        order = match_names(found, rig.names, source)
        names = list(rig.names)
    elif camera_names is not None:
        order = match_names(found, [str(c) for c in camera_names], source)
        names = [str(c) for c in camera_names]
    else:
        order, names = list(range(len(tracks))), found
    tracks = [tracks[i] for i in order]
    joints = {t.n_joints for t in tracks} - {None}
    if len(joints) > 1:
        raise KeypointError(f"{source}: cameras disagree on the joint count "
                            f"{ {t.name: t.n_joints for t in tracks} }")
    J = joints.pop() if joints else None
    if J is None:
        raise KeypointError(f"{source}: no frames with keypoints in any camera")
    if offsets:
        known = set(names) | {t.name for t in tracks}
        unknown = sorted(str(k) for k in offsets if k not in known)
        if unknown:
            raise KeypointError(f"{source}: offsets name unknown camera(s) {unknown}; "
                                f"cameras are {names}")
    shifts = []
    for new, t in zip(names, tracks):
        o = 0
        if offsets:
            o = offsets.get(new, offsets.get(t.name, 0))
            if isinstance(o, bool) or not isinstance(o, (int, np.integer)):
                raise KeypointError(f"{source}: offset of camera {new!r} must be an integer "
                                    f"number of frames, got {o!r}")
        if abs(int(o)) > MAX_FRAME:
            raise KeypointError(f"{source}: offset {o} of camera {new!r} is out of range")
        shifts.append(int(o))
    for t, o in zip(tracks, shifts):
        for f, c in t.frames.items():
            with np.errstate(invalid="ignore"):
                wild = (np.abs(c[..., :2]) > MAX_PIXEL).any(-1) & (c[..., 2] > 0)
            if wild.any():
                raise KeypointError(f"{t.source or source}: camera {t.name!r}, frame {f}: "
                                    f"pixel coordinates beyond +-{MAX_PIXEL:g} px")
        bad = [f for f in t.frames if not -MAX_FRAME <= f - o <= MAX_FRAME]
        if bad:
            raise KeypointError(f"{source}: camera {t.name!r}: frame number {bad[0]} is out of "
                                f"range (|frame| <= {MAX_FRAME})")
    take = [{f - o: c for f, c in t.frames.items() if f - o >= 0}
            for t, o in zip(tracks, shifts)]
    all_frames = [f for d in take for f in d]
    if not all_frames:
        raise KeypointError(f"{source}: no frames left after applying the offsets {shifts}")
    if max(all_frames) - min(all_frames) >= MAX_SPAN:
        raise KeypointError(f"{source}: frames {min(all_frames)}..{max(all_frames)} span more "
                            f"than {MAX_SPAN} frames; check the frame numbers and offsets")
    frame_numbers = np.arange(min(all_frames), max(all_frames) + 1)
    cams = rig.subset(names) if rig is not None else None
    data, picked = select_people(take, frame_numbers, J, cams)
    info = dict(meta or {})
    info.update({"offsets": dict(zip(names, shifts)), "source_cameras": found,
                 "people_choice": picked})
    return Keypoints2D(data, names, joint_set, frame_numbers, fps, source, info)
