"""Scene building for a capture: calibrated Blender cameras with their footage as backgrounds."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import bpy
from mathutils import Matrix

from ..core.blender_camera import blender_camera_settings
from ..core.camera import Camera, Rig

#: ID property marking objects and collections this extension created (value: a role).
ROLE = "skelsplat_role"
TAKE = "skelsplat_take"


@dataclass
class CaptureScene:
    """What :func:`build_scene` created.

    Attributes:
        collection: the take's camera collection.
        rig: the cameras as built (image sizes reconciled with the footage).
        cameras: camera name -> Blender camera object (rig order).
        clips: camera name -> movie clip (cameras with footage only).
        warnings: everything that could not be represented exactly.
        frame_range: (first, last) scene frames of the take.
    """

    collection: bpy.types.Collection
    rig: Rig
    cameras: dict[str, bpy.types.Object] = field(default_factory=dict)
    clips: dict[str, bpy.types.MovieClip] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    frame_range: tuple[int, int] = (1, 1)


def mark(id_data: bpy.types.ID, role: str, take_name: str) -> None:
    """Tag an ID as created by SkelSplat (objects we did not create are never modified)."""
    id_data[ROLE] = role
    id_data[TAKE] = take_name


def new_collection(scene: bpy.types.Scene, name: str, take_name: str,
                   parent: bpy.types.Collection | None = None) -> bpy.types.Collection:
    """A new collection linked under ``parent`` (default: the scene's master collection)."""
    coll = bpy.data.collections.new(name)
    mark(coll, "collection", take_name)
    (parent or scene.collection).children.link(coll)
    return coll


def _take_collection(scene: bpy.types.Scene, take_name: str) -> bpy.types.Collection | None:
    """The camera collection an earlier import of ``take_name`` created in ``scene``."""
    for coll in scene.collection.children_recursive:
        if coll.get(ROLE) == "collection" and coll.get(TAKE) == take_name \
                and coll.name.startswith(f"{take_name} cameras"):
            return coll
    return None


def apply_camera(obj: bpy.types.Object, camera: Camera,
                 scene_camera: Camera | None = None) -> list[str]:
    """Set a Blender camera object's lens, sensor, shift and placement from ``camera``.

    ``scene_camera`` (default ``camera``) sets the scene resolution and pixel aspect the
    lens settings are expressed in (see :func:`set_render_size`).
    """
    ref = blender_camera_settings(scene_camera or camera)
    s = blender_camera_settings(camera, ref.resolution, ref.pixel_aspect)
    data = obj.data
    data.type = "PERSP"
    data.sensor_fit = "HORIZONTAL"
    data.sensor_width = s.sensor_width
    data.lens_unit = "MILLIMETERS"
    data.lens = s.lens
    data.shift_x = s.shift_x
    data.shift_y = s.shift_y
    data.clip_start = 0.05
    data.clip_end = 200.0
    obj.matrix_world = Matrix(s.matrix_world.tolist())
    obj["skelsplat_image_size"] = list(camera.size)
    return list(s.warnings)


def set_render_size(scene: bpy.types.Scene, camera: Camera) -> None:
    """Scene resolution and pixel aspect for ``camera`` (Blender has one per scene)."""
    s = blender_camera_settings(camera)
    scene.render.resolution_x, scene.render.resolution_y = s.resolution
    scene.render.resolution_percentage = 100
    scene.render.pixel_aspect_x, scene.render.pixel_aspect_y = s.pixel_aspect


def _clip_distortion(clip: bpy.types.MovieClip, camera: Camera) -> None:
    """Store the lens model on the clip so the background can be shown undistorted."""
    tc = clip.tracking.camera
    tc.sensor_width = 36.0
    tc.units = "PIXELS"
    tc.focal_length_pixels = camera.fx
    tc.principal_point_pixels = (camera.cx + 0.5, camera.size[1] - (camera.cy + 0.5))
    tc.pixel_aspect = camera.fy / camera.fx
    if camera.model == "pinhole":
        k1, k2, p1, p2, k3 = (float(d) for d in camera.dist)
        tc.distortion_model = "BROWN"
        tc.brown_k1, tc.brown_k2, tc.brown_k3 = k1, k2, k3
        tc.brown_p1, tc.brown_p2 = p1, p2


def add_footage(obj: bpy.types.Object, camera: Camera, video: str | Path, offset: int,
                frame_start: int) -> bpy.types.MovieClip:
    """Show ``video`` behind ``obj`` as a movie clip; take frame 0 is video frame ``offset``."""
    clip = bpy.data.movieclips.load(str(video), check_existing=True)
    obj["skelsplat_offset"] = int(offset)
    clip.frame_start = frame_start - int(offset)
    clip.frame_offset = 0
    _clip_distortion(clip, camera)
    data = obj.data
    data.show_background_images = True
    bg = data.background_images.new()
    bg.source = "MOVIE_CLIP"
    bg.clip = clip
    bg.use_camera_clip = False
    bg.alpha = 1.0
    bg.frame_method = "FIT"
    bg.clip_user.use_render_undistorted = camera.has_distortion and camera.model == "pinhole"
    return clip


def build_scene(rig: Rig, videos: str | Path | Sequence[str | Path] | Mapping[str, str | Path]
                | None = None, *,
                take_name: str = "take", fps: float | None = None, frame_start: int = 1,
                frame_count: int | None = None, offsets: Mapping[str, int] | None = None,
                scene: bpy.types.Scene | None = None, allow_sorted: bool = False
                ) -> CaptureScene:
    """Create the take's camera collection (see ``addon/pipeline.py`` for the contract).

    Building the same take again updates its collection in place: cameras keep their
    objects (updated lens, placement and footage), cameras the calibration no longer has
    are removed, new ones are added; nothing is duplicated.

    Args:
        rig: calibrated cameras (metres, world-to-camera).
        videos: a folder, video paths (matched to cameras by ``core.footage`` rules), a mapping
            camera name -> video path, or None.
        fps: scene frame rate; default: the videos' rate, else the scene's.
        frame_start: scene frame of take frame 0.
        frame_count: take length when there are no videos.
        offsets: camera name -> video frame of take frame 0.
        allow_sorted: pair videos whose names do not match the cameras in sorted order
            (the user's explicit choice; the pairs are listed in the warnings).
    """
    scene = scene or bpy.context.scene
    warnings: list[str] = []
    frame_numbers = list(range(frame_count or 1))
    footage: dict[str, tuple[Path, int]] = {}
    if videos is not None:
        from ..core.footage import read_take

        mapping = dict(videos) if isinstance(videos, Mapping) else None
        paths = list(mapping.values()) if mapping else videos
        take = read_take(paths, rig, mapping=mapping, offsets=offsets,
                         allow_sorted=allow_sorted)
        rig = take.rig or rig
        warnings.extend(take.warnings)
        fps = fps or take.fps
        frame_numbers = [int(f) for f in take.frame_numbers]
        footage = {v.camera: (v.path, v.offset) for v in take.videos}
    coll = _take_collection(scene, take_name) or new_collection(scene, f"{take_name} cameras",
                                                                take_name)
    existing = {o.name: o for o in coll.objects
                if o.get(ROLE) == "camera" and o.get(TAKE) == take_name and o.type == "CAMERA"}
    for gone in [o for n, o in existing.items() if n not in rig.names]:
        bpy.data.objects.remove(gone)
    result = CaptureScene(coll, rig, warnings=warnings)
    first = rig[0]
    for cam in rig:
        obj = existing.get(cam.name)
        if obj is None:
            data = bpy.data.cameras.new(cam.name)
            obj = bpy.data.objects.new(cam.name, data)
            coll.objects.link(obj)
            mark(obj, "camera", take_name)
        else:  # re-import: same object, fresh settings and footage
            obj.data.background_images.clear()
            obj.pop("skelsplat_offset", None)
        warnings.extend(apply_camera(obj, cam, first))
        if cam.name in footage:
            path, offset = footage[cam.name]
            result.clips[cam.name] = add_footage(obj, cam, path, offset, frame_start)
        result.cameras[cam.name] = obj
    set_render_size(scene, first)
    if fps:
        scene.render.fps = max(1, round(fps))
        scene.render.fps_base = scene.render.fps / fps
    scene.frame_start = frame_start + frame_numbers[0]
    scene.frame_end = frame_start + frame_numbers[-1]
    scene.camera = result.cameras[first.name]
    result.frame_range = (scene.frame_start, scene.frame_end)
    return result
