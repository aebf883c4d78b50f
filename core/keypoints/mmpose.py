"""MMPose / RTMLib JSON predictions (one camera per file, or one frame per file).

Shapes accepted for a file:
- ``{"meta_info": {...}, "instance_info": [{"frame_id": n, "instances": [...]}, ...]}``
  (``mmpose/demo`` ``--save-predictions``; ``instance_info`` may also be a plain list of
  instances, i.e. one image);
- ``[{"frame_id": n, "instances": [...]}, ...]`` (inferencer output for a video);
- ``[instance, ...]`` (one frame; in a folder of per-frame files the frame number comes
  from the file name, as for OpenPose).
An instance is ``{"keypoints": [[u, v], ...], "keypoint_scores": [s, ...], ...}``; every
instance is a candidate person. Scores are clipped to [0, 1] (RTMPose SimCC scores can
exceed 1). Frame ids are used as stored. COCO-WholeBody (133 keypoints) is reduced to its
first 17 (the COCO body) unless another joint set is asked for.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ..errors import KeypointError
from ._assemble import CameraTrack

#: MMPose dataset names -> our joint-set names.
DATASET_JOINT_SETS = {"coco": "coco_17", "halpe26": "halpe_26", "halpe": "halpe_26",
                      "h36m": "h36m_17", "body8": "halpe_26"}


def _instances(items: object, where: str) -> np.ndarray:
    """Candidates [P, J, 3] from a list of instance dicts."""
    if not isinstance(items, list):
        raise KeypointError(f"{where}: 'instances' must be a list")
    people = []
    for i, inst in enumerate(items):
        ctx = f"{where}, instance {i}"
        if not isinstance(inst, Mapping) or "keypoints" not in inst:
            raise KeypointError(f"{ctx}: expected an object with 'keypoints'")
        kp, sc = inst["keypoints"], inst.get("keypoint_scores")
        try:
            if _has_text(kp) or _has_text(sc):
                raise ValueError
            xy = np.asarray(kp, dtype=float)
            if xy.ndim == 3 and xy.shape[0] == 1:  # [1, J, 2] from some exporters
                xy = xy[0]
            scores = np.ones(len(xy)) if sc is None else np.asarray(sc, dtype=float).ravel()
        except (TypeError, ValueError, OverflowError):
            raise KeypointError(f"{ctx}: keypoints/keypoint_scores must be numbers") from None
        if xy.ndim != 2 or xy.shape[1] not in (2, 3) or xy.shape[0] == 0:
            raise KeypointError(f"{ctx}: 'keypoints' must be [J, 2], got shape {xy.shape}")
        if scores.shape != (xy.shape[0],):
            raise KeypointError(f"{ctx}: {scores.size} keypoint_scores for {xy.shape[0]} "
                                "keypoints")
        people.append(np.c_[xy[:, :2], np.clip(np.nan_to_num(scores, nan=0.0), 0.0, 1.0)])
    if len({p.shape[0] for p in people}) > 1:
        raise KeypointError(f"{where}: instances have different keypoint counts")
    return np.stack(people) if people else np.zeros((0, 0, 3))


def _has_text(value: object) -> bool:
    if isinstance(value, (str, bytes, bool)):
        return True
    if isinstance(value, list):
        return any(_has_text(v) for v in value)
    return False


def _load(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise KeypointError(f"{path}: not valid JSON ({exc})") from None


def _frames(doc: object, path: Path) -> tuple[dict[int, np.ndarray], dict] | None:
    """frame -> candidates and meta_info, or None when ``doc`` is a single-frame list."""
    meta: dict = {}
    wrapped = isinstance(doc, Mapping)
    if wrapped:
        if "instance_info" not in doc:
            raise KeypointError(f"{path}: expected MMPose predictions with 'instance_info'")
        meta = doc.get("meta_info") if isinstance(doc.get("meta_info"), Mapping) else {}
        doc = doc["instance_info"]
    if not isinstance(doc, list):
        raise KeypointError(f"{path}: expected a list of frames or instances")
    if not doc or not all(isinstance(x, Mapping) and "instances" in x for x in doc):
        if wrapped and all(isinstance(x, Mapping) and "keypoints" in x for x in doc):
            return {0: _instances(doc, str(path))}, meta  # one image
        if wrapped:
            raise KeypointError(f"{path}: 'instance_info' must list frames with 'instances' "
                                "or instances with 'keypoints'")
        return None
    frames: dict[int, np.ndarray] = {}
    for k, item in enumerate(doc):
        fid = item.get("frame_id", k)
        if isinstance(fid, bool) or not isinstance(fid, int):
            raise KeypointError(f"{path}: frame {k}: 'frame_id' must be an integer, got {fid!r}")
        if fid in frames:
            raise KeypointError(f"{path}: frame id {fid} appears twice")
        frames[fid] = _instances(item["instances"], f"{path}, frame {fid}")
    return frames, meta


def read_mmpose_file(path: Path) -> tuple[CameraTrack, dict]:
    """One camera's predictions (the camera is the file stem) and its meta_info."""
    parsed = _frames(_load(path), path)
    if parsed is None:
        raise KeypointError(f"{path}: a single-frame instance list; put per-frame files in a "
                            "folder named by camera, or save video predictions")
    frames, meta = parsed
    J = max((c.shape[1] for c in frames.values()), default=0)
    frames = {f: (c if c.shape[0] else np.zeros((0, J, 3))) for f, c in frames.items()}
    return CameraTrack(path.stem, frames, str(path)), meta


def read_mmpose_frame(path: Path) -> np.ndarray | None:
    """Candidates of a per-frame MMPose JSON file (a list of instances); None if stray."""
    doc = _load(path)
    if isinstance(doc, list) and all(isinstance(x, Mapping) and "keypoints" in x for x in doc):
        return _instances(doc, str(path))
    return None


def joint_set_from_meta(meta: dict) -> str | None:
    name = str(meta.get("dataset_name", "")).lower()
    return DATASET_JOINT_SETS.get(name)
