"""``skelsplat detect``: 2D keypoints from a take's videos (cached per camera).

Writes ``<out>/keypoints.npz`` in the NPZ keypoint layout (``keypoints`` [F, V, J, 3],
``camera_names``, ``joint_set``, ``frame_numbers``, ``fps``; read back with
``skelsplat.core.keypoints.read_keypoints``) and prints one summary line
per camera (frames with a person, mean confidence, ms/frame). Optionally suggests frame
offsets from the detected motion (``--suggest-offsets``; never applied by itself).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .camera_values import (
    add_offsets_argument,
    add_pair_by_order_argument,
    parse_camera_values,
)
from .progress import StageProgress, add_verbose_argument, set_verbose


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "detect",
        help="detect 2D keypoints in a take's videos (cached)",
        description=("Detect one person's 2D keypoints in every camera's video. Videos are "
                     "matched to calibrated cameras by name (exact stem, case-insensitive, "
                     "then camera number). Detections are cached next to the videos "
                     "(.skelsplat_cache) and reused when neither the video nor the detector "
                     "settings changed."),
    )
    p.add_argument("--videos", nargs="+", required=True, metavar="PATH",
                   help="one folder of videos, or video files")
    p.add_argument("--calibration", metavar="FILE",
                   help="calibration file (any supported format); without it each video is "
                        "its own camera, named by its file stem")
    add_detect_arguments(p)
    p.add_argument("--joint-set", default="coco_17",
                   help="joint set of the ONNX model's outputs (default coco_17)")
    add_offsets_argument(p)
    p.add_argument("--map", nargs="+", metavar="CAM=VIDEO", default=[],
                   help="explicit camera -> video file assignments")
    add_pair_by_order_argument(p)
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--workers", type=int, default=1,
                   help="processes detecting cameras in parallel (default 1: one process "
                        "decoding ahead in a thread was fastest on 2 shared cores)")
    p.add_argument("--suggest-offsets", action="store_true",
                   help="estimate frame offsets from the detected motion and print them")
    p.add_argument("--overwrite", action="store_true", help="replace an existing keypoints.npz")
    add_verbose_argument(p)
    p.set_defaults(func=run)
    return p


def add_detect_arguments(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """``--backend``, ``--model``, ``--no-cache`` and ``--cache-dir`` (the fields of
    ``DetectOptions``), shared by ``skelsplat detect`` and ``skelsplat run``."""
    from ..core.detect.runner import BACKENDS

    parser.add_argument("--backend", choices=BACKENDS, default="mediapipe",
                        help="2D detector: mediapipe: BlazePose (33 joints, bundled model; "
                             "default); onnx: your RTMPose-style model file (--model)")
    parser.add_argument("--model", metavar="FILE", help="ONNX model file (--backend onnx)")
    parser.add_argument("--no-cache", action="store_true", help="re-detect even when cached")
    parser.add_argument("--cache-dir", metavar="DIR",
                        help="detection cache folder (default: .skelsplat_cache next to the "
                             "videos)")


def detect_options(args: argparse.Namespace, **extra):
    """``DetectOptions`` of the arguments :func:`add_detect_arguments` added (plus
    ``extra``)."""
    from ..core.detect import DetectOptions

    return DetectOptions(backend=args.backend, model=args.model, use_cache=not args.no_cache,
                         cache_dir=args.cache_dir, **extra)


def run(args: argparse.Namespace) -> int:
    from ..core.atomic import check_writable
    from ..core.errors import ExportError
    from ..core.stages import TakeSettings, detect_keypoints, read_footage, read_rig

    out = Path(args.out)
    target = out / "keypoints.npz"
    if target.exists() and not args.overwrite:
        raise ExportError(f"{str(target)!r} exists; allow overwriting to replace it",
                          option="overwrite")
    settings = TakeSettings(
        detect=detect_options(args, joint_set=args.joint_set, workers=args.workers),
        offsets=parse_camera_values(args.offsets, "--offsets", integer=True),
        mapping=parse_camera_values(args.map, "--map"), pair_by_order=args.pair_by_order)
    settings.detect.check()
    check_writable(out)  # before detecting: a read-only folder fails now, not after
    set_verbose(args.verbose)
    rig = read_rig(args.calibration, _warn) if args.calibration else None
    take = read_footage(args.videos, rig, settings, _warn)
    with StageProgress("detect") as bar:
        kp = detect_keypoints(take, settings, progress=bar.update, warn=_warn)
    from ..core.keypoints import write_keypoints_npz

    write_keypoints_npz(kp, target, overwrite=True)  # existence checked before detecting
    F, V, J = kp.shape
    print(f"{V} cameras x {F} frames x {J} joints ({kp.joint_set}) -> {target}")
    from ..core.detect import CameraStats

    for st in kp.meta["detection"]:
        print("  " + CameraStats(**st).line())
    if args.suggest_offsets and V > 1:
        from ..core.sync import estimate_offsets

        print("suggested offsets (not applied; pass them with --offsets):")
        for line in estimate_offsets(kp).lines():
            print("  " + line)
    return 0


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)
