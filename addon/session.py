"""What the operators call: one function per user action, on ``scene.skelsplat``.

Long actions (detect, fit, install) start a :mod:`.jobs` job whose worker runs core code only;
results are stored on the main thread. Loaded keypoints and fitted motions are kept in memory
per scene (:data:`KEYPOINTS`, :data:`MOTIONS`); fits are also written as NPZ into the scene's
Fits Folder (default ``//skelsplat_fits``, beside the .blend) and referenced relative to the
.blend, so a saved file can be baked again later. In an unsaved file a fit waits in a
temporary file; saving the file (or saving it elsewhere) copies every scene's fit into the
Fits Folder beside the new .blend and points the scene at it (:func:`attach_handlers`).

Videos are paired with the calibration's cameras by name; pairing by sorted order happens
only when the user chose it (Pair Videos by Order), and then lists each pair in a warning.
"""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path

import bpy
from bpy.app.handlers import persistent

from ..core.atomic import write_bytes
from ..core.errors import SkelsplatError
from . import jobs
from .properties import FITS_DIR_DEFAULT, settings

#: scene name -> Keypoints2D of the take (detected or imported).
KEYPOINTS: dict[str, object] = {}
#: scene name -> Motion3D of the last fit.
MOTIONS: dict[str, object] = {}


def _abspath(path: str) -> Path:
    return Path(bpy.path.abspath(path)).expanduser()


def _props(scene: bpy.types.Scene):
    props = settings(scene)
    if props is None:
        raise SkelsplatError("the SkelSplat extension is not enabled")
    return props


def import_capture(scene: bpy.types.Scene, calibration_path: str, footage_path: str = "",
                   take_name: str = "take", pair_by_order: bool = False):
    """Read the calibration (and footage) and build the camera collection; fill the table.

    Importing again updates the take's cameras in place (no duplicates) and keeps the
    scene's choices (device, ...); the preference's default device applies to the first
    import only.
    """
    from ..core.calibration import read_calibration
    from ..core.errors import CalibrationError
    from ..core.sanity import check_rig
    from .capture import build_scene

    if not calibration_path:
        raise SkelsplatError("choose a calibration file first (Calibration)")
    rig = read_calibration(_abspath(calibration_path))
    videos = _abspath(footage_path) if footage_path else None
    capture = build_scene(rig, videos, take_name=take_name, scene=scene,
                          allow_sorted=pair_by_order)
    try:
        capture.warnings.extend(check_rig(capture.rig))
    except CalibrationError as exc:  # shown now, refused by Fit
        capture.warnings.append(f"{exc} (Fit refuses this calibration)")
    props = _props(scene)
    from .preferences import get_preferences

    prefs = get_preferences()
    if prefs is not None and not props.cameras:
        props.device = prefs.default_device
    props.take_name = take_name
    props.pair_by_order = pair_by_order
    props.calibration_path = calibration_path
    props.footage_path = footage_path
    props.cameras.clear()
    for cam in capture.rig:
        row = props.cameras.add()
        row.name = cam.name
        row.width, row.height = cam.size
        row.focal_px = cam.fx
        clip = capture.clips.get(cam.name)
        row.video = Path(clip.filepath).name if clip else ""
        row.offset = int(capture.cameras[cam.name].get("skelsplat_offset", 0))
    props.warnings.clear()
    for text in capture.warnings:
        props.warnings.add().name = text
    return capture


def load_keypoints(scene: bpy.types.Scene, keypoints_path: str, fmt: str = "auto",
                   joint_set: str = ""):
    """Read a keypoint file (any core format) as the take's 2D keypoints."""
    from ..core.stages import TakeSettings, read_keypoints_file

    if not keypoints_path:
        raise SkelsplatError("choose a keypoint file or folder first")
    props = _props(scene)
    rig = _rig(props) if props.calibration_path else None
    kp = read_keypoints_file(_abspath(keypoints_path), rig, TakeSettings(), fmt=fmt,
                             joint_set=joint_set or None)
    KEYPOINTS[scene.name] = kp
    props.keypoints_path = keypoints_path
    props.keypoints_summary = _summary(kp)
    return kp


def _summary(kp) -> str:
    F, V, J = kp.shape
    detected = 100 * (kp.confidence > 0).mean()
    return f"{F} frames x {V} views x {J} joints ({kp.joint_set}), {detected:.0f}% detected"


def _calibration_file(props) -> Path:
    if not props.calibration_path:
        raise SkelsplatError("import a capture (calibration file) first")
    return _abspath(props.calibration_path)


def _rig(props):
    from ..core.calibration import read_calibration

    return read_calibration(_calibration_file(props))


