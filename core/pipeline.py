"""The main job, stage by stage: calibration -> footage -> detect (or read keypoints) -> fit
-> export joints -> Blender (bake, FBX, BVH, .blend) -> report, each a named step over the
shared stages of ``core.stages``. bpy-free: the Blender stage is a callable handed in by the
caller (the CLI passes ``addon.blender_stage.run_blender_job``, run in headless Blender).

Inputs (:class:`RunOptions`, resolved once by :func:`resolve_inputs`):

- nothing: the bundled demo take (``demo/``, take name ``demo``);
- ``take_dir``: a folder with ``calibration/`` (one calibration file) and ``videos/``
  (also accepted: both directly inside the folder; the videos are optional when
  ``keypoints`` are given);
- ``videos`` + ``calibration``: footage is read and 2D keypoints detected (cached beside the
  videos, so a re-run never re-detects);
- ``keypoints`` + ``calibration``: detection is skipped; without videos the footage stage is
  skipped too (overlays are drawn on a grey canvas and the Blender cameras have no clip).

Outputs in ``out_dir`` (default ``skelsplat_out/<take>``): ``joints.npz``, ``joints.trc``
(export; written before the Blender stage so a Blender failure never loses the fit),
``take.blend``, ``take.fbx``, ``take.bvh`` (Blender stage), ``report.html`` and its PNGs
(report). Existing outputs are never replaced unless ``overwrite`` is set; the check
happens before any work starts.

Nothing is half-written: every stage writes into a staging folder beside ``out_dir``
(``.<name>.staging-*``, same depth, so the .blend's relative footage paths stay right) that
is moved into place only when every stage has succeeded. With ``overwrite`` the earlier
run's files are replaced as a set (none of them mixes with the new ones); the user's own
files in the folder are kept. A failure or a cancel removes the staging folder and leaves
the earlier output untouched. The default folder is claimed atomically (a marker file
created exclusively), so two runs started together write ``<take>`` and ``<take>-2``.

Stage timings are wall-clock seconds per stage; the summary (terminal) and report.html show
the same :class:`~skelsplat.core.report.RunSummary`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from .atomic import ensure_folder, os_error_message
from .camera import Rig
from .errors import Cancelled, ExportError, SkelsplatError
from .keypoints.multiview import Keypoints2D
from .motion import Motion3D
from .progress import ProgressFn
from .sanity import check_rig
from .stages import TakeSettings

if TYPE_CHECKING:  # matplotlib and torch load only when a run starts
    from .fit import FitResult
    from .footage import Take
    from .report import RunSummary

#: Stage names in run order (keys of the timing table).
STAGES = ("calibration", "footage", "detect", "keypoints", "fit", "animate", "export", "blender",
          "report")
#: Files of the Blender stage and of the export stage.
BLENDER_FILES = ("take.blend", "take.fbx", "take.bvh")
EXPORT_FILES = ("joints.npz", "joints.trc")


class Reporter(Protocol):
    """Receives stage events (the CLI shows one progress bar per stage)."""

    def stage_started(self, stage: str, label: str) -> None: ...
    def progress(self, stage: str, fraction: float, message: str) -> None: ...
    def stage_finished(self, stage: str, seconds: float, skipped: bool) -> None: ...
    def warn(self, message: str) -> None: ...


class SilentReporter:
    """A :class:`Reporter` that collects warnings and shows nothing."""

    def __init__(self) -> None:
        self.warnings: list[str] = []

    def stage_started(self, stage: str, label: str) -> None:
        pass

    def progress(self, stage: str, fraction: float, message: str) -> None:
        pass

    def stage_finished(self, stage: str, seconds: float, skipped: bool) -> None:
        pass

    def warn(self, message: str) -> None:
        self.warnings.append(message)


@dataclass
class RunOptions:
    """Everything ``skelsplat run`` accepts (one settings object, built once, passed down).

    Attributes:
        videos: video files or one folder of videos (matched to cameras by name).
        calibration: calibration file (any format of ``read_calibration``).
        take_dir: take folder with ``calibration/`` and ``videos/``.
        keypoints: precomputed 2D keypoints (any format of ``read_keypoints``).
        out_dir: output folder; default ``skelsplat_out/<take>`` (``<take>-2``, ``-3``... when
            that already holds files, so a re-run never replaces an earlier one).
        take_name: name of the take (default: from the folder / file names).
        overwrite: replace existing outputs.
        settings: how the take is processed (``core.stages.TakeSettings``: the detector
            and its cache, the fitter, frame rate, offsets, video pairing), the same object
            ``skelsplat fit``, ``skelsplat detect`` and the add-on's jobs use.
        blender: run the Blender stage (armature, ellipsoids, FBX, BVH, .blend).
        report_frames: footage frames per camera in the report's overlays.
        rest_pose, floor, lock_feet: the animation (``AnimationOptions``): armature rest
            pose ``"T"``/``"A"``, floor ``"align"`` (Z = 0, +Z up) or ``"keep"`` (calibration
            world), planted feet locked.
    """

    videos: Sequence[str | Path] | None = None
    calibration: str | Path | None = None
    take_dir: str | Path | None = None
    keypoints: str | Path | None = None
    out_dir: str | Path | None = None
    take_name: str | None = None
    overwrite: bool = False
    settings: TakeSettings = field(default_factory=TakeSettings)
    blender: bool = True
    report_frames: int = 3
    rest_pose: str = "T"
    floor: str = "align"
    lock_feet: bool = True


@dataclass
class ResolvedInputs:
    """Where the take's files are, after applying the defaults."""

    take_name: str
    calibration: Path
    videos: list[Path] | None
    keypoints: Path | None
    out_dir: Path


