"""Run the benchmark sections and collect JSON-serialisable results.

Sections: ``accuracy`` (every method on every synthetic scenario, plus the occlusion
sweep and per-joint errors), ``shelf`` (real detections, oracle association, 4D
Association side by side) and ``speed`` (fresh processes: frames/s and peak memory vs
take length; reference-mode cost; fast vs reference results on the same frames).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

from ..camera import Rig
from ..errors import Cancelled
from ..keypoints.multiview import Keypoints2D
from ..metrics import bone_lengths, nanmedian
from ..progress import StepFn
from ..skeletons import get_joint_set
from . import metrics as M
from .baselines import oracle_skeleton_lsq
from .methods import ALL_BASELINES, DEFAULT, ORACLE, Method, all_methods, fitter_available
from .scenarios import Case, Scenario, accuracy_scenarios, case_digest, make_case, occlusion_sweep


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


def oracle_prediction(case: Case) -> np.ndarray:
    """[F, J, 3] per-frame least squares with the case's ground-truth bone lengths
    (median over the take of each bone of ``core.fit.skeleton.bone_tree``)."""
    from ..fit.skeleton import bone_tree

    _, bones = bone_tree(get_joint_set(case.scenario.joint_set))
    L = nanmedian(bone_lengths(case.gt, bones), axis=0)
    return oracle_skeleton_lsq(case.keypoints.data, case.rig, L, case.scenario.joint_set)


def default_verdict(case: Case, preds: dict[str, np.ndarray]) -> dict:
    """The shipped default against the best of all baselines, on the same entries.

    ``common`` = (frame, joint) entries with ground truth that the default and every
    baseline answered; every MPJPE here is over those entries (the oracle's over the part it
    answered). Coverage = each method's share of the ground-truth entries."""
    if DEFAULT not in preds:
        return {}
    names = [n for n in ALL_BASELINES if n in preds]
    has_gt = np.isfinite(case.gt).all(-1)
    common = has_gt & np.isfinite(preds[DEFAULT]).all(-1)
    for n in names:
        common &= np.isfinite(preds[n]).all(-1)
    mp = {n: M.mpjpe(X, case.gt, common) for n, X in preds.items()}
    base = {n: mp[n] for n in names if np.isfinite(mp[n])}
    best = min(base, key=base.get) if base else None
    out = {"common_share": float(common[has_gt].mean()) if has_gt.any() else float("nan"),
           "mpjpe_common_mm": mp, "best_baseline": best,
           "coverage": {n: M.coverage(X, case.gt) for n, X in preds.items()}}
    if best is not None:
        out["ratio_to_best"] = mp[DEFAULT] / base[best]
        if ORACLE in mp:
            out["oracle_ratio_to_best"] = mp[ORACLE] / base[best]
    return out


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
                 progress: StepFn = print) -> dict:
    """Accuracy table, occlusion sweep and per-joint errors."""
    out: dict = {"scenarios": [], "sweep": [], "per_joint": {}}
    scen = accuracy_scenarios(frames)
    for s in scen:
        case = make_case(s, data_dir)
        scores, preds = _run_methods(case, methods)
        t0 = time.perf_counter()
        preds[ORACLE] = oracle_prediction(case)
        scores[ORACLE] = score_case(case, preds[ORACLE]) | {
            "seconds": time.perf_counter() - t0}
        progress(f"accuracy: {s.name}")
        # Common-mask MPJPE: entries every method answered (fair when coverage differs).
        common = np.ones(case.gt.shape[:2], dtype=bool)
        for X in preds.values():
            common &= np.isfinite(X).all(-1)
        for name, X in preds.items():
            scores[name]["mpjpe_common_mm"] = M.mpjpe(X, case.gt, common)
        errors = scores.pop("_errors", {})
        verdict = default_verdict(case, preds)
        out["scenarios"].append({
            "name": s.name, "rig": s.rig, "clip": case.clip, "frames": s.frames,
            "seed": s.seed, "digest": case_digest(case)[:16],
            "detected": float((case.keypoints.data[..., 2] > 0).mean()),
            "corruption": s.corruption.__dict__, "scores": scores, "errors": errors,
            "verdict": verdict, "group": s.group})
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


def run_shelf(data_dir: Path, methods: dict[str, Method], progress: StepFn = print) -> dict:
    """Per actor PCP / MPJPE of every method (oracle association), of 4D Association and of
    the ground truth's choice of views (the section's upper bound)."""
    from .shelf_eval import (
        VIEW_ORACLE,
        evaluate_method,
        evaluate_view_oracle,
        load_shelf,
        score_4dassoc,
    )

    data = load_shelf(data_dir)
    out = {"4D Association (skel.txt, no oracle)": score_4dassoc(data),
           VIEW_ORACLE: evaluate_view_oracle(data)}
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


