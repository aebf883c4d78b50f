"""Turn a BVH file's axes (numpy/scipy, no ``bpy``): Blender writes BVH in its armature's Z-up
axes; most tools (and Blender's own importer defaults) expect Y up.

A change of axes ``C`` (a rotation) maps every OFFSET ``o -> C o``, every position channel
triple ``p -> C p`` and every joint rotation ``R -> C R C^T`` (BVH joints have no rest
orientation, so all rotations live in the same axes). Rotations are re-expressed in each
joint's own channel order (``Zrotation Xrotation Yrotation`` = ``Rz Rx Ry``) and unwrapped
over frames so no angle jumps by 360 degrees.
"""

from __future__ import annotations

import re

import numpy as np
from scipy.spatial.transform import Rotation

from ..errors import ExportError

#: Blender Z up, -Y forward -> Y up, +Z forward (what BVH importers assume by default).
Z_UP_TO_Y_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])


def _fmt(values) -> str:
    return " ".join(f"{v:.6f}" for v in values)


def rotate_bvh_axes(text: str, C: np.ndarray = Z_UP_TO_Y_UP) -> str:
    """The BVH ``text`` with its axes turned by rotation ``C`` [3, 3]."""
    C = np.asarray(C, dtype=float)
    head, sep, motion = text.partition("MOTION")
    if not sep:
        raise ExportError("not a BVH file: no MOTION section")
    channels: list[list[str]] = []
    out_lines = []
    for line in head.splitlines():
        stripped = line.strip()
        if stripped.startswith("OFFSET"):
            o = C @ np.array([float(v) for v in stripped.split()[1:4]])
            line = line[: len(line) - len(line.lstrip())] + "OFFSET " + _fmt(o)
        elif stripped.startswith("CHANNELS"):
            channels.append(stripped.split()[2:])
        out_lines.append(line)
    lines = motion.strip("\n").splitlines()
    meta = [ln for ln in lines if re.match(r"\s*(Frames|Frame Time)", ln)]
    rows = [ln for ln in lines if ln.strip() and ln not in meta]
    data = np.array([[float(v) for v in ln.split()] for ln in rows]).reshape(len(rows), -1)
    n = sum(len(c) for c in channels)
    if data.shape[1] != n:
        raise ExportError(f"BVH: {data.shape[1]} values per frame for {n} channels")
    col = 0
    for chans in channels:
        pos = [k for k, c in enumerate(chans) if c.endswith("position")]
        rot = [k for k, c in enumerate(chans) if c.endswith("rotation")]
        if len(pos) == 3:
            idx = [col + k for k in pos]
            order = [chans[k][0].upper() for k in pos]
            p = np.zeros((len(data), 3))
            for j, a in enumerate(order):
                p[:, "XYZ".index(a)] = data[:, idx[j]]
            p = p @ C.T
            for j, a in enumerate(order):
                data[:, idx[j]] = p[:, "XYZ".index(a)]
        if len(rot) == 3:
            idx = [col + k for k in rot]
            seq = "".join(chans[k][0].upper() for k in rot)  # intrinsic: R = Ra Rb Rc
            R = Rotation.from_euler(seq, data[:, idx], degrees=True).as_matrix()
            R = C @ R @ C.T
            angles = Rotation.from_matrix(R).as_euler(seq)
            data[:, idx] = np.degrees(np.unwrap(angles, axis=0))
        col += len(chans)
    body = "\n".join(_fmt(r) for r in data)
    return "\n".join(out_lines) + "\nMOTION\n" + "\n".join(meta) + "\n" + body + "\n"
