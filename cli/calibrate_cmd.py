"""``skelsplat calibrate``: make a calibration from a board video, refine it from the actor,
suggest frame offsets.

- ``skelsplat calibrate --videos DIR --board charuco --squares 5x7 --square-mm 100
  --marker-mm 75 --dictionary DICT_4X4_50 --out calib.toml`` (or ``--board checkerboard
  --squares 9x6 --square-mm 40``, or a preset such as ``--board anipose``): one video per
  camera (camera name = file name); writes the Pose2Sim/anipose TOML with the per-camera
  reprojection errors in its metadata. Start the videos with the board lying on the floor
  (``--origin-frame`` picks another frame): it becomes the world, Z up.
- ``skelsplat calibrate refine --calibration CAL --keypoints PATH --out OUT.toml``: refine
  the extrinsics from the actor's confident keypoints (scale kept, or ``--known-distance
  CAM_A CAM_B METRES``).
- ``skelsplat calibrate sync --calibration CAL --keypoints PATH`` or ``--videos DIR
  --audio``: print suggested frame offsets (never applied; pass them with ``--offsets``).

Nothing is written when the input is wrong (exit status 2, one line naming the camera).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .camera_values import add_offsets_argument


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from ..core.camera import LENS_MODELS

    p = subparsers.add_parser(
        "calibrate", help="calibrate cameras from a board video; refine; sync",
        description="Calibrate cameras from videos of a ChArUco or checkerboard board "
                    "(one video per camera), refine a calibration from the actor, or "
                    "suggest frame offsets.")
    p.add_argument("--videos", metavar="DIR", help="folder with one board video per camera")
    p.add_argument("--board", default="charuco", metavar="KIND",
                   help="charuco (default), checkerboard, or a preset: anipose, freemocap, "
                        "caliscope, charuco-a0, opencv-checkerboard, pose2sim")
    p.add_argument("--squares", metavar="CxR", help="squares across x down, e.g. 5x7 "
                   "(squares, not inner corners)")
    p.add_argument("--square-mm", type=float, help="side of a square in mm")
    p.add_argument("--marker-mm", type=float, help="ChArUco: side of a marker in mm")
    p.add_argument("--dictionary", help="ChArUco: ArUco dictionary (default DICT_4X4_50)")
    p.add_argument("--legacy", action="store_true",
                   help="ChArUco board printed by OpenCV < 4.6 (even row counts)")
    p.add_argument("--model", default="pinhole", choices=LENS_MODELS,
                   help="lens model of every camera")
    p.add_argument("--origin-frame", type=int, metavar="N",
                   help="frame showing the board on the floor (default: the earliest frame "
                        "seen by the most cameras)")
    p.add_argument("--step", type=int, metavar="N", help="examine every N-th frame "
                   "(default: about 300 frames per video)")
    add_offsets_argument(p)
    p.add_argument("--out", metavar="OUT.toml", help="calibration to write")
    p.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    p.set_defaults(func=run_board)
    sub = p.add_subparsers(dest="action", metavar="ACTION")

    r = sub.add_parser("refine", help="refine the extrinsics from the actor's keypoints",
                       description="Refine a calibration's extrinsics from confident 2D "
                                   "keypoints of a take (intrinsics unchanged).")
    _keypoint_args(r)
    r.add_argument("--min-confidence", type=float, default=0.6,
                   help="detections below this confidence are ignored (default 0.6)")
    r.add_argument("--known-distance", nargs=3, metavar=("CAM_A", "CAM_B", "METRES"),
                   help="set the scale from the distance between two cameras (default: "
                        "keep the calibration's scale)")
    r.add_argument("--out", required=True, metavar="OUT.toml", help="calibration to write")
    r.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    r.set_defaults(func=run_refine)

    s = sub.add_parser("sync", help="suggest per-camera frame offsets",
                       description="Suggest frame offsets from the keypoints and the "
                                   "calibration (epipolar agreement) or from the videos' "
                                   "sound; nothing is applied.")
    s.add_argument("--calibration", metavar="CAL", help="calibration file (keypoint sync)")
    s.add_argument("--keypoints", nargs="+", metavar="PATH", help="keypoints of the take")
    s.add_argument("--keypoint-format", default="auto", help="keypoint format")
    s.add_argument("--videos", metavar="DIR", help="videos of the take (audio sync)")
    s.add_argument("--audio", action="store_true", help="sync from the videos' sound")
    s.add_argument("--max-lag", type=int, default=None, metavar="N",
                   help="largest offset searched, in frames (default 10; audio: 60)")
    s.add_argument("--reference", metavar="CAM", help="camera kept at offset 0")
    s.set_defaults(func=run_sync)
    return p


def _keypoint_args(q: argparse.ArgumentParser) -> None:
    q.add_argument("--calibration", required=True, metavar="CAL", help="calibration file")
    q.add_argument("--keypoints", required=True, nargs="+", metavar="PATH",
                   help="keypoint file, folder, or one file per camera")
    q.add_argument("--keypoint-format", default="auto", help="keypoint format (default: "
                   "detected)")


def _out_path(out: str | None, overwrite: bool) -> Path:
    from ..core.errors import CalibrationError

    if not out:
        raise CalibrationError("--out OUT.toml is required")
    path = Path(out)
    if path.suffix.lower() != ".toml":
        raise CalibrationError(f"{path}: the calibration is written as TOML; use a .toml name")
    if path.exists() and not overwrite:
        raise CalibrationError(f"{path} exists; pass --overwrite to replace it")
    return path


def run_board(args: argparse.Namespace) -> int:
    from ..core.calibration.board import board_from_options
    from ..core.calibration.from_videos import calibrate_videos
    from ..core.calibration.quality import write_calibration_with_errors
    from ..core.errors import CalibrationError
    from .camera_values import parse_offsets

    if not args.videos:
        raise CalibrationError("--videos DIR is required (or use: calibrate refine / sync)")
    out = _out_path(args.out, args.overwrite)
    board = board_from_options(args.board, args.squares, args.square_mm, args.marker_mm,
                               args.dictionary, args.legacy)

    def progress(fraction: float, message: str) -> None:
        print(f"[{100 * fraction:3.0f} %] {message}", file=sys.stderr)

    cal = calibrate_videos(args.videos, board, args.model, args.origin_frame, args.step,
                           parse_offsets(args.offsets), progress)
    write_calibration_with_errors(cal.rig, cal.rms_px, "board", out, board.describe(),
                                  overwrite=args.overwrite)
    for line in cal.lines:
        print(line)
    print(f"wrote {out} ({len(cal.rig)} cameras: {', '.join(cal.rig.names)})")
    return 0


def _read_inputs(args: argparse.Namespace):
    from ..core.calibration import read_calibration
    from ..core.keypoints import read_keypoints

    rig = read_calibration(args.calibration)
    paths = args.keypoints[0] if len(args.keypoints) == 1 else args.keypoints
    kp = read_keypoints(paths, fmt=args.keypoint_format, rig=rig)
    return rig, kp


def run_refine(args: argparse.Namespace) -> int:
    from ..core.calibration.quality import write_calibration_with_errors
    from ..core.calibration.refine import refine_extrinsics
    from ..core.errors import CalibrationError

    out = _out_path(args.out, args.overwrite)
    known = None
    if args.known_distance:
        a, b, d = args.known_distance
        try:
            known = (a, b, float(d))
        except ValueError:
            raise CalibrationError(f"--known-distance: expected metres, got {d!r}") from None
    rig, kp = _read_inputs(args)
    res = refine_extrinsics(rig, kp, args.min_confidence, known_distance=known)
    write_calibration_with_errors(res.rig, res.rms_after_px, "actor", out,
                                  f"refined from {kp.source}", overwrite=args.overwrite)
    for line in res.lines:
        print(line)
    print(f"wrote {out}")
    return 0


def run_sync(args: argparse.Namespace) -> int:
    from ..core.errors import SkelsplatError

    if args.audio:
        if not args.videos:
            raise SkelsplatError("--audio needs --videos DIR")
        from ..core.audio_sync import estimate_offsets_audio
        from ..core.video import list_videos, probe_video

        paths = list_videos(args.videos)
        names = [p.stem for p in paths]
        fps = probe_video(paths[0], names[0]).fps if paths else 0.0
        s = estimate_offsets_audio(paths, names, fps, args.reference, args.max_lag or 60)
    else:
        if not (args.calibration and args.keypoints):
            raise SkelsplatError("keypoint sync needs --calibration CAL and --keypoints PATH "
                                 "(or --videos DIR --audio)")
        from ..core.sync import estimate_offsets_geometric

        rig, kp = _read_inputs(args)
        s = estimate_offsets_geometric(rig, kp, args.reference, args.max_lag or 10)
    print("suggested offsets (not applied):")
    for line in s.lines():
        print("  " + line)
    pairs = " ".join(f"{c}={o}" for c, o in s.offsets.items() if c != s.reference)
    print(f"to apply them: --offsets {pairs}")
    return 0