@dataclass
class BlenderJob:
    """What the Blender stage gets.

    Attributes:
        rig: cameras (image sizes reconciled to the footage).
        motion: canonical fitted motion.
        take_name: name of the take (collection / action names).
        videos: camera -> video path, or None without footage.
        offsets: camera -> frame offset (take frame t is video frame t + offset).
        fps: frame rate of the take.
        blend, fbx, bvh: output paths (in the run's staging folder, moved into place when
            every stage has succeeded).
        overwrite: replace existing files.
        animation: the rigid animation to key (``core.animation.Animation``).
    """

    rig: Rig
    motion: Motion3D
    take_name: str
    videos: dict[str, Path] | None
    offsets: dict[str, int]
    fps: float
    blend: Path
    fbx: Path
    bvh: Path
    overwrite: bool = False
    animation: Any = None


#: The Blender stage: (job, progress) -> files written.
BlenderStage = Callable[[BlenderJob, ProgressFn], list[Path]]


@dataclass
class RunResult:
    """What a run produced.

    Attributes:
        inputs: the resolved inputs.
        rig: the calibration used (reconciled to the footage).
        keypoints: the 2D keypoints the fit got, aligned to ``rig`` [F, V, J, 3], at the
            take's frame rate (as detected: the fitter's swap corrections are
            ``fit.swap_flips``).
        fit: the fitter's result (``FitResult``: joints, both reprojection errors, swap
            flips, skeleton).
        motion: canonical motion written to joints.npz / joints.trc.
        summary: headline numbers (``RunSummary``), as printed and in report.html.
        files: every file written.
        timings_s: stage -> seconds (skipped stages absent).
        warnings: non-fatal problems, in the order found.
    """

    inputs: ResolvedInputs
    rig: Rig
    keypoints: Keypoints2D
    fit: FitResult
    motion: Motion3D
    summary: RunSummary
    files: list[Path] = field(default_factory=list)
    timings_s: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- inputs
def _find_calibration(folder: Path) -> Path:
    from .calibration import detect_calibration_format

    candidates = []
    for d in (folder / "calibration", folder):
        if d.is_dir():
            candidates += sorted(p for p in d.iterdir() if p.is_file())
    found = []
    for p in candidates:
        try:
            detect_calibration_format(p)
        except SkelsplatError:
            continue
        found.append(p)
    if not found:
        raise SkelsplatError(f"take folder {str(folder)!r}: no calibration file found in "
                             f"{str(folder / 'calibration')!r} or the folder itself")
    # A folder holding several versions of one calibration: the first by name wins.
    return found[0]


def _find_videos(folder: Path) -> list[Path]:
    from .video import list_videos

    for d in (folder / "videos", folder):
        if d.is_dir():
            vids = list_videos(d)
            if vids:
                return vids
    raise SkelsplatError(f"take folder {str(folder)!r}: no videos in "
                         f"{str(folder / 'videos')!r} or the folder itself")


