"""Run the benchmark sections and collect JSON-serialisable results.

Sections: ``accuracy`` (every method on every synthetic scenario, plus the occlusion
sweep and per-joint errors), ``shelf`` (real detections, oracle association, 4D
Association side by side) and ``speed`` (fresh processes: frames/s and peak memory vs
take length; fast vs reference on the same frames).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..skeletons import get_joint_set
from . import metrics as M
from .methods import Method, all_methods, fitter_available
from .scenarios import Case, Scenario, accuracy_scenarios, case_digest, make_case, occlusion_sweep

Progress = Callable[[str], None]


def score_case(case: Case, X: np.ndarray) -> dict[str, float]:
    """Every synthetic-case metric of prediction ``X`` [F, J, 3]."""
    gt = case.gt
    bones = get_joint_set(case.scenario.joint_set).bone_indices
    return {
        "mpjpe_mm": M.mpjpe(X, gt),
        "median_mm": M.median_error(X, gt),
        "pa_mpjpe_mm": M.pa_mpjpe(X, gt),
        "pck50": M.pck(X, gt, 50.0),
        "pck100": M.pck(X, gt, 100.0),
        "accel_err_m_s2": M.acceleration_error(X, gt, case.scenario.fps),
        "bone_std_mm": M.bone_length_std(X, bones),
        "coverage": M.coverage(X, gt),
        "reproj_px": M.reprojection_error_px(X, case.rig, case.keypoints.data),
    }


def _run_methods(case: Case, methods: dict[str, Method]) -> tuple[dict, dict]:
    scores, preds = {}, {}
    for name, method in methods.items():
        t0 = time.perf_counter()
        try:
            X = method(case.keypoints, case.rig)
        except Exception as exc:  # a failing method is reported, the run goes on
            X = np.full_like(case.gt, np.nan)
            errors = scores.setdefault("_errors", {})
            errors[name] = f"{type(exc).__name__}: {exc}"[:200]
        dt = time.perf_counter() - t0
        s = score_case(case, X)
        s["seconds"] = dt
        scores[name] = s
        preds[name] = X
    return scores, preds


def run_accuracy(data_dir: Path, frames: int, sweep_frames: int, methods: dict[str, Method],
                 progress: Progress = print) -> dict:
    """Accuracy table, occlusion sweep and per-joint errors."""
    out: dict = {"scenarios": [], "sweep": [], "per_joint": {}}
    scen = accuracy_scenarios(frames)
    for s in scen:
        case = make_case(s, data_dir)
        scores, preds = _run_methods(case, methods)
        progress(f"accuracy: {s.name}")
        # Common-mask MPJPE: entries every method answered (fair when coverage differs).
        common = np.ones(case.gt.shape[:2], dtype=bool)
        for X in preds.values():
            common &= np.isfinite(X).all(-1)
        for name, X in preds.items():
            scores[name]["mpjpe_common_mm"] = M.mpjpe(X, case.gt, common)
        errors = scores.pop("_errors", {})
        out["scenarios"].append({
            "name": s.name, "rig": s.rig, "clip": case.clip, "frames": s.frames,
            "seed": s.seed, "digest": case_digest(case)[:16],
            "detected": float((case.keypoints.data[..., 2] > 0).mean()),
            "corruption": s.corruption.__dict__, "scores": scores, "errors": errors})
        if s.name in ("noisy", "heavy (30% occ, 15% out, 5% swap)"):
            out["per_joint"][s.name] = {
                name: np.nanmean(M.joint_errors(X, case.gt), 0).tolist()
                for name, X in preds.items()}
            out["per_joint"]["joints"] = list(get_joint_set(s.joint_set).joints)
    for s in occlusion_sweep(sweep_frames):
        case = make_case(s, data_dir)
        scores, _ = _run_methods(case, methods)
        scores.pop("_errors", None)
        progress(f"sweep: {s.name}")
        out["sweep"].append({"name": s.name, "occlusion": s.corruption.occlusion,
                             "scores": scores})
    return out


def run_shelf(data_dir: Path, methods: dict[str, Method], progress: Progress = print) -> dict:
    """Per actor PCP / MPJPE of every method (oracle association) and of 4D Association."""
    from .shelf_eval import evaluate_method, load_shelf, score_4dassoc

    data = load_shelf(data_dir)
    out = {"4D Association (skel.txt, no oracle)": score_4dassoc(data)}
    for name, method in methods.items():
        if getattr(method, "needs_frame_rate", False):
            continue  # temporal smoothing needs a frame rate; the Shelf files carry none
        t0 = time.perf_counter()
        out[name] = evaluate_method(data, method)
        progress(f"shelf: {name}")
        for a in out[name].values():
            a["seconds"] = (time.perf_counter() - t0) / len(out[name])
    return {name: {str(k): v for k, v in r.items()} for name, r in out.items()}


def _probe(data_dir: Path, method: str, frames: int, first: int | None = None,
           device: str = "auto", save: Path | None = None, timeout: float = 600,
           options: dict | None = None) -> dict:
    cmd = [sys.executable, "-m", "skelsplat.core.bench.speed_probe", "--method", method,
           "--frames", str(frames), "--data", str(data_dir), "--device", device]
    if first:
        cmd += ["--first", str(first)]
    if save:
        cmd += ["--save", str(save)]
    if options:
        cmd += ["--options", json.dumps(options)]
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        n = first or frames
        return {"method": method, "frames": n, "timeout_s": timeout,
                "error": f"did not finish in {timeout:.0f} s (< {n / timeout:.3g} frames/s)"}
    if res.returncode != 0:
        tail = (res.stderr or res.stdout).strip().splitlines()[-1:] or ["?"]
        return {"method": method, "frames": first or frames, "error": tail[0][:200]}
    return json.loads(res.stdout.strip().splitlines()[-1])


def run_speed(data_dir: Path, lengths: tuple[int, ...], device: str, tmp: Path,
              reference_renders: tuple[int, int] = (8, 24), reference_accuracy: int = 0,
              fitter_timeout: float = 600, include_fitter: bool = True,
              progress: Progress = print) -> dict:
    """Frames/s and peak memory per method and take length; fast vs reference.

    Reference mode has a fixed cost per render (no early stopping), so its frame rate is
    measured on one frame with ``reference_renders`` = (a, b) renders and extrapolated to
    the authors' 500: ``t(500) = t(a) + (500 - a) (t(b) - t(a)) / (b - a)``. With
    ``reference_accuracy`` = N > 0, N frames are also fitted with the full 500 renders to
    compare fast and reference results (very slow on a CPU).
    """
    out: dict = {"lengths": list(lengths), "rows": [], "reference": None}
    fit_ok = include_fitter and fitter_available() is None
    methods = ["dlt", "subset_search", "robust_lsq"] + (["skelsplat_fast"] if fit_ok else [])
    slow = False
    for n in lengths:
        for m in methods:
            if m == "skelsplat_fast" and slow:
                out["rows"].append({"method": m, "frames": n,
                                    "error": "skipped: a shorter take already timed out"})
            else:
                row = _probe(data_dir, m, n, device=device,
                             timeout=fitter_timeout if m.startswith("skelsplat") else 600)
                slow |= m == "skelsplat_fast" and "timeout_s" in row
                out["rows"].append(row)
            progress(f"speed: {m} x {n} frames")
    if not fit_ok:
        return out
    n = max(lengths)
    entry: dict = {"renders": list(reference_renders)}
    runs = []
    for r in reference_renders:
        runs.append(_probe(data_dir, "skelsplat_reference", n, first=1, device=device,
                           timeout=fitter_timeout, options={"renders_per_frame": r}))
        progress(f"speed: reference mode, {r} renders")
    entry["runs"] = runs
    if all("error" not in r for r in runs):
        (a, b), (ta, tb) = reference_renders, (runs[0]["seconds"], runs[1]["seconds"])
        per_render = max(tb - ta, 0.0) / (b - a)
        t500 = ta + (500 - a) * per_render
        entry.update(seconds_per_render=per_render, seconds_per_frame_500=t500,
                     frames_per_s=1.0 / t500)
    if reference_accuracy > 0:
        ref = _probe(data_dir, "skelsplat_reference", n, first=reference_accuracy,
                     device=device, save=tmp / "ref.npy", timeout=3 * fitter_timeout)
        fast = _probe(data_dir, "skelsplat_fast", n, first=reference_accuracy, device=device,
                      save=tmp / "fast.npy", timeout=fitter_timeout)
        entry.update(full_reference=ref, fast_same_frames=fast)
        if "error" not in ref and "error" not in fast:
            from .speed_probe import probe_case

            gt = probe_case(n, 4, 0, data_dir).gt[:reference_accuracy]
            Xr, Xf = np.load(tmp / "ref.npy"), np.load(tmp / "fast.npy")
            entry["fast_vs_reference_mm"] = M.mpjpe(Xf, Xr)
            entry["reference_mpjpe_mm"] = M.mpjpe(Xr, gt)
            entry["fast_mpjpe_mm"] = M.mpjpe(Xf, gt)
        progress("speed: full reference accuracy")
    out["reference"] = entry
    return out


def default_methods(device: str) -> dict[str, Method]:
    return all_methods(device)


__all__ = ["Scenario", "run_accuracy", "run_shelf", "run_speed", "score_case"]
