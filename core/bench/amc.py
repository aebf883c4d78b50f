"""Acclaim ASF/AMC motion capture files (CMU mocap) and their forward kinematics.

ASF holds the skeleton: per bone a unit ``direction`` and ``length`` in the rest pose
(world axes), a local frame ``axis`` (Euler angles + order) and the rotational ``dof``.
AMC holds, per frame, the root translation/rotation and each bone's dof values (degrees).

Forward kinematics, for a bone b with parent p (column vectors):
``C_b`` = rotation of the bone's local frame (from ``axis``), ``M_b`` = its dof rotation
composed in the dof order (first listed is applied first), then
``G_b = G_p @ C_b @ M_b @ C_b^T`` and ``end_b = end_p + G_b @ (length_b * direction_b)``.
The root uses the ``:root`` ``axis``/``order`` and starts at its AMC translation.

Units: lengths and root translations are multiplied by ``scale`` (CMU: 0.056444 m per
unit, ``(1 / 0.45) * 2.54 / 100``). CMU skeletons are Y up, subject's left = +X and
forward = +Z in the rest pose.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import SkelsplatError

#: Metres per CMU length unit (mocap.cs.cmu.edu FAQ).
CMU_SCALE = (1.0 / 0.45) * 2.54 / 100.0
#: CMU capture rate (frames per second).
CMU_FPS = 120.0


@dataclass
class AsfBone:
    """One ASF bone: rest ``direction`` [3] (unit), ``length`` (ASF units), local ``axis``
    rotation ``C`` [3, 3], ``dof`` names (``rx`` ``ry`` ``rz`` ``tx`` ...) and its parent."""

    name: str
    direction: np.ndarray
    length: float
    C: np.ndarray
    dof: tuple[str, ...] = ()
    parent: str | None = None


@dataclass
class AsfSkeleton:
    """Skeleton of an ASF file: bones in a parents-first order (``root`` first)."""

    bones: dict[str, AsfBone]
    root_order: tuple[str, ...]
    root_C: np.ndarray
    length_unit: float = 1.0
    order: list[str] = field(default_factory=list)
    source: str = ""


def euler_matrix(angles_deg: np.ndarray, order: str) -> np.ndarray:
    """Rotation [..., 3, 3] from Euler angles [..., k] (degrees) about the axes of ``order``
    (e.g. ``"XYZ"`` or ``"XZ"``), the first axis applied first (``R = R_last ... R_first``)."""
    angles = np.deg2rad(np.asarray(angles_deg, dtype=float))
    out = np.broadcast_to(np.eye(3), (*angles.shape[:-1], 3, 3)).copy()
    for k, ax in enumerate(order.upper()):
        c, s = np.cos(angles[..., k]), np.sin(angles[..., k])
        r = np.zeros((*angles.shape[:-1], 3, 3))
        i = "XYZ".index(ax)
        j, m = (i + 1) % 3, (i + 2) % 3
        r[..., i, i] = 1.0
        r[..., j, j] = c
        r[..., m, m] = c
        r[..., j, m] = -s
        r[..., m, j] = s
        out = r @ out
    return out


def _open_text(path: Path) -> str:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rt") as fh:
                return fh.read()
        return path.read_text()
    except OSError as exc:
        raise SkelsplatError(f"{path}: cannot read ({exc})") from None


def read_asf(path: str | Path) -> AsfSkeleton:
    """Parse an ASF skeleton file (plain or ``.gz``)."""
    path = Path(path)
    section = ""
    bones: dict[str, AsfBone] = {}
    root_order: tuple[str, ...] = ("TX", "TY", "TZ", "RX", "RY", "RZ")
    root_axis = "XYZ"
    length_unit = 1.0
    cur: dict | None = None
    children: dict[str, list[str]] = {}
    for raw in _open_text(path).splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith(":"):
            parts = line[1:].split()
            section = parts[0].lower()
            continue
        tok = line.split()
        key = tok[0].lower()
        if section == "units" and key == "length":
            length_unit = float(tok[1])
        elif section == "root":
            if key == "order":
                root_order = tuple(t.upper() for t in tok[1:])
            elif key == "axis":
                root_axis = tok[1].upper()
        elif section == "bonedata":
            if key == "begin":
                cur = {"dof": ()}
            elif key == "end" and cur is not None:
                d = np.array(cur["direction"], dtype=float)
                norm = np.linalg.norm(d)
                if norm < 1e-12:
                    raise SkelsplatError(f"{path}: bone {cur['name']} has a zero direction")
                ang, order = cur["axis"]
                bones[cur["name"]] = AsfBone(cur["name"], d / norm, float(cur["length"]),
                                             euler_matrix(ang, order), tuple(cur["dof"]))
                cur = None
            elif cur is not None:
                if key == "name":
                    cur["name"] = tok[1]
                elif key == "direction":
                    cur["direction"] = [float(v) for v in tok[1:4]]
                elif key == "length":
                    cur["length"] = float(tok[1])
                elif key == "axis":
                    cur["axis"] = ([float(v) for v in tok[1:4]], tok[4] if len(tok) > 4 else "XYZ")
                elif key == "dof":
                    cur["dof"] = tuple(t.lower() for t in tok[1:])
        elif section == "hierarchy" and key not in ("begin", "end"):
            children.setdefault(tok[0], []).extend(tok[1:])
    if not bones:
        raise SkelsplatError(f"{path}: no :bonedata bones found (is this an ASF file?)")
    order: list[str] = []
    stack = ["root"]
    while stack:
        name = stack.pop(0)
        for child in children.get(name, []):
            if child not in bones:
                raise SkelsplatError(f"{path}: hierarchy names unknown bone {child!r}")
            bones[child].parent = name
            order.append(child)
            stack.append(child)
    return AsfSkeleton(bones, root_order, euler_matrix(np.zeros(3), root_axis),
                       length_unit, order, str(path))


@dataclass
class AmcMotion:
    """Per-frame dof values of an AMC file: ``values[name]`` is [F, k] (degrees / units)."""

    values: dict[str, np.ndarray]
    n_frames: int
    source: str = ""


def read_amc(path: str | Path, skeleton: AsfSkeleton) -> AmcMotion:
    """Parse an AMC motion file (plain or ``.gz``) for ``skeleton``."""
    path = Path(path)
    rows: dict[str, list[list[float]]] = {}
    n = 0
    for raw in _open_text(path).splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ":")):
            continue
        tok = line.split()
        if len(tok) == 1 and tok[0].isdigit():
            n += 1
            continue
        if n == 0:
            raise SkelsplatError(f"{path}: dof values before the first frame number")
        rows.setdefault(tok[0], []).append([float(v) for v in tok[1:]])
    values: dict[str, np.ndarray] = {}
    for name, vals in rows.items():
        arr = np.array(vals, dtype=float)
        if arr.shape[0] != n:
            raise SkelsplatError(f"{path}: bone {name} has {arr.shape[0]} rows for {n} frames")
        values[name] = arr
    if "root" not in values:
        raise SkelsplatError(f"{path}: no root motion")
    return AmcMotion(values, n, str(path))


def forward_kinematics(skeleton: AsfSkeleton, motion: AmcMotion,
                       scale: float = CMU_SCALE) -> dict[str, np.ndarray]:
    """Global positions of every bone's end point (``root``: the root position).

    Returns:
        name -> [F, 3] positions in metres (``scale`` per ASF unit), ASF world axes.
    """
    F = motion.n_frames
    root = motion.values["root"]
    trans = np.zeros((F, 3))
    rot_cols: list[int] = []
    rot_axes = ""
    for k, ch in enumerate(skeleton.root_order):
        if ch.startswith("T"):
            trans[:, "XYZ".index(ch[1])] = root[:, k]
        else:
            rot_cols.append(k)
            rot_axes += ch[1]
    C0 = skeleton.root_C
    G = {"root": C0 @ euler_matrix(root[:, rot_cols], rot_axes) @ C0.T}
    pos = {"root": trans * scale}
    for name in skeleton.order:
        bone = skeleton.bones[name]
        rot_dofs = [d for d in bone.dof if d.startswith("r")]
        if rot_dofs and name in motion.values:
            vals = motion.values[name]
            idx = [bone.dof.index(d) for d in rot_dofs]
            M = euler_matrix(vals[:, idx], "".join(d[1] for d in rot_dofs).upper())
        else:
            M = np.broadcast_to(np.eye(3), (F, 3, 3))
        G[name] = G[bone.parent] @ (bone.C @ M @ bone.C.T)
        offset = bone.direction * bone.length * scale
        pos[name] = pos[bone.parent] + G[name] @ offset
    return pos


def bone_lengths_m(skeleton: AsfSkeleton, scale: float = CMU_SCALE) -> dict[str, float]:
    """ASF bone lengths in metres."""
    return {n: b.length * scale for n, b in skeleton.bones.items()}


def resample(positions: np.ndarray, src_fps: float, dst_fps: float) -> np.ndarray:
    """Linear resampling of [F, ...] samples from ``src_fps`` to ``dst_fps`` over the same span."""
    positions = np.asarray(positions, dtype=float)
    F = positions.shape[0]
    t_src = np.arange(F) / src_fps
    n_dst = int(np.floor(t_src[-1] * dst_fps + 1e-9)) + 1
    t_dst = np.arange(n_dst) / dst_fps
    i = np.clip(np.searchsorted(t_src, t_dst, side="right") - 1, 0, F - 2)
    w = ((t_dst - t_src[i]) * src_fps).reshape((-1,) + (1,) * (positions.ndim - 1))
    return positions[i] * (1 - w) + positions[i + 1] * w
