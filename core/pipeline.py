"""The main job, stage by stage: calibration -> footage -> detect (or read keypoints) -> fit
-> export joints -> Blender (bake, FBX, BVH, .blend) -> report. bpy-free: the Blender stage
is a callable handed in by the caller (the CLI passes one that drives ``addon.blender_stage`` in
headless Blender).

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
from .sanity import check_cutoff, check_keypoints, check_rate, check_rig

if TYPE_CHECKING:  # matplotlib and torch load only when a run starts
    from .fit import FitResult
    from .report import RunSummary

#: Stage names in run order (keys of the timing table).
STAGES = ("calibration", "footage", "detect", "keypoints", "fit", "animate", "export", "blender",
          "report")
#: Files of the Blender stage and of the export stage.
BLENDER_FILES = ("take.blend", "take.fbx", "take.bvh")
EXPORT_FILES = ("joints.npz", "joints.trc")

ProgressFn = Callable[[float, str], None]


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
        device, mode, smooth, smooth_cutoff_hz: fitter settings (``FitOptions``).
        backend, model: 2D detector (``mediapipe`` or ``onnx`` with a model file).
        offsets: camera -> frame offset (take frame t = video frame t + offset).
        fps: frame rate of the take, overriding the keypoints' and the footage's.
        use_cache: reuse cached detections.
        cache_dir: detection cache folder (default: ``.skelsplat_cache`` beside the footage).
        blender: run the Blender stage (armature, ellipsoids, FBX, BVH, .blend).
        report_frames: footage frames per camera in the report's overlays.
        pair_by_order: pair videos whose names do not match the cameras in sorted file-name
            order (listed in a warning); otherwise only matching names are paired.
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
    device: str = "auto"
    mode: str = "fast"
    smooth: str = "auto"
    smooth_cutoff_hz: float | None = None
    backend: str = "mediapipe"
    model: str | Path | None = None
    offsets: dict[str, int] | None = None
    fps: float | None = None
    use_cache: bool = True
    cache_dir: str | Path | None = None
    blender: bool = True
    report_frames: int = 3
    pair_by_order: bool = False
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
        keypoints: 2D keypoints aligned to ``rig`` [F, V, J, 3].
        fit: the fitter's result (``FitResult``).
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
            raise SkelsplatError(f"the bundled demo take is missing ({take_dir}); pass "
                                 "--take DIR or --calibration with --videos/--keypoints")
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
        raise SkelsplatError("no calibration: pass --calibration FILE (or --take DIR)")
    if videos is None and keypoints is None:
        raise SkelsplatError("nothing to fit: pass --videos (footage) and/or --keypoints "
                             "(precomputed 2D keypoints)")
    for p in [calibration, *(videos or []), *([keypoints] if keypoints else [])]:
        if not p.exists():
            raise SkelsplatError(f"{str(p)!r} does not exist")
    if videos is not None and len(videos) == 1 and videos[0].is_dir():
        from .video import list_videos

        folder = videos[0]
        videos = list_videos(folder)
        if not videos:
            raise SkelsplatError(f"no video files in folder {str(folder)!r}")
    check_rate(options.fps, "the frame rate")
    check_cutoff(options.smooth_cutoff_hz, options.fps, "the smoothing cut-off")
    if keypoints is None:
        if options.backend == "onnx" and not options.model:
            raise SkelsplatError("the onnx detector needs a model file: pass --model FILE.onnx")
        if options.backend != "onnx" and options.model:
            raise SkelsplatError(f"--model is for --backend onnx, not {options.backend!r}")
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
        raise SkelsplatError(f"output folder {str(out_dir)!r} is a file; pass --out DIR")
    return ResolvedInputs(name, calibration, videos, keypoints, out_dir)


def _fresh_default_out_dir(base: Path, overwrite: bool) -> Path:
    """The default output folder: ``base``, or ``base-2``, ``base-3``... when ``base`` already
    holds files (an explicit ``--out`` is never renamed; it refuses to clobber instead)."""
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
                          f"({shown}); pass --overwrite to replace them or choose --out")


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


def _fit_joint_set_joints(fit: FitResult, keypoints: Keypoints2D) -> np.ndarray:
    """[F, J, 3] fitted joints in the keypoints' joint set (for reprojection errors)."""
    joints = np.asarray(fit.joints3d, dtype=float)
    valid = np.asarray(fit.valid, dtype=bool)
    F, _, J = keypoints.shape
    if joints.shape != (F, J, 3):
        raise SkelsplatError(f"fit returned joints {joints.shape}, expected {(F, J, 3)}")
    return np.where(valid[..., None], joints, np.nan)


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


