"""Headless, scriptable entry points of the Blender side (used by ``skelsplat run`` and tests).

Every function works in headless ``bpy`` (PyPI wheel) and inside Blender 4.2-5.0; none needs
the extension to be registered. World units are metres; the calibration's world frame is used
as Blender's world frame unchanged. Blender frame of take frame ``k`` is ``frame_start + k``.

Signatures (stable; other modules code against them):

``build_scene(rig, videos=None, *, take_name="take", fps=None, frame_start=1, frame_count=None,
offsets=None, scene=None) -> CaptureScene``
    One Blender camera per calibrated camera (exact intrinsics and extrinsics) in a new
    collection ``"<take_name> cameras"``, each showing its video (``videos``: a folder, a list
    of paths matched to cameras by ``core.footage`` rules, or camera name -> path) as a background
    movie clip shifted by ``offsets`` (camera name -> ``o``: take frame t is video frame t + o).
    Sets scene fps, resolution and frame range. ``CaptureScene``: ``.collection``, ``.rig``
    (sizes reconciled with the footage), ``.cameras`` (name -> camera object), ``.clips``,
    ``.warnings`` (list of str), ``.frame_range``.

``bake_motion(motion, *, take_name="take", run_name=None, scene=None, frame_start=1,
ellipsoids=True, sigma=2.0, raw_empties=False, rest_pose="T", floor="align", lock_feet=True,
animation=None) -> BakeResult``
    Rigid armature of the canonical skeleton (the take's one skeleton; T- or A-pose rest,
    roll 0), keyed by rotation (location on the root only) from ``core.animation.animate``:
    orientations from head / hand / foot points, feet locked, floor at Z = 0 (``floor="keep"``:
    calibration world), contacts keyed as ``left/right_foot_contact``; sets the scene's fps.
    A NEW action ``"<take>|<run>"`` on every call (earlier ones are kept). Optional Gaussian
    ellipsoids (``sigma`` standard deviations) and raw joint empties. ``BakeResult``:
    ``.armature``, ``.action``, ``.ellipsoids`` (joint -> object), ``.empties``,
    ``.collection``, ``.frame_range`` (first, last), ``.animation`` (metrics, contacts),
    ``.warnings``, ``.timings_s``.

``export_fbx(path, *, armature=None, frame_range=None, add_leaf_bones=False,
overwrite=False) -> Path`` and ``export_bvh(path, *, armature=None, frame_range=None,
overwrite=False) -> Path``
    Blender's own exporters with game-engine presets (armature only, baked animation). Raise
    :class:`~skelsplat.core.errors.ExportError` when ``path`` exists and ``overwrite`` is False.
    ``armature`` defaults to the last armature baked by SkelSplat in the scene.

``save_blend(path, *, overwrite=False) -> Path``
    Save the current file (``.blend``), refusing to clobber unless ``overwrite``.

``run_blender_job(job, progress) -> list[Path]``
    The Blender stage of the main job (``core.pipeline.BlenderStage``): from an empty scene,
    the cameras, the baked armature, then FBX, BVH and .blend.
"""

from __future__ import annotations

from pathlib import Path

import bpy

from ..core.errors import ExportError
from .bake import BakeResult, bake_motion
from .capture import CaptureScene, build_scene
from .export import export_bvh, export_fbx

__all__ = ["BakeResult", "CaptureScene", "bake_motion", "build_scene", "export_bvh",
           "export_fbx", "run_blender_job", "save_blend"]


def save_blend(path: str | Path, *, overwrite: bool = False) -> Path:
    """Save the open Blender file to ``path`` (``.blend``); refuses to clobber by default."""
    path = Path(path).expanduser().resolve()
    if path.suffix.lower() != ".blend":
        raise ExportError(f"{path}: expected a .blend file name")
    if path.exists() and not overwrite:
        raise ExportError(f"{path} exists; allow overwriting to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    result = bpy.ops.wm.save_as_mainfile(filepath=str(path), check_existing=False, copy=False)
    if "FINISHED" not in result:
        raise ExportError(f"{path}: Blender could not save the file")
    return path


def run_blender_job(job, progress) -> list[Path]:
    """The Blender stage handed to ``core.pipeline.run_pipeline``: build the scene, bake the
    motion and export FBX, BVH and .blend (``job``: ``core.pipeline.BlenderJob``;
    ``progress(fraction, message)``).

    Starts from an empty scene (the headless Blender's startup file has a cube, a light and
    a camera), so take.blend holds only the take. Returns [blend, fbx, bvh].
    """
    bpy.ops.wm.read_homefile(use_empty=True)
    progress(0.05, "building cameras")
    videos = list(job.videos.values()) if job.videos else None
    build_scene(job.rig, videos, take_name=job.take_name, fps=job.fps,
                frame_count=job.motion.n_frames, offsets=job.offsets)
    progress(0.3, "baking armature and ellipsoids")
    bake = bake_motion(job.motion, take_name=job.take_name, animation=job.animation)
    progress(0.6, "exporting FBX")
    fbx = export_fbx(job.fbx, armature=bake.armature, frame_range=bake.frame_range,
                     overwrite=job.overwrite)
    progress(0.75, "exporting BVH")
    bvh = export_bvh(job.bvh, armature=bake.armature, frame_range=bake.frame_range,
                     overwrite=job.overwrite)
    progress(0.9, "saving .blend")
    blend = save_blend(job.blend, overwrite=job.overwrite)
    return [Path(blend), Path(fbx), Path(bvh)]
