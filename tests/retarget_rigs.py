"""Target characters for the retarget tests, built in code from their public bone lists.

Every builder places a human figure (metres, Z up, facing -Y, left on +X) whose proportions
are the actor's scaled per body part, so the retarget has real differences to absorb, then
names its bones like the original rig (Mixamo, UE5 Mannequin, a studio's custom names).
Rolls are scrambled (deterministically) so a retarget that ignored bone roll would fail.
"""

from __future__ import annotations

import numpy as np

from skelsplat.core.skeletons import CANONICAL_JOINTS

#: Actor-relative proportions: (overall, legs, arms, trunk).
PROPORTIONS = {"mixamo": (0.95, 1.12, 0.9, 1.0), "ue5": (1.05, 0.92, 1.1, 1.08),
               "custom": (0.8, 1.05, 1.0, 0.9), "own": (1.0, 1.0, 1.0, 1.0)}


def actor_lengths(joints: np.ndarray) -> dict[str, float]:
    """Median segment lengths of the actor (canonical joints [F, J, 3])."""
    idx = {n: i for i, n in enumerate(CANONICAL_JOINTS)}

    def L(a: str, b: str) -> float:
        return float(np.median(np.linalg.norm(joints[:, idx[a]] - joints[:, idx[b]], axis=-1)))

    return {"hip_w": L("left_hip", "right_hip") / 2, "thigh": L("left_hip", "left_knee"),
            "shin": L("left_knee", "left_ankle"), "trunk": L("pelvis", "neck"),
            "sh_w": L("left_shoulder", "right_shoulder") / 2,
            "upper": L("left_shoulder", "left_elbow"), "fore": L("left_elbow", "left_wrist"),
            "neck": L("neck", "head"), "head": L("head", "head_top"), "ankle_h": 0.08}


def figure(lengths: dict[str, float], kind: str, a_pose: bool = False) -> dict[str, np.ndarray]:
    """Joint positions of a standing figure: name -> [3] (canonical-like names plus extras)."""
    s, legs, arms, trunk = PROPORTIONS[kind]
    L = {k: v * s for k, v in lengths.items()}
    for k in ("thigh", "shin", "ankle_h"):
        L[k] *= legs
    for k in ("upper", "fore"):
        L[k] *= arms
    L["trunk"] *= trunk
    ankle_h = max(L["ankle_h"], 0.06)
    pelvis_h = ankle_h + L["thigh"] + L["shin"]
    p: dict[str, np.ndarray] = {"pelvis": np.array([0.0, 0.0, pelvis_h])}
    p["neck"] = p["pelvis"] + [0, 0.02, L["trunk"]]
    p["head"] = p["neck"] + [0, -0.01, L["neck"]]
    p["head_top"] = p["head"] + [0, 0, L["head"]]
    arm_dir = np.array([np.cos(np.radians(45)), 0, -np.sin(np.radians(45))]) if a_pose \
        else np.array([1.0, 0, 0])
    for side, sx in (("left", 1.0), ("right", -1.0)):
        m = np.array([sx, 1.0, 1.0])
        p[f"{side}_hip"] = p["pelvis"] + [sx * L["hip_w"], 0, -0.03]
        p[f"{side}_knee"] = p[f"{side}_hip"] + [0, -0.01, -L["thigh"]]
        p[f"{side}_ankle"] = p[f"{side}_knee"] + [0, 0.01, -L["shin"]]
        p[f"{side}_ball"] = p[f"{side}_ankle"] + [0, -0.13 * s, 0.02 - ankle_h]
        p[f"{side}_toe"] = p[f"{side}_ball"] + [0, -0.06 * s, -0.02]
        p[f"{side}_clav"] = p["neck"] + [sx * 0.03, 0.0, -0.05]
        p[f"{side}_shoulder"] = p["neck"] + [sx * L["sh_w"], 0.0, -0.04]
        p[f"{side}_elbow"] = p[f"{side}_shoulder"] + L["upper"] * arm_dir * m
        p[f"{side}_wrist"] = p[f"{side}_elbow"] + L["fore"] * arm_dir * m
        p[f"{side}_hand_end"] = p[f"{side}_wrist"] + 0.08 * s * arm_dir * m
        p[f"{side}_finger"] = p[f"{side}_wrist"] + 0.1 * s * arm_dir * m + [0, -0.01, 0]
    return p