def _run_stages(options: RunOptions, inputs: ResolvedInputs, staging: Path,
                blender_stage: BlenderStage | None, reporter: Reporter | None,
                cancel: Any | None) -> RunResult:
    """Every stage; outputs go into ``staging`` (``inputs.out_dir`` is only checked)."""
    from .calibration import read_calibration
    from .export3d import write_motion
    from .fit import FitOptions, fit_take
    from .report import make_figures, summarize, write_report
    from .report.summary import relative_files

    reporter = reporter or SilentReporter()
    stages = _Stages(reporter, cancel)
    warnings: list[str] = []

    def warn(msg: str) -> None:
        warnings.append(msg)
        reporter.warn(msg)

    use_blender = options.blender and blender_stage is not None

    with stages.stage("calibration", "reading calibration") as progress:
        rig = read_calibration(inputs.calibration)
        progress(1.0, f"{len(rig)} cameras")
    for w in check_rig(rig):
        warn(w)
    check_outputs(planned_outputs(inputs.out_dir, rig.names, use_blender), options.overwrite)
    out_dir = staging

    take = None
    if inputs.videos:
        from .footage import read_take

        with stages.stage("footage", "reading footage") as progress:
            take = read_take(inputs.videos, rig, offsets=options.offsets,
                             allow_sorted=options.pair_by_order)
            rig = take.rig
            for w in take.warnings:
                warn(w)
            progress(1.0, f"{len(take.videos)} videos, {take.n_frames} frames at "
                          f"{take.fps:g} fps")
    else:
        stages.skip("footage")

    if inputs.keypoints is not None:
        stages.skip("detect")
        from .keypoints import read_keypoints

        with stages.stage("keypoints", "reading 2D keypoints") as progress:
            keypoints = read_keypoints(inputs.keypoints, rig=rig, offsets=options.offsets)
            progress(1.0, f"{keypoints.shape[0]} frames, {keypoints.joint_set}")
    else:
        from .detect import detect_take

        with stages.stage("detect", "detecting 2D keypoints") as progress:
            det_options = {"model": str(options.model)} if options.model else {}
            keypoints = detect_take(take, backend=options.backend, options=det_options,
                                    use_cache=options.use_cache,
                                    cache_dir=options.cache_dir, progress=progress,
                                    cancel=cancel)
            for w in keypoints.meta.get("warnings", []):
                if w not in take.warnings:
                    warn(str(w))
    keypoints = keypoints.aligned_to(rig)
    if take is not None:
        keypoints = _restrict_to_take(keypoints, take.frame_numbers, warn)
    keypoints, found = check_keypoints(keypoints, rig, offsets=options.offsets)
    for w in found:
        warn(w)
    fps = options.fps or keypoints.fps or (take.fps if take is not None else None)
    if not fps:
        fps = 30.0
        warn("the keypoints carry no frame rate; assuming 30 fps (give the take's frame rate)")
    check_cutoff(options.smooth_cutoff_hz, fps, "the smoothing cut-off")
    if keypoints.fps != fps:
        keypoints = Keypoints2D(keypoints.data, keypoints.camera_names, keypoints.joint_set,
                                keypoints.frame_numbers, fps, keypoints.source,
                                dict(keypoints.meta))

    with stages.stage("fit", "fitting the Gaussian skeleton") as progress:
        fit_options = FitOptions(mode=options.mode, device=options.device, smooth=options.smooth,
                                 smooth_cutoff_hz=options.smooth_cutoff_hz)
        fit = fit_take(keypoints, rig, fit_options, progress=progress, cancel=cancel)
        motion = fit.to_motion(canonical=True)
        if motion.fps is None:
            motion.fps = fps
        if motion.n_frames == keypoints.shape[0]:
            motion.frame_numbers = keypoints.frame_numbers.copy()
    joints_kp = _fit_joint_set_joints(fit, keypoints)
    with stages.stage("animate", "rigid skeleton, contacts, floor") as progress:
        from .animation import AnimationOptions, animate

        animation = animate(motion, AnimationOptions(rest_pose=options.rest_pose,
                                                     floor=options.floor,
                                                     lock_feet=options.lock_feet))
        for w in animation.warnings:
            warn(w)
        progress(1.0, f"{len(animation.plan.bone_names)} bones")

    files: list[Path] = []
    with stages.stage("export", "writing joints") as progress:
        for i, name in enumerate(EXPORT_FILES):
            files.append(write_motion(motion, out_dir / name, overwrite=options.overwrite))
            progress((i + 1) / len(EXPORT_FILES), name)

    if use_blender:
        with stages.stage("blender", "baking in headless Blender") as progress:
            videos = ({v.camera: v.path for v in take.videos} if take is not None else None)
            offsets = ({v.camera: v.offset for v in take.videos} if take is not None
                       else {c: 0 for c in rig.names})
            job = BlenderJob(rig, motion, inputs.take_name, videos, offsets, float(fps),
                             out_dir / BLENDER_FILES[0], out_dir / BLENDER_FILES[1],
                             out_dir / BLENDER_FILES[2], options.overwrite, animation)
            files += blender_stage(job, progress)
    else:
        stages.skip("blender")

    from .report import REPORT_NAME, figure_names

    report_files = [out_dir / n for n in (REPORT_NAME, *figure_names(rig.names))]
    # The report judges the fit against the labels it used: detections after the fitter's
    # multi-view left/right swap correction (what was relabelled is listed in the details).
    keypoints = _with_swaps_corrected(keypoints, fit)
    summary = summarize(inputs.take_name, rig, keypoints.data, joints_kp, motion,
                        keypoints.joint_set, animation=animation)
    with stages.stage("report", "drawing the report") as progress:
        reader = _frame_reader(take) if take is not None else None
        figures = make_figures(out_dir, summary, rig, keypoints, motion, reader,
                               n_frames=options.report_frames, progress=progress)
    summary.timings_s = dict(stages.timings)
    summary.files = relative_files([*files, *report_files], out_dir)
    details = _details(inputs, options, fit, keypoints.meta)
    write_report(out_dir, summary, figures, details, warnings)
    files += report_files
    return RunResult(inputs, rig, keypoints, fit, motion, summary, files,
                     dict(stages.timings), warnings)


