"""``skelsplat run``: the whole pipeline on a take (default: the bundled demo).

Stages: calibration -> footage -> detect (cached; or read keypoints) -> fit -> export joints
-> bake and export in headless Blender -> report; one progress bar per stage on stderr, then
the closing summary on stdout (the same numbers report.html shows). The orchestration lives
in ``core.pipeline`` (its stages in ``core.stages``); this module adds the argument parsing
and the progress bars, and hands the pipeline the Blender stage
(``addon.blender_stage.run_blender_job`` in headless ``bpy``, imported only when that stage
runs), with Blender's own prints kept off stdout.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from contextlib import contextmanager, redirect_stdout
from pathlib import Path

from .camera_values import add_offsets_argument, add_pair_by_order_argument, parse_offsets
from .detect_cmd import add_detect_arguments, detect_options
from .fit_cmd import add_fit_arguments
from .progress import StageProgress, add_verbose_argument, set_verbose


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "run",
        help="whole pipeline: detect -> fit -> bake -> export, with report.html",
        description=("Run calibration -> footage -> 2D detection (cached) -> fit -> Blender bake "
                     "-> export on a take. Without arguments it runs the bundled demo take. "
                     "Writes take.blend, take.fbx, take.bvh, joints.npz, joints.trc and "
                     "report.html (with PNG figures) into the output folder."),
    )
    src = p.add_argument_group("input (none: the bundled demo take)")
    src.add_argument("--take", dest="take_dir", metavar="DIR",
                     help="take folder with calibration/ and videos/")
    src.add_argument("--videos", nargs="+", metavar="PATH",
                     help="video files, or one folder of videos (matched to cameras by name)")
    src.add_argument("--calibration", metavar="FILE", help="calibration file (any format)")
    src.add_argument("--keypoints", metavar="PATH",
                     help="precomputed 2D keypoints (any supported format): skips detection")
    add_pair_by_order_argument(src)
    add_offsets_argument(src)
    src.add_argument("--fps", type=float, metavar="N",
                     help="frame rate of the take (default: from the keypoints or the videos)")
    out = p.add_argument_group("output")
    out.add_argument("--out", dest="out_dir", metavar="DIR",
                     help="output folder (default skelsplat_out/<take>)")
    out.add_argument("--name", dest="take_name", metavar="TAKE",
                     help="take name (default: from the folder)")
    out.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    out.add_argument("--no-blender", dest="blender", action="store_false",
                     help="skip the Blender stage (no take.blend / take.fbx / take.bvh)")
    out.add_argument("--report-frames", type=int, default=3, metavar="N",
                     help="footage frames per camera drawn in the report (default 3)")
    from ..core.animation import FLOOR_MODES
    from ..core.armature import REST_POSES

    fit = p.add_argument_group("detection and fit")
    add_detect_arguments(fit)
    add_fit_arguments(fit)
    anim = p.add_argument_group("animation (the baked armature)")
    anim.add_argument("--rest-pose", choices=REST_POSES, default="T",
                      help="armature rest pose: T (arms level, default) or A (45 deg down)")
    anim.add_argument("--floor", choices=FLOOR_MODES, default="align",
                      help="align: put the floor found under the feet at Z = 0 with +Z up "
                           "(default); keep: stay in the calibration's world")
    anim.add_argument("--no-lock-feet", dest="no_foot_lock", action="store_true",
                      help="do not lock planted feet (contacts are still detected and keyed)")
    anim.add_argument("--no-foot-lock", dest="no_foot_lock", action="store_true",
                      help=argparse.SUPPRESS)  # the earlier name
    add_verbose_argument(p)
    p.set_defaults(func=run)
    return p


class TqdmReporter:
    """One progress display per stage on stderr (a bar on a terminal, a few plain lines in a
    log or pipe: ``cli.progress``); warnings printed above the bars, each once."""

    def __init__(self, stream=None, interactive: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.interactive = interactive
        self.bar: StageProgress | None = None
        self.shown: set[str] = set()

    def stage_started(self, stage: str, label: str) -> None:
        self.bar = StageProgress(stage, self.stream, interactive=self.interactive, label=label)

    def progress(self, stage: str, fraction: float, message: str) -> None:
        if self.bar is not None:
            self.bar.update(fraction, message)

    def stage_finished(self, stage: str, seconds: float, skipped: bool) -> None:
        if skipped:
            print(f"{stage:<11} skipped", file=self.stream)
            return
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def warn(self, message: str) -> None:
        if message in self.shown:
            return
        self.shown.add(message)
        if self.bar is not None:
            self.bar.write(f"warning: {message}")
        else:
            print(f"warning: {message}", file=self.stream, flush=True)


class _WarningsToReporter(logging.Handler):
    """Shows the library's logged warnings through the reporter (no duplicates, no mangled
    progress bars)."""

    def __init__(self, reporter: TqdmReporter) -> None:
        super().__init__(level=logging.WARNING)
        self.reporter = reporter

    def emit(self, record: logging.LogRecord) -> None:
        self.reporter.warn(record.getMessage())


@contextmanager
def _stdout_to_stderr():
    """Point file descriptor 1 away for a while: Blender's exporters print from C and
    Python ("FBX export starting...", "Info: Saved as"), and stdout is kept for the summary.
    Their notes go to stderr with ``--verbose`` and nowhere otherwise (one line per stage)."""
    from ..core.detect.mediapipe_pose import VERBOSE_ENV

    sys.stdout.flush()
    try:
        saved = os.dup(1)
        target = 2 if os.environ.get(VERBOSE_ENV) else os.open(os.devnull, os.O_WRONLY)
    except OSError:
        yield  # no file descriptor 1 (embedded interpreter): nothing to redirect
        return
    try:
        os.dup2(target, 1)
        with open(os.devnull, "w") as null, \
                redirect_stdout(sys.stderr if target == 2 else null):  # Python-level prints
            yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
        if target != 2:
            os.close(target)


def blender_stage(job, progress) -> list[Path]:
    """The Blender stage of ``run`` (``addon.blender_stage.run_blender_job``: an empty scene,
    the cameras, the baked armature, FBX, BVH and .blend), with Blender's prints kept off
    stdout."""
    from ..core.errors import SkelsplatError

    try:
        from ..addon.blender_stage import run_blender_job
    except ImportError as exc:
        if exc.name != "bpy":
            raise
        raise SkelsplatError("the Blender stage needs headless Blender (bpy): install "
                             "requirements/blender.txt, or skip the stage",
                             option="blender") from None
    with _stdout_to_stderr():
        return run_blender_job(job, progress)


def run_options(args: argparse.Namespace):
    """The ``RunOptions`` of the parsed arguments (one ``TakeSettings`` inside)."""
    from ..core.pipeline import RunOptions
    from ..core.stages import TakeSettings
    from .fit_cmd import fit_options

    settings = TakeSettings(
        detect=detect_options(args),
        fit=fit_options(args), fps=args.fps, offsets=parse_offsets(args.offsets),
        pair_by_order=args.pair_by_order)
    return RunOptions(
        videos=args.videos, calibration=args.calibration, take_dir=args.take_dir,
        keypoints=args.keypoints, out_dir=args.out_dir, take_name=args.take_name,
        overwrite=args.overwrite, settings=settings, blender=args.blender,
        report_frames=args.report_frames, rest_pose=args.rest_pose, floor=args.floor,
        lock_feet=not args.no_foot_lock)


def run(args: argparse.Namespace) -> int:
    from ..core.pipeline import run_pipeline

    options = run_options(args)
    set_verbose(args.verbose)
    reporter = TqdmReporter()
    handler = _WarningsToReporter(reporter)
    logger = logging.getLogger("skelsplat")
    logger.addHandler(handler)
    try:
        result = run_pipeline(options, blender_stage=blender_stage if options.blender else None,
                              reporter=reporter)
    finally:
        logger.removeHandler(handler)
    print(result.summary.to_text())
    print(f"  report: {result.inputs.out_dir / 'report.html'}")
    return 0