def _spine(p: dict[str, np.ndarray], n: int) -> list[np.ndarray]:
    """n + 1 points from the pelvis to the neck, slightly curved like a real spine."""
    t = np.linspace(0, 1, n + 1)
    pts = p["pelvis"] + t[:, None] * (p["neck"] - p["pelvis"])
    pts[:, 1] += 0.03 * np.sin(np.pi * t)
    return list(pts)


def mixamo_bones(p: dict[str, np.ndarray]) -> list[tuple[str, str | None, np.ndarray,
                                                         np.ndarray]]:
    """(name, parent, head, tail) of a Mixamo character (``mixamorig:`` names)."""
    x = "mixamorig:"
    sp = _spine(p, 4)
    bones = [(x + "Hips", None, sp[0], sp[1]), (x + "Spine", x + "Hips", sp[1], sp[2]),
             (x + "Spine1", x + "Spine", sp[2], sp[3]), (x + "Spine2", x + "Spine1", sp[3], sp[4]),
             (x + "Neck", x + "Spine2", p["neck"], p["head"]),
             (x + "Head", x + "Neck", p["head"], p["head_top"]),
             (x + "HeadTop_End", x + "Head", p["head_top"], p["head_top"] + [0, 0, 0.05])]
    for side, S in (("left", "Left"), ("right", "Right")):
        q = {k[len(side) + 1:]: v for k, v in p.items() if k.startswith(side + "_")}
        bones += [
            (x + S + "Shoulder", x + "Spine2", q["clav"], q["shoulder"]),
            (x + S + "Arm", x + S + "Shoulder", q["shoulder"], q["elbow"]),
            (x + S + "ForeArm", x + S + "Arm", q["elbow"], q["wrist"]),
            (x + S + "Hand", x + S + "ForeArm", q["wrist"], q["hand_end"]),
            (x + S + "UpLeg", x + "Hips", q["hip"], q["knee"]),
            (x + S + "Leg", x + S + "UpLeg", q["knee"], q["ankle"]),
            (x + S + "Foot", x + S + "Leg", q["ankle"], q["ball"]),
            (x + S + "ToeBase", x + S + "Foot", q["ball"], q["toe"]),
            (x + S + "Toe_End", x + S + "ToeBase", q["toe"], q["toe"] + [0, -0.03, 0])]
        for finger in ("Thumb", "Index", "Middle", "Ring", "Pinky"):
            parent = x + S + "Hand"
            for k in range(1, 5):
                name = f"{x}{S}Hand{finger}{k}"
                head = q["finger"] + [0, 0.01 * "TIMRP".index(finger[0]) - 0.02, 0] + \
                    (q["finger"] - q["wrist"]) * 0.3 * (k - 1)
                bones.append((name, parent, head, head + (q["finger"] - q["wrist"]) * 0.3))
                parent = name
    return bones