def _restrict_to_take(keypoints: Keypoints2D, frames: np.ndarray,
                      warn: Callable[[str], None]) -> Keypoints2D:
    """Keep only keypoint rows whose frame the footage covers."""
    keep = np.isin(keypoints.frame_numbers, frames)
    if keep.all():
        return keypoints
    if not keep.any():
        raise SkelsplatError(f"{keypoints.source}: no keypoint frame lies in the footage's "
                             f"frames {int(frames[0])}..{int(frames[-1])}")
    warn(f"{int((~keep).sum())} keypoint frames lie outside the footage and are ignored")
    rows = np.flatnonzero(keep)
    return Keypoints2D(keypoints.data[rows], keypoints.camera_names, keypoints.joint_set,
                       keypoints.frame_numbers[rows], keypoints.fps, keypoints.source,
                       dict(keypoints.meta))


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
    diag = getattr(fit, "diagnostics", None) or {}
    flips = diag.get("swap_flips")
    if flips is None or not np.any(flips):
        return keypoints
    from .swaps import apply_flips

    data = apply_flips(keypoints.data, np.asarray(flips, dtype=bool), keypoints.joint_set)
    return Keypoints2D(data, list(keypoints.camera_names), keypoints.joint_set,
                       keypoints.frame_numbers.copy(), keypoints.fps, keypoints.source,
                       dict(keypoints.meta))


def _details(inputs: ResolvedInputs, options: RunOptions, fit: FitResult,
             keypoints_meta: dict) -> dict[str, str]:
    out = {
        "calibration": str(inputs.calibration),
        "footage": ", ".join(str(v) for v in inputs.videos) if inputs.videos else "none",
        "keypoints": str(inputs.keypoints) if inputs.keypoints else
        f"detected ({options.backend})",
        "fit": f"mode {options.mode}, device {fit.diagnostics.get('device', options.device)}, "
               f"smoothing {fit.diagnostics.get('smooth', options.smooth)}",
    }
    from .calibration.quality import calibration_error_details

    out.update(calibration_error_details(inputs.calibration))
    for st in keypoints_meta.get("detection", []):
        if isinstance(st, dict) and "camera" in st:
            src = "from cache" if st.get("cached") else f"{st.get('ms_per_frame', 0):.0f} ms/frame"
            out[f"detection {st['camera']}"] = (
                f"{st.get('frames_with_person')}/{st.get('frames')} frames with a person, "
                f"mean confidence {st.get('mean_confidence', float('nan')):.2f}, {src}")
    diag = getattr(fit, "diagnostics", None)
    if isinstance(diag, dict):
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
