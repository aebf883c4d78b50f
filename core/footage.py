"""A take: one video per calibrated camera, matched by name, with frame offsets.

Matching videos to cameras (first rule that gives every camera one video wins):

1. an explicit ``mapping`` {camera: video path or file name} for the cameras it names;
2. the video's stem equals the camera name (``cam01`` <-> ``cam01.mp4``);
3. the same, ignoring case;
4. the digits match as numbers (``cam01`` <-> ``cam_1.mp4``, ``01.mov``, ``Camera1.avi``);
5. sorted order (cameras in rig order, videos by file name), only when the counts are
   equal and the caller passed ``allow_sorted=True`` (an explicit choice of the user); the
   pairs are then listed in a warning, so the pairing is never silent.

A camera left without a video, or two cameras claiming one video, is an error naming them.

Frame offsets (synchronisation): ``offsets[camera] = o`` means take frame ``t`` is video
frame ``t + o`` of that camera. The take covers the frames every camera has
(``max(0, -o) <= t < n_frames - o`` for all cameras); shorter or shifted videos shrink it,
with a warning.

Video size versus calibration size (rule, in this order):

- equal: nothing to do;
- the video is at most ``CROP_TOLERANCE`` (2 %) narrower and/or shorter than the calibrated
  image: the video is taken as the calibrated sensor **cropped at the right/bottom**, so
  intrinsics (focal length, principal point) stay as they are and only the image size is
  updated; warned. This is the demo's case: cam01/cam02 are encoded 1080 px wide while the
  calibration says 1088 (encoders pad to a multiple of 16 and crop the padding back off);
- the same aspect ratio (within 1 %) at another scale (e.g. calibrated at 4K, filmed at
  1080p): ``fx, fy, cx, cy`` are rescaled with the pixel-centre convention
  ``c' = (c + 0.5) s - 0.5``; warned;
- anything else (portrait video for a landscape calibration, a larger video, a crop of more
  than 2 %): :class:`~skelsplat.core.errors.VideoError` naming the camera and both sizes.

Every warning is returned in ``Take.warnings`` (and logged at INFO level); none is silent.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .camera import Camera, Rig
from .errors import VideoError
from .names import match_camera_names
from .video import VideoInfo, list_videos, probe_video

log = logging.getLogger(__name__)

#: Largest crop (fraction of the calibrated width / height) accepted as "cropped sensor".
CROP_TOLERANCE = 0.02
#: Largest relative fps difference across cameras accepted as "the same frame rate".
FPS_TOLERANCE = 1e-3


@dataclass
class TakeVideo:
    """One camera's video in a take."""

    camera: str
    path: Path
    info: VideoInfo
    offset: int = 0          # take frame t = video frame t + offset


@dataclass
class Take:
    """Videos of one take matched to cameras, synchronised by frame offsets.

    Attributes:
        videos: one entry per camera, in rig order (or sorted camera order without a rig).
        rig: the calibration with image sizes reconciled to the videos, or None.
        fps: common frame rate.
        frame_numbers: [F] take frame indices every camera covers.
        root: folder of the videos (the cache lives in ``root / .skelsplat_cache``).
        warnings: every non-fatal problem found while assembling the take.
    """

    videos: list[TakeVideo]
    rig: Rig | None
    fps: float
    frame_numbers: np.ndarray
    root: Path
    warnings: list[str] = field(default_factory=list)

    @property
    def camera_names(self) -> list[str]:
        return [v.camera for v in self.videos]

    @property
    def n_frames(self) -> int:
        return len(self.frame_numbers)

    def video(self, camera: str) -> TakeVideo:
        for v in self.videos:
            if v.camera == camera:
                return v
        raise KeyError(f"no video for camera {camera!r} (cameras: {self.camera_names})")

    def video_frames(self, camera: str) -> np.ndarray:
        """[F] video frame index of each take frame for ``camera``."""
        return self.frame_numbers + self.video(camera).offset