def ue5_bones(p: dict[str, np.ndarray]) -> list[tuple[str, str | None, np.ndarray, np.ndarray]]:
    """(name, parent, head, tail) of a UE5 Mannequin-named armature (with twist and IK bones)."""
    sp = _spine(p, 6)
    origin = np.zeros(3)
    bones = [("root", None, origin, np.array([0, -0.2, 0], float)),
             ("pelvis", "root", sp[0], sp[1]), ("spine_01", "pelvis", sp[1], sp[2]),
             ("spine_02", "spine_01", sp[2], sp[3]), ("spine_03", "spine_02", sp[3], sp[4]),
             ("spine_04", "spine_03", sp[4], sp[5]), ("spine_05", "spine_04", sp[5], sp[6]),
             ("neck_01", "spine_05", p["neck"], 0.5 * (p["neck"] + p["head"])),
             ("neck_02", "neck_01", 0.5 * (p["neck"] + p["head"]), p["head"]),
             ("head", "neck_02", p["head"], p["head_top"]),
             ("ik_foot_root", "root", origin, np.array([0, 0, 0.1], float)),
             ("ik_hand_root", "root", origin, np.array([0, 0, 0.1], float)),
             ("ik_hand_gun", "ik_hand_root", p["right_wrist"], p["right_wrist"] + [0, 0, 0.1]),
             ("interaction", "root", origin, np.array([0, 0.1, 0], float)),
             ("center_of_mass", "root", p["pelvis"], p["pelvis"] + [0, 0, 0.1])]
    for side, s in (("left", "l"), ("right", "r")):
        q = {k[len(side) + 1:]: v for k, v in p.items() if k.startswith(side + "_")}
        mid_u, mid_f = 0.5 * (q["shoulder"] + q["elbow"]), 0.5 * (q["elbow"] + q["wrist"])
        bones += [
            (f"clavicle_{s}", "spine_05", q["clav"], q["shoulder"]),
            (f"upperarm_{s}", f"clavicle_{s}", q["shoulder"], q["elbow"]),
            (f"upperarm_twist_01_{s}", f"upperarm_{s}", q["shoulder"], mid_u),
            (f"upperarm_twist_02_{s}", f"upperarm_{s}", mid_u, q["elbow"]),
            (f"lowerarm_{s}", f"upperarm_{s}", q["elbow"], q["wrist"]),
            (f"lowerarm_twist_01_{s}", f"lowerarm_{s}", mid_f, q["wrist"]),
            (f"hand_{s}", f"lowerarm_{s}", q["wrist"], q["hand_end"]),
            (f"thigh_{s}", "pelvis", q["hip"], q["knee"]),
            (f"thigh_twist_01_{s}", f"thigh_{s}", q["hip"], 0.5 * (q["hip"] + q["knee"])),
            (f"calf_{s}", f"thigh_{s}", q["knee"], q["ankle"]),
            (f"calf_twist_01_{s}", f"calf_{s}", 0.5 * (q["knee"] + q["ankle"]), q["ankle"]),
            (f"foot_{s}", f"calf_{s}", q["ankle"], q["ball"]),
            (f"ball_{s}", f"foot_{s}", q["ball"], q["toe"]),
            (f"ik_foot_{s}", "ik_foot_root", q["ankle"], q["ball"]),
            (f"ik_hand_{s}", "ik_hand_gun", q["wrist"], q["hand_end"])]
        for finger in ("thumb", "index", "middle", "ring", "pinky"):
            parent = f"hand_{s}"
            if finger != "thumb":
                name = f"{finger}_metacarpal_{s}"
                bones.append((name, parent, q["wrist"], q["finger"]))
                parent = name
            for k in (1, 2, 3):
                name = f"{finger}_0{k}_{s}"
                head = q["finger"] + (q["finger"] - q["wrist"]) * 0.3 * (k - 1)
                bones.append((name, parent, head, head + (q["finger"] - q["wrist"]) * 0.3))
                parent = name
    return bones


def custom_bones(p: dict[str, np.ndarray]) -> list[tuple[str, str | None, np.ndarray,
                                                         np.ndarray]]:
    """A studio rig with unfamiliar names (needs the user's map)."""
    sp = _spine(p, 2)
    bones = [("Körper", None, sp[0], sp[1]), ("Rumpf_A", "Körper", sp[1], sp[2]),
             ("Hals", "Rumpf_A", p["neck"], p["head"]), ("Kopf", "Hals", p["head"],
                                                         p["head_top"])]
    for side, s in (("left", "Li"), ("right", "Re")):
        q = {k[len(side) + 1:]: v for k, v in p.items() if k.startswith(side + "_")}
        bones += [(f"Schluesselbein{s}", "Rumpf_A", q["clav"], q["shoulder"]),
                  (f"Oberarm{s}", f"Schluesselbein{s}", q["shoulder"], q["elbow"]),
                  (f"Unterarm{s}", f"Oberarm{s}", q["elbow"], q["wrist"]),
                  (f"Hand{s}", f"Unterarm{s}", q["wrist"], q["hand_end"]),
                  (f"Oberschenkel{s}", "Körper", q["hip"], q["knee"]),
                  (f"Unterschenkel{s}", f"Oberschenkel{s}", q["knee"], q["ankle"]),
                  (f"Fuss{s}", f"Unterschenkel{s}", q["ankle"], q["ball"]),
                  (f"Zeh{s}", f"Fuss{s}", q["ball"], q["toe"])]
    return bones


CUSTOM_MAP = {"hips": "Körper", "spine": "Rumpf_A", "neck": "Hals", "head": "Kopf",
              **{f"{r}.{S}": f"{b}{s}" for S, s in (("L", "Li"), ("R", "Re")) for r, b in (
                  ("shoulder", "Schluesselbein"), ("upper_arm", "Oberarm"),
                  ("forearm", "Unterarm"), ("hand", "Hand"), ("thigh", "Oberschenkel"),
                  ("shin", "Unterschenkel"), ("foot", "Fuss"), ("toe", "Zeh"))}}