def resolve_inputs(options: RunOptions) -> ResolvedInputs:
    """Apply the input rules of the module docstring; raise SkelsplatError on bad combos."""
    take_dir = Path(options.take_dir) if options.take_dir else None
    if take_dir is None and not options.videos and not options.calibration \
            and not options.keypoints:
        from .footage import demo_take_dir

        take_dir = demo_take_dir()
        if not take_dir.is_dir():
            raise SkelsplatError(f"the bundled demo take is missing ({take_dir}); give a "
                                 "take folder, or a calibration file with videos or keypoints",
                                 option="take_dir")
    name = options.take_name
    calibration = Path(options.calibration) if options.calibration else None
    videos = [Path(v) for v in options.videos] if options.videos else None
    keypoints = Path(options.keypoints) if options.keypoints else None
    if take_dir is not None:
        if not take_dir.is_dir():
            raise SkelsplatError(f"take folder {str(take_dir)!r} does not exist")
        calibration = calibration or _find_calibration(take_dir)
        if videos is None:
            try:
                videos = _find_videos(take_dir)
            except SkelsplatError:
                if keypoints is None:
                    raise  # footage is optional only when the keypoints are given
        name = name or take_dir.resolve().name
    if calibration is None:
        raise SkelsplatError("no calibration: give a calibration file (or a take folder)",
                             option="calibration")
    if videos is None and keypoints is None:
        raise SkelsplatError("nothing to fit: give the videos (footage) and/or precomputed "
                             "2D keypoints", option="videos")
    for p in [calibration, *(videos or []), *([keypoints] if keypoints else [])]:
        if not p.exists():
            raise SkelsplatError(f"{str(p)!r} does not exist")
    if videos is not None and len(videos) == 1 and videos[0].is_dir():
        from .video import list_videos

        folder = videos[0]
        videos = list_videos(folder)
        if not videos:
            raise SkelsplatError(f"no video files in folder {str(folder)!r}")
    options.settings.check()
    if keypoints is None:
        options.settings.detect.check()
    if not name:
        if videos:
            folder = videos[0].resolve().parent
            # <take>/videos/cam01.mp4: the take is the folder above "videos".
            generic = folder.name.lower() in ("videos", "video", "footage")
            name = folder.parent.name if generic else folder.name
        else:
            name = keypoints.stem if keypoints.is_file() else keypoints.resolve().name
    if options.out_dir:
        out_dir = Path(options.out_dir)
    else:
        out_dir = _fresh_default_out_dir(Path("skelsplat_out") / name, options.overwrite)
    if out_dir.exists() and not out_dir.is_dir():
        raise SkelsplatError(f"output folder {str(out_dir)!r} is a file; choose a folder",
                             option="out_dir")
    return ResolvedInputs(name, calibration, videos, keypoints, out_dir)


def _fresh_default_out_dir(base: Path, overwrite: bool) -> Path:
    """The default output folder: ``base``, or ``base-2``, ``base-3``... when ``base`` already
    holds files (an explicit output folder is never renamed; it refuses to clobber
    instead)."""
    if overwrite or _is_free(base):
        return base
    n = 2
    while not _is_free(candidate := base.with_name(f"{base.name}-{n}")):
        n += 1
    return candidate


#: Marker of a folder claimed by a running ``run`` (removed when the run ends).
CLAIM_MARKER = ".skelsplat-run-claim"


def _is_free(folder: Path) -> bool:
    """No folder there yet, or an empty one nobody has claimed."""
    return not folder.exists() or (folder.is_dir() and not any(folder.iterdir()))