def demo_take_dir() -> Path:
    """The bundled demo take (``demo/``: ``videos/cam01..04.mp4``, ``calibration/``)."""
    return Path(__file__).resolve().parents[1] / "demo"


def match_videos(
    camera_names: Sequence[str],
    videos: Sequence[str | Path],
    mapping: Mapping[str, str | Path] | None = None,
    allow_sorted: bool = False,
) -> dict[str, Path]:
    """Assign one video to every camera (rules in the module docstring).

    Raises:
        VideoError: a camera has no video, or one video matches several cameras.
    """
    paths = [Path(v) for v in videos]
    result: dict[str, Path] = {}
    for cam, target in (mapping or {}).items():
        if cam not in camera_names:
            raise VideoError(f"video mapping names camera {cam!r}, which the calibration "
                             f"does not have (cameras: {list(camera_names)})")
        t = Path(target)
        hits = [p for p in paths if p == t or p.name == t.name or p.stem == str(target)]
        if not hits and t.is_file():
            hits = [t]
        if not hits:
            raise VideoError(f"video mapping for camera {cam!r}: {str(target)!r} is not one of "
                             f"the videos {[p.name for p in paths]}")
        result[cam] = hits[0]

    def ambiguous(cam: str, hits: list[int]) -> VideoError:
        return VideoError(f"camera {cam!r} matches several videos "
                          f"{[paths[i].name for i in hits]}; pass an explicit mapping")

    fixed = {c: paths.index(p) for c, p in result.items() if p in paths}
    todo = [c for c in camera_names if c not in result]
    matched = match_camera_names(todo, [p.stem for p in paths], ambiguous, fixed)
    result.update({c: paths[i] for c, i in matched.items() if c not in result})
    missing = [c for c in camera_names if c not in result]
    if missing and allow_sorted and len(paths) == len(camera_names):
        return dict(zip(camera_names, sorted(paths, key=lambda p: p.name)))
    if missing:
        free = [p.name for p in paths if p not in set(result.values())]
        hint = (" (name the videos after the cameras, or pair them in sorted "
                "file-name order)" if len(paths) == len(camera_names) else "")
        raise VideoError(f"no video for camera(s) {missing}; unmatched videos: {free}{hint}",
                         option="pair_by_order" if hint else None)
    return result


def reconcile_camera(camera: Camera, video_size: tuple[int, int]) -> tuple[Camera, str | None]:
    """Adapt a calibrated camera to its video's size (rule in the module docstring).

    Returns:
        the camera to use (possibly with updated size / intrinsics) and a warning or None.
    """
    cw, ch = (int(s) for s in camera.size)
    vw, vh = (int(s) for s in video_size)
    if (cw, ch) == (vw, vh):
        return camera, None
    if vw <= cw and vh <= ch and (cw - vw) <= CROP_TOLERANCE * cw \
            and (ch - vh) <= CROP_TOLERANCE * ch:
        msg = (f"camera {camera.name}: video is {vw}x{vh} px but the calibration says {cw}x{ch}; "
               f"treating the video as the calibrated image cropped at the right/bottom "
               f"(intrinsics unchanged)")
        return replace(camera, size=(vw, vh), _cache={}), msg
    s_w, s_h = vw / cw, vh / ch
    if abs(s_w / s_h - 1) <= 0.01:
        s = np.array([s_w, s_h])
        K = camera.K.copy()
        K[0, 0] *= s_w
        K[1, 1] *= s_h
        K[:2, 2] = (K[:2, 2] + 0.5) * s - 0.5
        msg = (f"camera {camera.name}: video is {vw}x{vh} px but the calibration says {cw}x{ch} "
               f"(same aspect ratio); intrinsics rescaled by {s_w:.4g}")
        return replace(camera, K=K, size=(vw, vh), _cache={}), msg
    raise VideoError(f"camera {camera.name}: video is {vw}x{vh} px but the calibration says "
                     f"{cw}x{ch}; neither a small crop (<= {CROP_TOLERANCE:.0%}) nor a rescale "
                     "of the calibrated image (a rotated phone video, or the wrong calibration?)")