def start_detect(scene: bpy.types.Scene, backend: str = "mediapipe", model: str = "",
                 synchronous: bool = False):
    """Detect 2D keypoints in the take's footage in the background (cached per video).

    ``backend``: the detector, ``mediapipe`` or ``onnx``; ``model``: the ONNX model file
    (``onnx`` only; may be relative to the .blend).
    """
    from ..core.detect import DetectOptions
    from ..core.stages import TakeSettings, detect_keypoints, read_footage, read_rig

    props = _props(scene)
    if not props.footage_path:
        raise SkelsplatError("import a capture with footage first")
    calibration, footage = _abspath(props.calibration_path), _abspath(props.footage_path)
    settings = TakeSettings(
        detect=DetectOptions(backend=backend, model=_abspath(model) if model else None),
        pair_by_order=props.pair_by_order)
    settings.detect.check()  # a missing model file is named now, not by the job
    name = scene.name

    def work(progress, cancel: threading.Event):
        take = read_footage(footage, read_rig(calibration), settings)
        return detect_keypoints(take, settings, progress=progress, cancel=cancel)

    def on_done(kp):
        KEYPOINTS[name] = kp
        target = bpy.data.scenes.get(name)
        if target is not None:
            _props(target).keypoints_summary = _summary(kp)
        return kp

    return jobs.start("detect", work, on_done, scene=scene, synchronous=synchronous)


def _fits_dir(props) -> Path | None:
    """The scene's Fits Folder as an absolute path; None while it is relative to a .blend
    that is not saved yet."""
    folder = props.fits_dir or FITS_DIR_DEFAULT
    if folder.startswith("//") and not bpy.data.filepath:
        return None
    return _abspath(folder)


def _fit_path(props, directory: Path) -> Path:
    """``<directory>/<take>_fit<n>.npz`` with the first unused ``n``."""
    n = 1
    while (directory / f"{props.take_name}_fit{n}.npz").exists():
        n += 1
    return directory / f"{props.take_name}_fit{n}.npz"


def _reference(path: Path) -> str:
    """How a scene stores a file path: relative to the .blend when it is saved."""
    return bpy.path.relpath(str(path)) if bpy.data.filepath else str(path)


def store_fit(scene: bpy.types.Scene, motion) -> Path:
    """Write ``motion`` into the scene's Fits Folder (a temporary file while the .blend is
    unsaved and the folder relative to it) and point ``motion_path`` at it."""
    props = _props(scene)
    directory = _fits_dir(props)
    if directory is None:
        directory = Path(tempfile.mkdtemp(prefix="skelsplat_fits-"))
    path = motion.save_npz(_fit_path(props, directory))
    props.motion_path = _reference(path)
    return path


def has_motion(scene: bpy.types.Scene) -> bool:
    """A fit is in memory or named by the scene (Bake can run)."""
    props = settings(scene)
    return scene.name in MOTIONS or bool(props is not None and props.motion_path)


#: scene name -> absolute path of its fit, noted before a save (paths relative to the old
#: .blend would break when the file is saved elsewhere).
_FITS_BEFORE_SAVE: dict[str, Path] = {}


@persistent
def _note_fits(*_args) -> None:
    _FITS_BEFORE_SAVE.clear()
    for scene in bpy.data.scenes:
        props = settings(scene)
        if props is not None and props.motion_path:
            _FITS_BEFORE_SAVE[scene.name] = _abspath(props.motion_path).resolve()


@persistent
def _keep_fits(*_args) -> None:
    """After a save: every scene's fit lies in its Fits Folder beside the saved .blend
    (copied there when it was elsewhere) and is referenced relative to it."""
    for scene in bpy.data.scenes:
        source = _FITS_BEFORE_SAVE.get(scene.name)
        props = settings(scene)
        if source is None or props is None or not source.is_file():
            continue
        directory = _fits_dir(props)
        if directory is None:
            continue
        target = source
        if source.parent != directory.resolve():
            try:
                directory.mkdir(parents=True, exist_ok=True)
                target = _fit_path(props, directory)
                write_bytes(target, source.read_bytes(), overwrite=False)
            except (OSError, SkelsplatError) as exc:
                print(f"SkelSplat: could not copy the fit {source} beside the saved file: "
                      f"{exc}")
                target = source
        props.motion_path = _reference(target)
    _FITS_BEFORE_SAVE.clear()


def attach_handlers() -> None:
    """Keep fits beside the .blend across saves (called by ``register``)."""
    if _note_fits not in bpy.app.handlers.save_pre:
        bpy.app.handlers.save_pre.append(_note_fits)
    if _keep_fits not in bpy.app.handlers.save_post:
        bpy.app.handlers.save_post.append(_keep_fits)


def detach_handlers() -> None:
    for handlers, fn in ((bpy.app.handlers.save_pre, _note_fits),
                         (bpy.app.handlers.save_post, _keep_fits)):
        if fn in handlers:
            handlers.remove(fn)