def claim_default_out_dir(base: Path, overwrite: bool) -> tuple[Path, bool]:
    """Claim the default output folder atomically: ``base`` or the first free ``base-N``.

    A folder is ours when we create it, or when it is empty and we create its claim marker
    exclusively (``O_EXCL``): two runs started together can never pick the same one.
    Returns (folder, True when this call created it).
    """
    ensure_folder(base.parent)
    n = 1
    while True:
        candidate = base if n == 1 else base.with_name(f"{base.name}-{n}")
        n += 1
        created = False
        try:
            candidate.mkdir()
            created = True
        except FileExistsError:
            if not candidate.is_dir():
                continue
            if overwrite and n == 2:
                return candidate, False  # --overwrite: the set in ``base`` is replaced
            if any(candidate.iterdir()):
                continue
        except OSError as exc:
            raise ExportError(os_error_message(exc, candidate, "create folder")) from None
        try:
            os.close(os.open(candidate / CLAIM_MARKER, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            continue  # another run claimed it a moment ago
        except OSError as exc:
            raise ExportError(os_error_message(exc, candidate, "write into")) from None
        return candidate, created


def _is_run_output(name: str) -> bool:
    """A file name an earlier ``run`` writes (replaced as a set with ``overwrite``)."""
    from .report import REPORT_NAME, figure_names

    fixed = {*BLENDER_FILES, *EXPORT_FILES, REPORT_NAME, "take.blend1", CLAIM_MARKER,
             *figure_names([])}
    return name in fixed or (name.startswith("overlay_") and name.endswith(".png"))


def commit_staging(staging: Path, out_dir: Path, overwrite: bool) -> None:
    """Move the finished ``staging`` folder into place as ``out_dir``.

    An empty (or only claimed) ``out_dir`` is replaced by one rename. A folder holding only
    an earlier run's files is swapped whole (two renames); its files that are not part of
    the new set come back without ``overwrite`` (with it they belong to the replaced set
    and go). A folder that also holds the user's own files is never moved: the new files
    are renamed into it one by one (and, with ``overwrite``, the earlier run's other files
    removed); the user's files stay where they are.
    """
    try:
        if not out_dir.exists():
            os.replace(staging, out_dir)
            return
        entries = [p for p in out_dir.iterdir() if p.name != CLAIM_MARKER]
        if not entries:
            (out_dir / CLAIM_MARKER).unlink(missing_ok=True)
            out_dir.rmdir()
            os.replace(staging, out_dir)
            return
        new = {p.name for p in staging.iterdir()}
        if all(_is_run_output(p.name) and p.is_file() for p in entries):
            old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.replaced-",
                                        dir=out_dir.parent))
            os.replace(out_dir, old / out_dir.name)
            os.replace(staging, out_dir)
            if not overwrite:
                for p in (old / out_dir.name).iterdir():
                    if p.name not in new:
                        os.replace(p, out_dir / p.name)
            shutil.rmtree(old, ignore_errors=True)
            return
        for name in sorted(new):
            os.replace(staging / name, out_dir / name)
        if overwrite:
            for p in entries:
                if p.name not in new and _is_run_output(p.name) and p.is_file():
                    p.unlink()
        staging.rmdir()
    except OSError as exc:
        raise ExportError(os_error_message(exc, out_dir, "move the finished run into")) \
            from None


def _abandon(staging: Path | None, out_dir: Path, created: bool, claimed: bool) -> None:
    """After a failure or cancel: drop the staging folder and our claim; the earlier output
    is untouched."""
    if staging is not None:
        shutil.rmtree(staging, ignore_errors=True)
    try:
        if claimed:
            (out_dir / CLAIM_MARKER).unlink(missing_ok=True)
        if created:
            out_dir.rmdir()  # only when still empty
    except OSError:
        pass


def planned_outputs(out_dir: Path, camera_names: Sequence[str], blender: bool) -> list[Path]:
    """Every file a run writes into ``out_dir`` (checked for clobbering up front)."""
    from .report import REPORT_NAME, figure_names

    names = [*(BLENDER_FILES if blender else ()), *EXPORT_FILES, REPORT_NAME,
             *figure_names(list(camera_names))]
    return [out_dir / n for n in names]


def check_outputs(paths: Sequence[Path], overwrite: bool) -> None:
    """Raise ExportError listing the outputs that exist, unless ``overwrite``."""
    if overwrite:
        return
    existing = [p for p in paths if p.exists()]
    if existing:
        shown = ", ".join(p.name for p in existing[:6]) + (" ..." if len(existing) > 6 else "")
        raise ExportError(f"{existing[0].parent}: {len(existing)} output file(s) exist "
                          f"({shown}); allow overwriting to replace them, or choose another "
                          "output folder", option="overwrite")


