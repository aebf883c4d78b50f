"""``skelsplat retarget``: put a take's motion on a character, headless.

    skelsplat retarget TAKE.npz --target CHARACTER.blend|.fbx --map PRESET|MAP.json \\
        --out OUT.blend|.fbx|.glb [--armature NAME] [--root-motion keep|in_place]
        [--scale S] [--no-plant-feet] [--fbx-preset unity|unreal] [--include-mesh]
        [--overwrite]

The target file is opened (``.blend``) or imported into an empty scene (``.fbx``); the
armature is ``--armature`` or the one with the most bones. The motion goes on as a new
action (see ``addon/retarget.py``); the result is saved as a new .blend or exported (the
character file itself is never written).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..core.errors import SkelsplatError
from .progress import StageProgress


def add_parser(sub: argparse._SubParsersAction) -> None:
    from ..core.retarget.bone_map import PRESET_NAMES
    from ..core.retarget.solve import ROOT_MOTIONS

    p = sub.add_parser("retarget", help="retarget a take's motion onto a character",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("motion", type=Path, help="SkelSplat motion NPZ (joints.npz)")
    p.add_argument("--target", type=Path, required=True, help="character .blend or .fbx")
    p.add_argument("--map", default="auto",
                   help=f"bone-map preset ({', '.join(PRESET_NAMES)}) or a .json map")
    p.add_argument("--out", type=Path, required=True, help="output .blend, .fbx or .glb")
    p.add_argument("--armature", default="", help="target armature object (default: the one "
                   "with the most bones)")
    p.add_argument("--root-motion", choices=ROOT_MOTIONS, default="keep")
    p.add_argument("--scale", type=float, default=0.0,
                   help="root-motion scale; 0 uses the leg-length ratio")
    p.add_argument("--no-plant-feet", action="store_true", help="do not hold feet in contact")
    p.add_argument("--fbx-preset", choices=("unity", "unreal"), default="unity")
    p.add_argument("--include-mesh", action="store_true", help="export the character's mesh")
    p.add_argument("--take-name", default="", help="action prefix (default: the file stem)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    p.set_defaults(func=run)


def _load_target(path: Path, name: str):
    import bpy

    if not path.is_file():
        raise SkelsplatError(f"{path}: no such character file")
    suffix = path.suffix.lower()
    if suffix == ".blend":
        bpy.ops.wm.open_mainfile(filepath=str(path), load_ui=False)
    elif suffix == ".fbx":
        from ..addon.export import ensure_exporter

        bpy.ops.wm.read_homefile(use_empty=True)
        ensure_exporter("fbx")
        if "FINISHED" not in bpy.ops.import_scene.fbx(filepath=str(path)):
            raise SkelsplatError(f"{path}: Blender could not import this FBX file")
    else:
        raise SkelsplatError(f"{path}: expected a .blend or .fbx character file")
    arms = [o for o in bpy.context.scene.objects if o.type == "ARMATURE"]
    if name:
        arms = [o for o in arms if o.name == name]
        if not arms:
            raise SkelsplatError(f"{path}: no armature object named {name!r}")
    if not arms:
        raise SkelsplatError(f"{path}: the file has no armature to retarget onto")
    return max(arms, key=lambda o: len(o.data.bones))


def run(args: argparse.Namespace) -> int:
    from ..core.motion import Motion3D
    from ..core.retarget.solve import RetargetOptions

    out = args.out.expanduser().resolve()
    if out.suffix.lower() not in (".blend", ".fbx", ".glb"):
        raise SkelsplatError(f"{out}: --out must end in .blend, .fbx or .glb")
    if out.exists() and not args.overwrite:
        raise SkelsplatError(f"{out} exists; pass --overwrite to replace it")
    if out.resolve() == args.target.expanduser().resolve():
        raise SkelsplatError(f"{out}: --out must differ from the character file")
    motion = Motion3D.load_npz(args.motion)
    import bpy  # noqa: F401 - headless Blender from here on

    from ..addon.blender_stage import save_blend
    from ..addon.export import export_fbx, export_gltf
    from ..addon.retarget import retarget_motion

    target = _load_target(args.target.expanduser(), args.armature)
    opts = RetargetOptions(root_motion=args.root_motion, scale=args.scale,
                           plant_feet=not args.no_plant_feet)
    with StageProgress("retarget") as bar:
        result = retarget_motion(motion, target, bone_map=args.map, options=opts,
                                 take_name=args.take_name or args.motion.stem,
                                 progress=bar.update)
    print(f"retargeted {motion.n_frames} frames onto {target.name!r} with map "
          f"{result.bone_map.name!r} ({len(result.bone_map.bones)} roles, scale "
          f"{result.result.scale:.3f}): action {result.action.name!r}")
    for w in result.warnings:
        print(f"warning: {w}")
    suffix = out.suffix.lower()
    if suffix == ".blend":
        save_blend(out, overwrite=args.overwrite)
    elif suffix == ".fbx":
        export_fbx(out, armature=target, overwrite=args.overwrite, preset=args.fbx_preset,
                   include_mesh=args.include_mesh, fps=motion.fps)
    else:
        export_gltf(out, armature=target, overwrite=args.overwrite,
                    include_mesh=args.include_mesh, fps=motion.fps)
    print(f"wrote {out}")
    return 0
