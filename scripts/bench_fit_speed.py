"""Quick speed check of the fitter on a synthetic take (4 views x 25 joints by default).

    .venv/bin/python scripts/bench_fit_speed.py --frames 3000 [--threads 2] [--reference 2]

Prints frames/s of fast mode (wall and process CPU time), the accuracy against the
synthetic ground truth and against the robust triangulation it starts from, and, with
``--reference N``, the seconds per frame of reference mode on the first N frames (same
data, same run) and the speed ratio.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from skelsplat.core.fit import FitOptions, fit_take
from skelsplat.core.fit.synthetic import project_motion, random_motion, ring_rig
from skelsplat.core.keypoints.multiview import Keypoints2D


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=3000)
    ap.add_argument("--views", type=int, default=4)
    ap.add_argument("--noise", type=float, default=2.0, help="detection noise sigma (px)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--chunk", type=int, default=None)
    ap.add_argument("--reference", type=int, default=0, metavar="N",
                    help="also time reference mode on N frames")
    ap.add_argument("--reference-renderer", default="auto")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    rig = ring_rig(args.views, distortion=-0.1)
    X = random_motion(args.frames, rng=rng)
    kp = project_motion(rig, X)
    kp[..., :2] += rng.normal(0, args.noise, kp[..., :2].shape)
    kp[..., 2] = np.where(kp[..., 2] > 0, rng.uniform(0.5, 1.0, kp[..., 2].shape), 0.0)
    take = Keypoints2D(kp, rig.names, "body_25", fps=30.0)
    fit_take(take.frames(0, 8), rig)  # warm-up (imports, first-call overheads)
    w0, c0 = time.perf_counter(), time.process_time()
    res = fit_take(take, rig, FitOptions(chunk_frames=args.chunk))
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    F = args.frames

    def mpjpe(Y: np.ndarray) -> float:
        return float(np.nanmean(np.linalg.norm(Y - X[: len(Y)], axis=-1)) * 1000)

    print(f"fast: {F} frames in {wall:.2f} s wall ({F / wall:.1f} frames/s), {cpu:.2f} s CPU "
          f"({args.threads} threads); iterations mean {res.diagnostics['iterations_mean']:.1f}")
    print("  stage timings (s):", {k: round(v, 2) for k, v in res.diagnostics["timings_s"].items()})
    print(f"  MPJPE fit {mpjpe(res.joints3d):.2f} mm, robust triangulation "
          f"{mpjpe(res.initial):.2f} mm")
    if args.reference:
        n = args.reference
        w0 = time.perf_counter()
        ref = fit_take(take.frames(0, n), rig,
                       FitOptions(mode="reference", renderer=args.reference_renderer))
        rw = time.perf_counter() - w0
        d = np.linalg.norm(ref.joints3d - res.joints3d[:n], axis=-1) * 1000
        print(f"reference ({ref.diagnostics['renderer']}): {rw / n:.2f} s/frame; fast is "
              f"{(rw / n) / (wall / F):.0f}x faster; |fast - reference| mean {np.nanmean(d):.2f}"
              f" mm, max {np.nanmax(d):.2f} mm; reference MPJPE {mpjpe(ref.joints3d):.2f} mm")


if __name__ == "__main__":
    main()