# --------------------------------------------------------------------------- stages
class _Stages:
    """Times stages and forwards their progress to the reporter."""

    def __init__(self, reporter: Reporter, cancel: Any | None) -> None:
        self.reporter = reporter
        self.cancel = cancel
        self.timings: dict[str, float] = {}

    def check_cancel(self) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise Cancelled("run cancelled")

    @contextmanager
    def stage(self, name: str, label: str) -> Iterator[ProgressFn]:
        self.check_cancel()
        self.reporter.stage_started(name, label)
        start = time.perf_counter()

        def progress(fraction: float, message: str = "") -> None:
            self.reporter.progress(name, float(fraction), message)

        try:
            yield progress
        finally:
            seconds = time.perf_counter() - start
            self.timings[name] = seconds
            self.reporter.stage_finished(name, seconds, skipped=False)

    def skip(self, name: str) -> None:
        self.reporter.stage_finished(name, 0.0, skipped=True)


def run_pipeline(
    options: RunOptions,
    blender_stage: BlenderStage | None = None,
    reporter: Reporter | None = None,
    cancel: Any | None = None,
) -> RunResult:
    """Run every stage (see the module docstring) and return what was produced.

    Args:
        options: the run settings.
        blender_stage: callable for the Blender stage; None (or ``options.blender`` False)
            skips it, and take.blend / take.fbx / take.bvh are not written.
        reporter: stage events (default: silent).
        cancel: object with ``is_set()``; checked between stages and passed to detect/fit.

    Raises:
        SkelsplatError (or a subclass) for user mistakes, Cancelled when cancelled; the
        earlier output is then untouched (see the module docstring).
    """
    inputs = resolve_inputs(options)
    created = False
    if not options.out_dir:
        inputs.out_dir, created = claim_default_out_dir(Path("skelsplat_out") / inputs.take_name,
                                                        options.overwrite)
    out_dir = inputs.out_dir.resolve()  # ``--out .`` has a name and a parent
    claimed = not options.out_dir and (out_dir / CLAIM_MARKER).is_file()
    staging = None
    try:
        ensure_folder(out_dir.parent)
        try:
            staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.staging-",
                                            dir=out_dir.parent)).resolve()
        except OSError as exc:
            raise ExportError(os_error_message(exc, out_dir.parent, "write into")) from None
        result = _run_stages(options, inputs, staging, blender_stage, reporter, cancel)
        commit_staging(staging, out_dir, options.overwrite)
    except BaseException:
        _abandon(staging, out_dir, created, claimed)
        raise
    result.files = [inputs.out_dir / Path(p).resolve().relative_to(staging)
                    for p in result.files]
    return result


class _Run:
    """One run in progress: its options, inputs, staging folder, stage timer and warnings."""

    def __init__(self, options: RunOptions, inputs: ResolvedInputs, staging: Path,
                 reporter: Reporter | None, cancel: Any | None) -> None:
        self.options = options
        self.settings = options.settings
        self.inputs = inputs
        self.out = staging
        self.reporter = reporter or SilentReporter()
        self.stages = _Stages(self.reporter, cancel)
        self.cancel = cancel
        self.warnings: list[str] = []

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)
            self.reporter.warn(message)


def _run_stages(options: RunOptions, inputs: ResolvedInputs, staging: Path,
                blender_stage: BlenderStage | None, reporter: Reporter | None,
                cancel: Any | None) -> RunResult:
    """Every stage; outputs go into ``staging`` (``inputs.out_dir`` is only checked)."""
    run = _Run(options, inputs, staging, reporter, cancel)
    use_blender = options.blender and blender_stage is not None
    rig = _calibration_step(run, use_blender)
    take = _footage_step(run, rig)
    if take is not None:
        rig = take.rig  # image sizes reconciled to the footage
    keypoints = _keypoints_step(run, rig, take)
    fit, motion = _fit_step(run, keypoints, rig)
    animation = _animate_step(run, motion)
    files = _export_step(run, motion)
    if use_blender:
        files += _blender_step(run, blender_stage, rig, take, motion, animation)
    else:
        run.stages.skip("blender")
    summary, report_files = _report_step(run, rig, take, keypoints, fit, motion, animation,
                                         files)
    return RunResult(inputs, rig, keypoints, fit, motion, summary, [*files, *report_files],
                     dict(run.stages.timings), run.warnings)


