"""Small synthetic rigs and people for the I/O tests (no data files needed)."""

from __future__ import annotations

import numpy as np

from skelsplat.core.camera import Camera, Rig


def look_at(centre: np.ndarray, target: np.ndarray, up=(0.0, 0.0, 1.0)) -> np.ndarray:
    """World-to-camera rotation [3, 3] of an OpenCV camera at ``centre`` looking at ``target``."""
    z = np.asarray(target, float) - centre
    z /= np.linalg.norm(z)
    x = np.cross(z, up)
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    return np.stack([x, y, z])


def ring_rig(n: int = 4, radius: float = 4.0, height: float = 1.5, distortion: bool = True,
             size=(1280, 720), names=None) -> Rig:
    """``n`` cameras on a circle (z up) looking at (0, 0, 1) metres, mild OpenCV distortion."""
    cams = []
    for i in range(n):
        a = 2 * np.pi * i / n + 0.3
        c = np.array([radius * np.cos(a), radius * np.sin(a), height])
        R = look_at(c, np.array([0.0, 0.0, 1.0]))
        K = np.array([[900.0 + 10 * i, 0, size[0] / 2 + 3 * i],
                      [0, 905.0 + 10 * i, size[1] / 2 - 2 * i], [0, 0, 1]])
        dist = np.array([-0.12 + 0.01 * i, 0.03, 0.001, -0.0005, 0.002]) if distortion \
            else np.zeros(5)
        name = names[i] if names else f"cam{i + 1:02d}"
        cams.append(Camera(name, K, dist, R, -R @ c, size))
    return Rig(cams, "synthetic ring")


def person(J: int, centre=(0.0, 0.0, 0.0), seed: int = 0) -> np.ndarray:
    """[J, 3] joint positions (metres) of a standing person around ``centre``."""
    rng = np.random.default_rng(seed)
    pts = rng.uniform([-0.25, -0.15, 0.1], [0.25, 0.15, 1.75], size=(J, 3))
    return pts + np.asarray(centre, float)
