"""``skelsplat fit``: fit the Gaussian skeleton to multi-view 2D keypoints.

``skelsplat fit --calibration CAL --keypoints PATH [PATH ...] [--keypoint-format F]
[--joint-set NAME] [--device auto|cpu|cuda] [--mode fast|reference]
[--smooth auto|off|whittaker|butterworth|robust] [--smooth-cutoff HZ] [--skeleton auto|off|rigid]
[--fps N] --out OUT.npz|.json|.trc|.c3d [--overwrite]``

Writes canonical joints (NaN / invalid where they cannot be determined) with their
covariances and per-view reprojection errors, and prints a one-line summary.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .progress import StageProgress


def add_fit_arguments(parser: argparse.ArgumentParser | argparse._ArgumentGroup,
                      old_cutoff_flag: str | None = None) -> None:
    """``--device``, ``--mode``, ``--smooth`` and ``--smooth-cutoff`` (``smooth_cutoff_hz`` of
    the API), shared by ``skelsplat fit`` and ``skelsplat run``; ``old_cutoff_flag`` is an
    earlier name of the cut-off, still accepted but not shown."""
    from ..core.fit.options import DEVICES, MODES, SMOOTHERS

    parser.add_argument("--device", default="auto", choices=DEVICES, help="compute device")
    parser.add_argument("--mode", default="fast", choices=MODES,
                        help="fast (default) or reference (the authors' settings; very slow "
                             "on CPU)")
    parser.add_argument("--smooth", default="auto", choices=SMOOTHERS,
                        help="temporal prior: auto (default; whittaker, a whole-take "
                             "acceleration penalty, in fast mode; off in reference mode), "
                             "off, whittaker, butterworth, robust (the unsmoothed "
                             "joints are kept in the NPZ)")
    parser.add_argument("--smooth-cutoff", dest="smooth_cutoff_hz", type=float, default=None,
                        metavar="HZ",
                        help="smoothing cut-off frequency (default: chosen per joint from the "
                             "data by cross-validation)")
    if old_cutoff_flag:
        parser.add_argument(old_cutoff_flag, dest="smooth_cutoff_hz", type=float,
                            help=argparse.SUPPRESS)


def fit_options(args: argparse.Namespace, **extra):
    """``FitOptions`` of the arguments :func:`add_fit_arguments` added (plus ``extra``);
    the frame rate and the cut-off are checked first, so the user sees what is wrong with
    them rather than a bare option error."""
    from ..core.fit.options import FitOptions
    from ..core.sanity import check_cutoff, check_rate

    check_rate(args.fps, "the frame rate")
    check_cutoff(args.smooth_cutoff_hz, args.fps, "the smoothing cut-off")
    return FitOptions(mode=args.mode, device=args.device, smooth=args.smooth,
                      smooth_cutoff_hz=args.smooth_cutoff_hz, **extra)


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    try:
        from ..core.keypoints import KEYPOINT_FORMATS
    except ImportError:  # reader package not part of this build
        KEYPOINT_FORMATS = []
    p = subparsers.add_parser(
        "fit", help="fit 3D joints to multi-view 2D keypoints",
        description="Fit the SkelSplat Gaussian skeleton to 2D keypoints of calibrated "
                    "cameras and write the 3D motion (canonical joint names).")
    p.add_argument("--calibration", required=True, metavar="CAL", help="calibration file")
    p.add_argument("--keypoints", required=True, nargs="+", metavar="PATH",
                   help="keypoint file, folder, or one file per camera")
    p.add_argument("--keypoint-format", default="auto", choices=["auto", *KEYPOINT_FORMATS],
                   help="keypoint format (default: detected)")
    p.add_argument("--joint-set", default="auto", metavar="NAME",
                   help="joint set of the keypoints, e.g. body_25, coco_17 (default: from the "
                        "file or the joint count)")
    add_fit_arguments(p, "--cutoff")
    from ..core.fit.options import SKELETONS

    p.add_argument("--skeleton", default="auto", choices=SKELETONS,
                   help="one skeleton per take: auto (default; rigid in fast mode: constant "
                        "bone lengths, saved as bone_names/bone_lengths in the NPZ), off, "
                        "rigid")
    p.add_argument("--fps", type=float, default=None, help="frame rate when the file has none")
    p.add_argument("--out", required=True, metavar="OUT", help="output .npz, .json, .trc, .c3d")
    p.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from ..core.atomic import check_writable
    from ..core.errors import ExportError
    from ..core.export3d import MOTION_SUFFIXES
    from ..core.stages import (
        TakeSettings,
        export_motion,
        fit_keypoints,
        prepare_keypoints,
        read_keypoints_file,
        read_rig,
    )

    out = Path(args.out)
    if out.suffix.lower() not in MOTION_SUFFIXES:
        raise ExportError(f"{out}: unknown motion format {out.suffix or '(no suffix)'!r}; "
                          f"expected one of {MOTION_SUFFIXES}")
    if out.exists() and not args.overwrite:
        raise ExportError(f"{out} exists; allow overwriting to replace it", option="overwrite")
    settings = TakeSettings(fit=fit_options(args, skeleton=args.skeleton), fps=args.fps)
    check_writable(out.parent)  # before any work: a read-only folder fails now, not later
    rig = read_rig(args.calibration, _warn)
    keypoints = read_keypoints_file(args.keypoints, rig, settings, fmt=args.keypoint_format,
                                    joint_set=None if args.joint_set == "auto"
                                    else args.joint_set)
    keypoints = prepare_keypoints(keypoints, rig, settings, warn=_warn)
    t0 = time.perf_counter()
    with StageProgress("fit", enabled=not args.quiet) as bar:
        result = fit_keypoints(keypoints, rig, settings, progress=bar.update)
    elapsed = time.perf_counter() - t0
    motion = result.to_motion(canonical=True)
    paths = args.keypoints[0] if len(args.keypoints) == 1 else args.keypoints
    motion.meta.update({"calibration": str(args.calibration), "keypoints": str(paths)})
    path = export_motion(motion, out, overwrite=args.overwrite)
    F = motion.n_frames
    mean_px = result.mean_reprojection_px
    mean_err = f"{mean_px:.2f} px" if mean_px == mean_px else "n/a"
    print(f"fitted {F} frames x {result.joints3d.shape[1]} joints ({result.joint_set}) from "
          f"{len(rig)} cameras in {elapsed:.1f} s ({F / max(elapsed, 1e-9):.1f} frames/s); "
          f"valid {100 * motion.coverage:.1f} %, mean reprojection error {mean_err}; "
          f"wrote {path}")
    return 0


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)