def _calibration_step(run: _Run, use_blender: bool) -> Rig:
    """Read and check the calibration; refuse to clobber the outputs (before any work)."""
    from .calibration import read_calibration

    with run.stages.stage("calibration", "reading calibration") as progress:
        rig = read_calibration(run.inputs.calibration)
        progress(1.0, f"{len(rig)} cameras")
    for message in check_rig(rig):
        run.warn(message)
    check_outputs(planned_outputs(run.inputs.out_dir, rig.names, use_blender),
                  run.options.overwrite)
    return rig


def _footage_step(run: _Run, rig: Rig) -> Take | None:
    """The videos matched to the cameras (None without footage)."""
    from .stages import read_footage

    if not run.inputs.videos:
        run.stages.skip("footage")
        return None
    with run.stages.stage("footage", "reading footage") as progress:
        take = read_footage(run.inputs.videos, rig, run.settings, run.warn)
        progress(1.0, f"{len(take.videos)} videos, {take.n_frames} frames at {take.fps:g} fps")
    return take


def _keypoints_step(run: _Run, rig: Rig, take: Take | None) -> Keypoints2D:
    """Read the keypoints file, or detect in the footage; then prepare them for the fit."""
    from .stages import detect_keypoints, prepare_keypoints, read_keypoints_file

    if run.inputs.keypoints is not None:
        run.stages.skip("detect")
        with run.stages.stage("keypoints", "reading 2D keypoints") as progress:
            keypoints = read_keypoints_file(run.inputs.keypoints, rig, run.settings)
            progress(1.0, f"{keypoints.shape[0]} frames, {keypoints.joint_set}")
    else:
        with run.stages.stage("detect", "detecting 2D keypoints") as progress:
            keypoints = detect_keypoints(take, run.settings, progress, run.cancel, run.warn)
    return prepare_keypoints(keypoints, rig, run.settings, take, run.warn)


def _fit_step(run: _Run, keypoints: Keypoints2D, rig: Rig) -> tuple[FitResult, Motion3D]:
    """The fit and its canonical motion (frame rate and frame numbers set by the fit)."""
    from .stages import fit_keypoints

    with run.stages.stage("fit", "fitting the Gaussian skeleton") as progress:
        fit = fit_keypoints(keypoints, rig, run.settings, progress, run.cancel)
        motion = fit.to_motion(canonical=True)
    return fit, motion


def _animate_step(run: _Run, motion: Motion3D) -> Any:
    """The rigid skeleton's animation (rest pose, floor, contacts, foot lock)."""
    from .animation import AnimationOptions, animate

    with run.stages.stage("animate", "rigid skeleton, contacts, floor") as progress:
        animation = animate(motion, AnimationOptions(rest_pose=run.options.rest_pose,
                                                     floor=run.options.floor,
                                                     lock_feet=run.options.lock_feet))
        for message in animation.warnings:
            run.warn(message)
        progress(1.0, f"{len(animation.plan.bone_names)} bones")
    return animation


def _export_step(run: _Run, motion: Motion3D) -> list[Path]:
    """joints.npz and joints.trc (before the Blender stage: a Blender failure never loses
    the fit)."""
    from .stages import export_motion

    files: list[Path] = []
    with run.stages.stage("export", "writing joints") as progress:
        for i, name in enumerate(EXPORT_FILES):
            files.append(export_motion(motion, run.out / name, run.options.overwrite))
            progress((i + 1) / len(EXPORT_FILES), name)
    return files


def _blender_step(run: _Run, blender_stage: BlenderStage, rig: Rig, take: Take | None,
                  motion: Motion3D, animation: Any) -> list[Path]:
    """Hand the Blender stage its job (armature, FBX, BVH, .blend)."""
    with run.stages.stage("blender", "baking in headless Blender") as progress:
        videos = {v.camera: v.path for v in take.videos} if take is not None else None
        offsets = ({v.camera: v.offset for v in take.videos} if take is not None
                   else {c: 0 for c in rig.names})
        job = BlenderJob(rig, motion, run.inputs.take_name, videos, offsets, float(motion.fps),
                         run.out / BLENDER_FILES[0], run.out / BLENDER_FILES[1],
                         run.out / BLENDER_FILES[2], run.options.overwrite, animation)
        return list(blender_stage(job, progress))