def _resolve_videos(videos: str | Path | Sequence[str | Path]) -> tuple[list[Path], Path]:
    if isinstance(videos, str | Path):
        p = Path(videos)
        if p.is_dir():
            found = list_videos(p)
            if not found:
                raise VideoError(f"no video files in folder {str(p)!r}")
            return found, p
        return [p], p.parent
    paths = [Path(v) for v in videos]
    if not paths:
        raise VideoError("no videos given")
    return paths, paths[0].parent


def read_take(
    videos: str | Path | Sequence[str | Path],
    rig: Rig | None = None,
    mapping: Mapping[str, str | Path] | None = None,
    offsets: Mapping[str, int] | None = None,
    allow_sorted: bool = False,
) -> Take:
    """Assemble a take from a folder or list of videos and (optionally) a calibration.

    Without a rig, each video is its own camera, named by its file stem.

    Raises:
        VideoError: unmatched cameras, unreadable videos, fps mismatch beyond 0.1 %,
            irreconcilable image sizes, offsets naming unknown cameras, no common frames.
    """
    paths, root = _resolve_videos(videos)
    warnings: list[str] = []
    if rig is not None:
        names = list(rig.names)
        assigned = match_videos(names, paths, mapping, allow_sorted)
        if allow_sorted:
            try:
                match_videos(names, paths, mapping, False)
            except VideoError:  # the names alone did not pair them: sorted order did
                warnings.append(
                    "videos paired with cameras by sorted file name, as the names do not "
                    "match the cameras: " + ", ".join(f"{c} <- {assigned[c].name}"
                                                      for c in names) + "; check each pair")
        unused = sorted(p.name for p in paths if p not in set(assigned.values()))
        if unused:
            warnings.append(f"videos without a calibrated camera are ignored: {unused}")
    else:
        names = [p.stem for p in paths]
        if len(set(names)) != len(names):
            raise VideoError(f"video file stems must be unique to name cameras: {names}")
        assigned = dict(zip(names, paths))
        names = sorted(names)
    offsets = dict(offsets or {})
    bad = [c for c in offsets if c not in names]
    if bad:
        raise VideoError(f"frame offsets given for unknown camera(s) {bad} (cameras: {names})")
    entries = [TakeVideo(c, assigned[c], probe_video(assigned[c], c), int(offsets.get(c, 0)))
               for c in names]

    fps = np.array([e.info.fps for e in entries])
    ref = float(np.median(fps))
    off = [f"{e.camera}={e.info.fps:g}" for e in entries if abs(e.info.fps / ref - 1) > 0]
    if np.any(np.abs(fps / ref - 1) > FPS_TOLERANCE):
        raise VideoError(f"cameras have different frame rates ({', '.join(off)} fps); "
                         "re-encode them to one rate first")
    if off:
        warnings.append(f"frame rates differ slightly ({', '.join(off)}); using {ref:g} fps")

    if rig is not None:
        cams = []
        for e in entries:
            cam, msg = reconcile_camera(rig[e.camera], e.info.size)
            cams.append(cam)
            if msg:
                warnings.append(msg)
        rig = Rig(cams, rig.source)

    lo = max(max(0, -e.offset) for e in entries)
    hi = min(e.info.n_frames - e.offset for e in entries)
    if hi <= lo:
        raise VideoError("the videos share no frame after applying the offsets "
                         + ", ".join(f"{e.camera}: {e.info.n_frames} frames, offset {e.offset}"
                                     for e in entries))
    counts = {e.camera: e.info.n_frames for e in entries}
    if len(set(counts.values())) > 1 or any(e.offset for e in entries):
        warnings.append(f"frame counts {counts} with offsets "
                        f"{ {e.camera: e.offset for e in entries} }: using the {hi - lo} "
                        f"common take frames {lo}..{hi - 1}")
    for w in warnings:
        log.info(w)  # returned in Take.warnings: callers show them (the CLI prints them)
    return Take(entries, rig, ref, np.arange(lo, hi), root, warnings)
