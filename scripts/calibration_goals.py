"""Print the numbers behind issue 16's goals (the tests assert the same bounds).

    .venv/bin/python scripts/calibration_goals.py [--seeds 0 10 20 30] [--demo KEYPOINTS.npz]

Board rig: 6 synthetic cameras, 5x7 ChArUco (100 mm / 75 mm), blur 0.8 px, noise 2 grey
levels (tests/board_synthetic.py). Refinement: synthetic 6-camera take perturbed by
5 cm / 3 deg, and the demo take's MediaPipe detections (``skelsplat detect`` output NPZ).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


def board(seeds: list[int]) -> None:
    from board_synthetic import board_trajectory, render_views, ring_rig, rotation_error_deg

    from skelsplat.core.calibration.board import BoardSpec
    from skelsplat.core.calibration.board_calibrate import calibrate_board
    from skelsplat.core.calibration.board_detect import detect_board_images

    spec = BoardSpec("charuco", (5, 7), 100.0, 75.0, "DICT_4X4_50")
    for seed in seeds:
        rig = ring_rig(6, seed=seed)
        views = render_views(rig, spec, board_trajectory(rig, spec, seed=seed + 1), seed + 2)
        t = time.perf_counter()
        dets = [detect_board_images(views[c.name], spec, c.name) for c in rig]
        cal = calibrate_board(dets, spec, origin_frame=0)
        dt = time.perf_counter() - t
        f = max(max(abs(cal.rig[c.name].fx / c.fx - 1), abs(cal.rig[c.name].fy / c.fy - 1))
                for c in rig)
        pp = max(np.abs(cal.rig[c.name].K[:2, 2] - c.K[:2, 2]).max() for c in rig)
        cen = max(np.linalg.norm(cal.rig[c.name].center - c.center) for c in rig)
        rot = max(rotation_error_deg(cal.rig[c.name].R, c.R) for c in rig)
        print(f"board seed {seed}: worst camera: focal {100 * f:.3f} %, principal point "
              f"{pp:.2f} px, centre {1000 * cen:.2f} mm, rotation {rot:.3f} deg, RMS "
              f"{max(cal.rms_px.values()):.3f} px (detect + calibrate {dt:.1f} s)")


def refine(demo: Path | None) -> None:
    from io_synthetic import ring_rig
    from test_calibration_refine import perturb, synthetic_take

    from skelsplat.core.calibration.refine import (
        _similarity,
        mean_reprojection_error,
        refine_extrinsics,
    )

    truth = ring_rig(6, radius=3.5)
    res = refine_extrinsics(perturb(truth), synthetic_take(truth))
    s, Q, p = _similarity(res.rig.centers, truth.centers, with_scale=True)
    cen = max(np.linalg.norm(s * Q @ res.rig[c.name].center + p - c.center) for c in truth)
    rot = max(np.degrees(np.arccos(np.clip((np.trace(res.rig[c.name].R @ Q.T @ c.R.T) - 1)
                                           / 2, -1, 1))) for c in truth)
    print(f"refine synthetic (6 cameras, 5 cm / 3 deg): worst centre {1000 * cen:.2f} mm, "
          f"rotation {rot:.3f} deg after the gauge similarity (scale {s:.4f})")
    if demo is None:
        return
    from skelsplat.core.calibration import read_calibration
    from skelsplat.core.footage import demo_take_dir, read_take
    from skelsplat.core.keypoints.multiview import Keypoints2D

    root = demo_take_dir()
    rig = read_take(root / "videos", read_calibration(root / "calibration" / "Calib.qca.txt")).rig
    with np.load(demo) as z:
        kp = Keypoints2D(z["keypoints"], list(z["camera_names"]), str(z["joint_set"]),
                         z["frame_numbers"], float(z["fps"]))
    start = perturb(rig, seed=0)
    t = time.perf_counter()
    out = refine_extrinsics(start, kp)
    dt = time.perf_counter() - t
    q, a, b = (mean_reprojection_error(r, kp) for r in (rig, start, out.rig))
    print(f"refine demo: mean reprojection error Qualisys {q:.2f} px, perturbed {a:.2f} px, "
          f"refined {b:.2f} px ({100 * (b / q - 1):+.1f} % vs Qualisys, {dt:.1f} s)")
    moved = [1000 * np.linalg.norm(out.rig[n].center - rig[n].center) for n in rig.names]
    print("  refined centres vs Qualisys (mm): " + ", ".join(f"{m:.0f}" for m in moved))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seeds", nargs="+", type=int, default=[0])
    ap.add_argument("--demo", type=Path, help="demo keypoints NPZ (skelsplat detect output)")
    args = ap.parse_args()
    board(args.seeds)
    refine(args.demo)


if __name__ == "__main__":
    main()