def _report_step(run: _Run, rig: Rig, take: Take | None, keypoints: Keypoints2D,
                 fit: FitResult, motion: Motion3D, animation: Any, files: list[Path]
                 ) -> tuple[RunSummary, list[Path]]:
    """The summary (terminal and report.html) and report.html with its figures."""
    from .report import REPORT_NAME, figure_names, make_figures, summarize, write_report
    from .report.summary import relative_files

    report_files = [run.out / n for n in (REPORT_NAME, *figure_names(rig.names))]
    # The report judges the fit against the labels it used: detections after the fitter's
    # multi-view left/right swap correction (what was relabelled is listed in the details).
    keypoints = _with_swaps_corrected(keypoints, fit)
    summary = summarize(run.inputs.take_name, rig, keypoints.data, None, motion,
                        keypoints.joint_set, animation=animation,
                        reprojection_error_px=fit.reprojection_error_px)
    with run.stages.stage("report", "drawing the report") as progress:
        reader = _frame_reader(take) if take is not None else None
        figures = make_figures(run.out, summary, rig, keypoints, motion, reader,
                               n_frames=run.options.report_frames, progress=progress)
    summary.timings_s = dict(run.stages.timings)
    summary.files = relative_files([*files, *report_files], run.out)
    details = _details(run.inputs, run.settings, fit, keypoints.meta)
    write_report(run.out, summary, figures, details, run.warnings)
    return summary, report_files


def _frame_reader(take: Any) -> Callable[[str, int], np.ndarray | None]:
    """Footage frame of a camera at a take frame (None when it cannot be decoded)."""
    from .errors import VideoError
    from .video import read_frame

    def read(camera: str, frame: int) -> np.ndarray | None:
        video = take.video(camera)
        try:
            return read_frame(video.path, int(frame) + video.offset, camera, video.info)
        except VideoError:
            return None

    return read


def _with_swaps_corrected(keypoints: Keypoints2D, fit: FitResult) -> Keypoints2D:
    """The detections relabelled by the fitter's swap correction (unchanged when none)."""
    if fit.swap_flips is None or not np.any(fit.swap_flips):
        return keypoints
    from .swaps import apply_flips

    data = apply_flips(keypoints.data, fit.swap_flips, keypoints.joint_set)
    return keypoints.replace(data=data)


def _details(inputs: ResolvedInputs, settings: TakeSettings, fit: FitResult,
             keypoints_meta: dict) -> dict[str, str]:
    """The report's details table: inputs, calibration quality, detection, fit."""
    diag = fit.diagnostics
    out = {
        "calibration": str(inputs.calibration),
        "footage": ", ".join(str(v) for v in inputs.videos) if inputs.videos else "none",
        "keypoints": str(inputs.keypoints) if inputs.keypoints else
        f"detected ({settings.detect.backend})",
        "fit": f"mode {settings.fit.mode}, device {diag.get('device', settings.fit.device)}, "
               f"smoothing {diag.get('smooth', settings.fit.smooth)}",
    }
    from .calibration.quality import calibration_error_details

    out.update(calibration_error_details(inputs.calibration))
    for st in keypoints_meta.get("detection", []):
        if isinstance(st, dict) and "camera" in st:
            src = "from cache" if st.get("cached") else f"{st.get('ms_per_frame', 0):.0f} ms/frame"
            out[f"detection {st['camera']}"] = (
                f"{st.get('frames_with_person')}/{st.get('frames')} frames with a person, "
                f"mean confidence {st.get('mean_confidence', float('nan')):.2f}, {src}")
    per_cam = diag.get("swaps_per_camera")
    if isinstance(per_cam, dict):
        out["left/right swaps corrected"] = (
            f"{diag.get('swaps_view_frames', 0)} view-frames relabelled ("
            + ", ".join(f"{c}: {n}" for c, n in per_cam.items()) + ")")
    for key in ("mode", "device", "renderer", "iterations_mean", "frames_per_second"):
        if key in diag:
            value = diag[key]
            out[f"fit {key}"] = f"{value:.1f}" if isinstance(value, float) else str(value)
    return out