def start_fit(scene: bpy.types.Scene, device: str = "auto", mode: str = "fast",
              smooth: str = "auto", smooth_cutoff_hz: float = 0.0, skeleton: str = "auto",
              synchronous: bool = False):
    """Fit the take's keypoints in the background; the motion is stored when it finishes.
    The settings are ``FitOptions``'s (``smooth_cutoff_hz`` 0: chosen from the data).

    The same stages as ``skelsplat run`` and ``skelsplat fit`` (``core.stages``): the
    keypoints are checked and given the take's frame rate here, so the same take gives the
    same joints from every front end. The scene is not changed until the fit succeeds; a
    cancelled or failed fit leaves it exactly as it was (apart from the status line).
    """
    from ..core.fit import FitOptions
    from ..core.stages import TakeSettings, fit_keypoints, prepare_keypoints, read_rig

    props = _props(scene)
    keypoints = KEYPOINTS.get(scene.name)
    if keypoints is None:
        if not props.keypoints_path:
            raise SkelsplatError("detect or import 2D keypoints first")
        keypoints = load_keypoints(scene, props.keypoints_path)
    settings = TakeSettings(fit=FitOptions(mode=mode, device=device, smooth=smooth,
                                           smooth_cutoff_hz=smooth_cutoff_hz or None,
                                           skeleton=skeleton))
    found: list[str] = []
    rig = read_rig(_calibration_file(props), found.append)
    keypoints = prepare_keypoints(keypoints, rig, settings, warn=found.append)  # errors stop here
    for text in found:
        if text not in {w.name for w in props.warnings}:
            props.warnings.add().name = text
    name = scene.name

    def work(progress, cancel: threading.Event):
        result = fit_keypoints(keypoints, rig, settings, progress=progress, cancel=cancel)
        return result, result.to_motion(canonical=True)

    def on_done(done):
        result, motion = done
        MOTIONS[name] = motion
        target = bpy.data.scenes.get(name)
        if target is not None:
            store_fit(target, motion)
            _props(target).reprojection_px = result.mean_reprojection_px
        return motion

    return jobs.start("fit", work, on_done, scene=scene, synchronous=synchronous)


def current_motion(scene: bpy.types.Scene):
    """The scene's last fit (memory, else the NPZ in ``motion_path``)."""
    from ..core.motion import Motion3D

    motion = MOTIONS.get(scene.name)
    if motion is None:
        props = _props(scene)
        if not props.motion_path:
            raise SkelsplatError("no fit yet: run Fit first (or choose a motion NPZ)")
        motion = Motion3D.load_npz(_abspath(props.motion_path))
        MOTIONS[scene.name] = motion
    return motion


def bake(scene: bpy.types.Scene, sigma: float = 2.0, ellipsoids: bool = True,
         raw_empties: bool = False, run_name: str = "", rest_pose: str = "T",
         floor: str = "align", lock_feet: bool = True):
    """Bake the last fit onto the take's rigid armature (new action) and list joint errors
    (``rest_pose``, ``floor``, ``lock_feet``: see ``core.animation.AnimationOptions``)."""
    from .bake import bake_motion

    props = _props(scene)
    result = bake_motion(current_motion(scene), take_name=props.take_name,
                         run_name=run_name or None, scene=scene, sigma=sigma,
                         ellipsoids=ellipsoids, raw_empties=raw_empties, rest_pose=rest_pose,
                         floor=floor, lock_feet=lock_feet)
    for obj in (result.armature, *result.ellipsoids.values(), *result.empties.values()):
        obj.skelsplat.take_name = props.take_name
        obj.skelsplat.run_name = result.run_name
    props.joint_errors.clear()
    for joint, (mean, peak) in result.joint_errors.items():
        row = props.joint_errors.add()
        row.name, row.mean_px, row.max_px = joint, mean, peak
    return result


def export(scene: bpy.types.Scene, format: str = "FBX", filepath: str = "",
           overwrite: bool = False, add_leaf_bones: bool = False) -> Path:
    """Export the take's armature with Blender's FBX or BVH exporter (game-engine presets)."""
    from .export import export_bvh, export_fbx, find_armature

    props = _props(scene)
    suffix = ".fbx" if format == "FBX" else ".bvh"
    if not filepath:
        filepath = str(_abspath(props.export_dir or "//") / f"{props.take_name}{suffix}")
    armature = find_armature(scene)
    if format == "FBX":
        return export_fbx(_abspath(filepath), armature=armature, overwrite=overwrite,
                          add_leaf_bones=add_leaf_bones)
    return export_bvh(_abspath(filepath), armature=armature, overwrite=overwrite)


def refresh_dependencies(prefs, check_cuda: bool = True) -> list:
    """Fill the preferences' dependency table (imports torch when ``check_cuda``)."""
    from .deps import dependency_status

    status = dependency_status(check_cuda=check_cuda)
    prefs.dependencies.clear()
    for s in status:
        row = prefs.dependencies.add()
        row.name, row.importable, row.version, row.detail = s.name, s.importable, s.version, \
            s.detail
    return status


def start_install(requirements: str, synchronous: bool = False, python: str = ""):
    """pip-install ``requirements`` into the extension's own site-packages (background job)."""
    from .deps import add_site_packages, pip_install, site_packages_dir
    from .preferences import ROOT_PACKAGE

    reqs = requirements.split()
    target = site_packages_dir(ROOT_PACKAGE)

    def work(progress, cancel: threading.Event):
        return pip_install(reqs, target, python=python or None, progress=progress,
                           cancel=cancel)

    def on_done(path):
        add_site_packages(path)
        return path

    return jobs.start("install", work, on_done, synchronous=synchronous)