def own_bones(p: dict[str, np.ndarray]) -> list[tuple[str, str | None, np.ndarray, np.ndarray]]:
    """Our own skeleton's naming (bones on the joints, spine and clavicle helpers)."""
    bones = [("pelvis", None, p["pelvis"], p["pelvis"] + [0, 0, 0.1]),
             ("spine", "pelvis", p["pelvis"], p["neck"]),
             ("neck", "spine", p["neck"], p["head"]), ("head", "neck", p["head"], p["head_top"])]
    for side in ("left", "right"):
        q = {k[len(side) + 1:]: v for k, v in p.items() if k.startswith(side + "_")}
        bones += [(f"{side}_clavicle", "spine", p["neck"], q["shoulder"]),
                  (f"{side}_shoulder", f"{side}_clavicle", q["shoulder"], q["elbow"]),
                  (f"{side}_elbow", f"{side}_shoulder", q["elbow"], q["wrist"]),
                  (f"{side}_wrist", f"{side}_elbow", q["wrist"], q["hand_end"]),
                  (f"{side}_hip", "pelvis", q["hip"], q["knee"]),
                  (f"{side}_knee", f"{side}_hip", q["knee"], q["ankle"]),
                  (f"{side}_ankle", f"{side}_knee", q["ankle"], q["toe"])]
    return bones


def own_figure(joints: np.ndarray, ankle_h: float) -> dict[str, np.ndarray]:
    """A T-pose with the actor's own median segment lengths (exact), ankles ``ankle_h``
    above the floor."""
    idx = {n: i for i, n in enumerate(CANONICAL_JOINTS)}

    def med(a: str, b: str) -> float:
        return float(np.median(np.linalg.norm(joints[:, idx[a]] - joints[:, idx[b]], axis=-1)))

    z, x = np.array([0.0, 0, 1]), np.array([1.0, 0, 0])
    p = {"pelvis": np.array([0, 0, ankle_h + med("left_hip", "left_knee")
                             + med("left_knee", "left_ankle")])}
    p["neck"] = p["pelvis"] + med("pelvis", "neck") * z
    p["head"] = p["neck"] + med("neck", "head") * z
    p["head_top"] = p["head"] + med("head", "head_top") * z
    for side, sx in (("left", 1.0), ("right", -1.0)):
        p[f"{side}_hip"] = p["pelvis"] + sx * med("pelvis", f"{side}_hip") * x
        p[f"{side}_knee"] = p[f"{side}_hip"] - med(f"{side}_hip", f"{side}_knee") * z
        p[f"{side}_ankle"] = p[f"{side}_knee"] - med(f"{side}_knee", f"{side}_ankle") * z
        p[f"{side}_ball"] = p[f"{side}_ankle"] + [0, -0.13, 0.02 - ankle_h]
        p[f"{side}_toe"] = p[f"{side}_ball"] + [0, -0.06, -0.02]
        p[f"{side}_shoulder"] = p["neck"] + sx * med("neck", f"{side}_shoulder") * x
        p[f"{side}_elbow"] = p[f"{side}_shoulder"] + sx * med(f"{side}_shoulder",
                                                              f"{side}_elbow") * x
        p[f"{side}_wrist"] = p[f"{side}_elbow"] + sx * med(f"{side}_elbow", f"{side}_wrist") * x
        p[f"{side}_hand_end"] = p[f"{side}_wrist"] + sx * 0.08 * x
    return p


def build_armature(name: str, bones, *, world=None, seed: int = 0):
    """Create an armature object from (name, parent, head, tail) in WORLD coordinates; the
    object gets ``world`` (4x4) and the bone data are expressed in its local frame. Rolls are
    scrambled."""
    import bpy
    from mathutils import Matrix

    world = np.eye(4) if world is None else np.asarray(world, dtype=float)
    inv = np.linalg.inv(world)
    data = bpy.data.armatures.new(name)
    obj = bpy.data.objects.new(name, data)
    bpy.context.scene.collection.objects.link(obj)
    obj.matrix_world = Matrix(world.tolist())
    view_layer = bpy.context.view_layer
    view_layer.objects.active = obj
    obj.select_set(True)
    bpy.ops.object.mode_set(mode="EDIT")
    rng = np.random.default_rng(seed)
    made = {}
    for bname, parent, head, tail in bones:
        eb = data.edit_bones.new(bname)
        eb.head = (inv[:3, :3] @ np.asarray(head, float) + inv[:3, 3]).tolist()
        eb.tail = (inv[:3, :3] @ np.asarray(tail, float) + inv[:3, 3]).tolist()
        eb.roll = float(rng.uniform(-np.pi, np.pi))
        if parent is not None:
            eb.parent = made[parent]
        made[bname] = eb
    bpy.ops.object.mode_set(mode="OBJECT")
    obj.select_set(False)
    return obj
