"""``skelsplat run``: the whole pipeline on a take (default: the bundled demo).

Stages: calibration -> footage -> detect (cached; or read keypoints) -> fit -> export joints
-> bake and export in headless Blender -> report; one progress bar per stage on stderr, then
the closing summary on stdout (the same numbers report.html shows). The orchestration lives
in ``core.pipeline``; this module adds the argument parsing, the progress bars and the
Blender stage (``addon.pipeline`` in ``bpy``, imported only when that stage runs).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from contextlib import contextmanager
from pathlib import Path

from .fit_cmd import add_fit_arguments


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
    src.add_argument("--take", metavar="DIR",
                     help="take folder with calibration/ and videos/")
    src.add_argument("--videos", nargs="+", metavar="PATH",
                     help="video files, or one folder of videos (matched to cameras by name)")
    src.add_argument("--calibration", metavar="FILE", help="calibration file (any format)")
    src.add_argument("--keypoints", metavar="PATH",
                     help="precomputed 2D keypoints (any supported format): skips detection")
    src.add_argument("--offsets", nargs="+", metavar="CAM=N", default=[],
                     help="frame offsets: take frame t is video frame t + N of camera CAM")
    src.add_argument("--fps", type=float, metavar="N",
                     help="frame rate of the take (default: from the keypoints or the videos)")
    out = p.add_argument_group("output")
    out.add_argument("--out", metavar="DIR", help="output folder (default skelsplat_out/<take>)")
    out.add_argument("--name", metavar="TAKE", help="take name (default: from the folder)")
    out.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    out.add_argument("--no-blender", action="store_true",
                     help="skip the Blender stage (no take.blend / take.fbx / take.bvh)")
    out.add_argument("--report-frames", type=int, default=3, metavar="N",
                     help="footage frames per camera drawn in the report (default 3)")
    fit = p.add_argument_group("detection and fit")
    fit.add_argument("--backend", choices=("mediapipe", "onnx"), default="mediapipe",
                     help="2D detector (default mediapipe)")
    fit.add_argument("--model", metavar="FILE", help="ONNX model file (--backend onnx)")
    fit.add_argument("--no-cache", action="store_true", help="re-detect even when cached")
    fit.add_argument("--cache-dir", metavar="DIR",
                     help="detection cache folder (default: .skelsplat_cache next to the videos)")
    add_fit_arguments(fit, "--smooth-cutoff")
    p.set_defaults(func=run)
    return p


def _parse_offsets(items: list[str]) -> dict[str, int] | None:
    from ..core.errors import SkelsplatError

    offsets: dict[str, int] = {}
    for item in items:
        cam, sep, value = item.partition("=")
        try:
            if not sep or not cam:
                raise ValueError
            offsets[cam] = int(value)
        except ValueError:
            raise SkelsplatError(f"--offsets: expected CAM=N (an integer), got {item!r}") from None
    return offsets or None


class TqdmReporter:
    """One tqdm bar per stage on stderr; warnings printed above the bars, each once."""

    def __init__(self, stream=None) -> None:
        self.stream = stream or sys.stderr
        self.bar = None
        self.shown: set[str] = set()

    def stage_started(self, stage: str, label: str) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=1000, desc=f"{stage:<11}", file=self.stream, leave=True,
                        bar_format="{desc} {percentage:3.0f}%|{bar}| {elapsed}{postfix}",
                        dynamic_ncols=True)
        self.bar.set_postfix_str(label, refresh=False)

    def progress(self, stage: str, fraction: float, message: str) -> None:
        if self.bar is None:
            return
        target = round(1000 * min(max(fraction, 0.0), 1.0))
        if target > self.bar.n:
            self.bar.update(target - self.bar.n)
        if message:
            self.bar.set_postfix_str(message)

    def stage_finished(self, stage: str, seconds: float, skipped: bool) -> None:
        if skipped:
            print(f"{stage:<11} skipped", file=self.stream)
            return
        if self.bar is not None:
            self.bar.update(1000 - self.bar.n)
            self.bar.close()
            self.bar = None

    def warn(self, message: str) -> None:
        from tqdm import tqdm

        if message in self.shown:
            return
        self.shown.add(message)
        tqdm.write(f"warning: {message}", file=self.stream)


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
    """Point file descriptor 1 at descriptor 2 for a while: Blender's exporters print from C,
    and stdout is kept for the summary."""
    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:
        yield  # no file descriptor 1 (embedded interpreter): nothing to redirect
        return
    try:
        os.dup2(2, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def blender_stage(job, progress) -> list[Path]:
    """Build the scene, bake the motion and export FBX, BVH and .blend in headless Blender.

    Starts from an empty scene (the headless Blender's startup file has a cube, a light and
    a camera), so take.blend holds only the take.
    """
    with _stdout_to_stderr():
        return _blender_stage(job, progress)


def _blender_stage(job, progress) -> list[Path]:
    from ..core.errors import SkelsplatError

    try:
        import bpy
    except ImportError:
        raise SkelsplatError("the Blender stage needs headless Blender (bpy): install "
                             "requirements/blender.txt, or pass --no-blender") from None

    from ..addon import pipeline as bl

    bpy.ops.wm.read_homefile(use_empty=True)
    progress(0.05, "building cameras")
    videos = list(job.videos.values()) if job.videos else None
    bl.build_scene(job.rig, videos, take_name=job.take_name, fps=job.fps,
                   frame_count=job.motion.n_frames, offsets=job.offsets)
    progress(0.3, "baking armature and ellipsoids")
    bake = bl.bake_motion(job.motion, take_name=job.take_name)
    progress(0.6, "exporting FBX")
    fbx = bl.export_fbx(job.fbx, armature=bake.armature, frame_range=bake.frame_range,
                        overwrite=job.overwrite)
    progress(0.75, "exporting BVH")
    bvh = bl.export_bvh(job.bvh, armature=bake.armature, frame_range=bake.frame_range,
                        overwrite=job.overwrite)
    progress(0.9, "saving .blend")
    blend = bl.save_blend(job.blend, overwrite=job.overwrite)
    return [Path(blend), Path(fbx), Path(bvh)]


def run(args: argparse.Namespace) -> int:
    from ..core.pipeline import RunOptions, run_pipeline

    options = RunOptions(
        videos=args.videos, calibration=args.calibration, take_dir=args.take,
        keypoints=args.keypoints, out_dir=args.out, take_name=args.name,
        overwrite=args.overwrite, device=args.device, mode=args.mode, smooth=args.smooth,
        smooth_cutoff_hz=args.smooth_cutoff,
        backend=args.backend, model=args.model, offsets=_parse_offsets(args.offsets),
        fps=args.fps,
        use_cache=not args.no_cache, cache_dir=args.cache_dir, blender=not args.no_blender,
        report_frames=args.report_frames,
    )
    reporter = TqdmReporter()
    handler = _WarningsToReporter(reporter)
    logger = logging.getLogger("skelsplat")
    logger.addHandler(handler)
    try:
        result = run_pipeline(options, blender_stage=None if args.no_blender else blender_stage,
                              reporter=reporter)
    finally:
        logger.removeHandler(handler)
    print(result.summary.to_text())
    print(f"  report: {result.inputs.out_dir / 'report.html'}")
    return 0
