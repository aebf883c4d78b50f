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
        X = method(case.keypoints, case.rig)
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
        out["scenarios"].append({
            "name": s.name, "rig": s.rig, "clip": case.clip, "frames": s.frames,
            "seed": s.seed, "digest": case_digest(case)[:16],
            "detected": float((case.keypoints.data[..., 2] > 0).mean()),
            "corruption": s.corruption.__dict__, "scores": scores})
        if s.name in ("noisy", "heavy (30% occ, 15% out, 5% swap)"):
            out["per_joint"][s.name] = {
                name: np.nanmean(M.joint_errors(X, case.gt), 0).tolist()
                for name, X in preds.items()}
            out["per_joint"]["joints"] = list(get_joint_set(s.joint_set).joints)
    for s in occlusion_sweep(sweep_frames):
        case = make_case(s, data_dir)
        scores, _ = _run_methods(case, methods)
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
        t0 = time.perf_counter()
        out[name] = evaluate_method(data, method)
        progress(f"shelf: {name}")
        for a in out[name].values():
            a["seconds"] = (time.perf_counter() - t0) / len(out[name])
    return {name: {str(k): v for k, v in r.items()} for name, r in out.items()}


def _probe(data_dir: Path, method: str, frames: int, first: int | None = None,
           device: str = "auto", save: Path | None = None, timeout: float = 900) -> dict:
    cmd = [sys.executable, "-m", "skelsplat.core.bench.speed_probe", "--method", method,
           "--frames", str(frames), "--data", str(data_dir), "--device", device]
    if first:
        cmd += ["--first", str(first)]
    if save:
        cmd += ["--save", str(save)]
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {"method": method, "frames": first or frames, "error": f"timeout {timeout:.0f} s"}
    if res.returncode != 0:
        tail = (res.stderr or res.stdout).strip().splitlines()[-1:] or ["?"]
        return {"method": method, "frames": first or frames, "error": tail[0][:200]}
    return json.loads(res.stdout.strip().splitlines()[-1])


def run_speed(data_dir: Path, lengths: tuple[int, ...], reference_frames: int, device: str,
              tmp: Path, progress: Progress = print) -> dict:
    """Frames/s and peak memory per method and take length; fast vs reference."""
    out: dict = {"lengths": list(lengths), "rows": [], "reference": None}
    fit_ok = fitter_available() is None
    methods = ["dlt", "subset_search", "robust_lsq"] + (["skelsplat_fast"] if fit_ok else [])
    for n in lengths:
        for m in methods:
            out["rows"].append(_probe(data_dir, m, n, device=device))
            progress(f"speed: {m} x {n} frames")
    if fit_ok and reference_frames > 0:
        n = max(lengths)
        ref = _probe(data_dir, "skelsplat_reference", n, first=reference_frames, device=device,
                     save=tmp / "ref.npy")
        progress(f"speed: reference mode on {reference_frames} frames")
        fast = _probe(data_dir, "skelsplat_fast", n, first=reference_frames, device=device,
                      save=tmp / "fast.npy")
        progress(f"speed: fast mode on {reference_frames} frames")
        entry = {"reference": ref, "fast_same_frames": fast}
        if "error" not in ref and "error" not in fast:
            from .speed_probe import probe_case

            gt = probe_case(n, 4, 0, data_dir).gt[:reference_frames]
            Xr, Xf = np.load(tmp / "ref.npy"), np.load(tmp / "fast.npy")
            entry["fast_vs_reference_mm"] = M.mpjpe(Xf, Xr)
            entry["reference_mpjpe_mm"] = M.mpjpe(Xr, gt)
            entry["fast_mpjpe_mm"] = M.mpjpe(Xf, gt)
        out["reference"] = entry
    return out


def default_methods(device: str) -> dict[str, Method]:
    return all_methods(device)


__all__ = ["Scenario", "run_accuracy", "run_shelf", "run_speed", "score_case"]