#: Reference mode as the accuracy comparison runs it: the authors' settings with the
#: ``"exact"`` renderer (stride-1 windows over every support: the full-image loss and
#: gradients, tested in ``tests/test_reference_equivalence.py``), ~50x cheaper on a CPU.
REFERENCE_EXACT = {"renderer": "exact"}
#: FitOptions of fast mode that give it the authors' loss: no bone-length term, plain
#: targets; and reference's initial guess: no swap correction, no detector-bias correction,
#: no bone check.
AUTHORS_LOSS = {"bone_length_weight": 0.0, "occlusion_targets": False, "swap_correction": False,
                "bias_correction": False, "bone_check": False}
#: Reference mode's optimiser schedule: 125 steps (500 renders / 4 views), no early stopping,
#: learning rate decaying to 1 %.
REFERENCE_SCHEDULE = {"iterations": 125, "min_iterations": 125, "tolerance_mm": 0.0,
                      "lr_final_fraction": 0.01}
#: Fast-mode variants compared with reference mode (each costs about a second): its
#: defaults; without the bone-length term; the speed machinery (sparse windows, frames
#: batched, warm start, 30 steps with early stopping, float32) with the authors' loss; and
#: that with reference's schedule (what is left is the sparse windows and float32).
FAST_VARIANTS: dict[str, dict] = {
    "fast": {},
    "fast, no bone-length term": {"bone_length_weight": 0.0},
    "fast, authors' loss": AUTHORS_LOSS,
    "fast, authors' loss + reference schedule": AUTHORS_LOSS | REFERENCE_SCHEDULE,
}
#: Accuracy scenario fitted in both modes by default (as a short take: reference is slow).
REFERENCE_TAKES = ("noisy",)
#: Optional second take. Its outlier detections kept by the initial triangulation are
#: ~100-200 px from the joint, so exact windows grow ~3x per side and reference mode costs
#: ~10 CPU-min per frame instead of ~0.5 (measured: 2 frames in 704 s on 2 busy cores).
HEAVY_TAKE = "heavy (30% occ, 15% out, 5% swap)"


def _fit_with_timeout(keypoints: Keypoints2D, rig: Rig, options: dict, device: str,
                      timeout: float | None) -> tuple[np.ndarray | None, float, str | None]:
    """Fit in this process; (X [F, J, 3] with NaN where invalid, seconds, error or None).
    A fit still running after ``timeout`` s is cancelled."""
    from ..fit import FitOptions, fit_take

    stop = threading.Event()
    timer = threading.Timer(timeout, stop.set) if timeout else None
    if timer is not None:
        timer.daemon = True
        timer.start()
    t0 = time.perf_counter()
    try:
        res = fit_take(keypoints, rig, FitOptions(device=device, **options), cancel=stop)
    except Cancelled:
        return None, time.perf_counter() - t0, f"did not finish in {timeout:g} s"
    finally:
        if timer is not None:
            timer.cancel()
    X = np.array(res.joints3d, dtype=float)
    X[~np.asarray(res.valid, dtype=bool)] = np.nan
    return X, time.perf_counter() - t0, None


def _distance_stats(X: np.ndarray, Xref: np.ndarray) -> dict:
    """Distances (mm) between two predictions [F, J, 3] over the joints both answer: mean,
    median, max, share <= 1 mm, and the mean of each joint over the frames ([J], NaN where
    never answered)."""
    d = M.joint_errors(X, Xref)  # [F, J]
    if not np.isfinite(d).any():
        return {"mean_abs_diff_mm": float("nan"), "median_abs_diff_mm": float("nan"),
                "max_abs_diff_mm": float("nan"), "within_1mm": float("nan")}
    ok = d[np.isfinite(d)]
    with np.errstate(all="ignore"):
        per_joint = np.nan_to_num(d).sum(0) / np.isfinite(d).sum(0)
    return {"mean_abs_diff_mm": float(ok.mean()), "median_abs_diff_mm": float(np.median(ok)),
            "max_abs_diff_mm": float(ok.max()), "within_1mm": float((ok <= 1.0).mean()),
            "per_joint_abs_diff_mm": per_joint.tolist()}


def compare_fast_reference(keypoints: Keypoints2D, rig: Rig, gt: np.ndarray,
                           device: str = "auto", reference: dict | None = None,
                           variants: dict[str, dict] | None = None,
                           timeout: float | None = None) -> dict:
    """Fit ``keypoints`` (ground truth ``gt`` [F, J, 3] m) in reference mode and in each
    fast variant; distances to reference and MPJPEs (mm).

    ``reference``: FitOptions overrides of reference mode (default :data:`REFERENCE_EXACT`);
    ``variants``: name -> FitOptions overrides of fast mode (default :data:`FAST_VARIANTS`;
    temporal smoothing off unless a variant sets it: reference mode has none).
    MPJPEs are over the (frame, joint) entries every run answered (``coverage`` = their
    share), so that the differences compare like with like.
    """
    ref_opts = {"mode": "reference", **(REFERENCE_EXACT if reference is None else reference)}
    runs = {"reference": ref_opts} | {  # frame by frame: no temporal smoothing
        name: {"mode": "fast", "smooth": "off", **o}
        for name, o in (variants or FAST_VARIANTS).items()}
    preds, out = {}, {"options": runs, "runs": {}}
    for name, opts in runs.items():
        X, dt, err = _fit_with_timeout(keypoints, rig, opts, device, timeout)
        out["runs"][name] = {"seconds": dt} | ({"error": err} if err else {})
        if err is None:
            preds[name] = X
        elif name == "reference":
            return out  # nothing to compare with
    common = np.isfinite(gt).all(-1)
    for X in preds.values():
        common &= np.isfinite(X).all(-1)
    out["coverage"] = float(common.mean())
    ref_mpjpe = M.mpjpe(preds["reference"], gt, common)
    for name, X in preds.items():
        r = out["runs"][name]
        r["mpjpe_mm"] = M.mpjpe(X, gt, common)
        if name != "reference":
            r.update(_distance_stats(np.where(common[..., None], X, np.nan), preds["reference"]))
            r["mpjpe_minus_reference_mm"] = r["mpjpe_mm"] - ref_mpjpe
    return out


def run_fast_vs_reference(data_dir: Path, frames: int, device: str = "auto",
                          takes: tuple[str, ...] = REFERENCE_TAKES, timeout: float | None = None,
                          progress: StepFn = print, reference: dict | None = None) -> dict:
    """Fast mode vs reference mode (exact renderer, authors' settings otherwise) on
    accuracy scenarios ``takes`` generated with ``frames`` frames (seeded, reproducible).
    ``reference``: reference-mode overrides (default :data:`REFERENCE_EXACT`)."""
    by_name = {s.name: s for s in accuracy_scenarios(frames)}
    reference = REFERENCE_EXACT if reference is None else reference
    out: dict = {"frames": frames, "reference": {"mode": "reference", **reference},
                 "takes": []}
    for name in takes:
        case = make_case(by_name[name], data_dir)
        res = compare_fast_reference(case.keypoints, case.rig, case.gt, device, reference,
                                     timeout=timeout)
        out["takes"].append({"name": name, "rig": case.scenario.rig, "clip": case.clip,
                             "seed": case.scenario.seed, "frames": frames,
                             "digest": case_digest(case)[:16], **res})
        progress(f"speed: fast vs reference, {name}")
    return out


def run_speed(data_dir: Path, lengths: tuple[int, ...], device: str, tmp: Path,
              reference_renders: tuple[int, int] = (8, 24), reference_accuracy: int = 0,
              fitter_timeout: float = 600, include_fitter: bool = True,
              fast_vs_reference: int = 0, reference_takes: tuple[str, ...] = REFERENCE_TAKES,
              progress: StepFn = print) -> dict:
    """Frames/s and peak memory per method and take length; fast vs reference.

    Reference mode has a fixed cost per render (no early stopping), so its frame rate is
    measured on one frame with ``reference_renders`` = (a, b) renders and extrapolated to
    the authors' 500: ``t(500) = t(a) + (500 - a) (t(b) - t(a)) / (b - a)``.
    ``fast_vs_reference`` = N > 0 compares fast and reference *results* on N frames of each
    of ``reference_takes`` (:func:`run_fast_vs_reference`: reference with the exact
    renderer, same loss and gradients as full images). With ``reference_accuracy`` = M > 0,
    M frames of the speed take are also fitted with the real full-image renderer (very slow
    on a CPU).
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
    if fast_vs_reference > 0:
        out["fast_vs_reference"] = run_fast_vs_reference(
            data_dir, fast_vs_reference, device, reference_takes, 3 * fitter_timeout, progress)
    return out


def default_methods(device: str) -> dict[str, Method]:
    return all_methods(device)


__all__ = ["AUTHORS_LOSS", "FAST_VARIANTS", "HEAVY_TAKE", "REFERENCE_EXACT",
           "REFERENCE_SCHEDULE", "REFERENCE_TAKES", "Scenario",
           "compare_fast_reference", "run_accuracy", "run_fast_vs_reference", "run_shelf",
           "run_speed", "score_case"]
