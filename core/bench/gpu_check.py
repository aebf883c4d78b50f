"""GPU checks of the fitter: gsplat vs our PyTorch renderer, fast mode on CPU vs CUDA,
throughput, and the authors' full schedule timed and scored on the same GPU.

``python -m skelsplat.core.bench.gpu_check --data ../shared/data --out results.json``
(``scripts/gpu_check.sh OUTDIR`` runs it after installing what it needs). Every section
is written to the JSON as soon as it ends, so a run cut short keeps what it measured;
``--quick`` shrinks every size (a smoke run; the test suite runs it on the CPU with
``--device cpu``, which skips what needs gsplat).

Sections (keys of the JSON):
- ``renderer_equivalence``: loss and gradients of ``gsplat`` vs ``full`` (both float32 on
  the GPU, gsplat's alpha clamp) on random scenes, from tiny to 8 views x 25 joints at
  640 x 480; the largest relative differences (loss: |a - b| / |b|, gradients:
  max |a - b| / max |b| per tensor).
- ``fit_equivalence``: fast mode on one synthetic take (ring of 4 cameras, realistic noise)
  on the CPU, on CUDA with the ``window`` renderer and on CUDA with ``gsplat``; joint
  distances (mm) between them.
- ``throughput``: fast mode, 4 and 8 views x 25 joints, ``frames`` frames, each renderer,
  the chunk size chosen among candidates on a short run; frames/s and peak GPU memory.
- ``reference``: the authors' schedule (reference mode: 500 full-image renders per frame,
  frame by frame) on ``reference_frames`` frames of a noisy synthetic take and of Shelf
  (actor 1, oracle association); seconds per frame, MPJPE of reference and of fast mode
  over the same entries, and the speed-up of fast mode (its frames/s from ``throughput``)
  over reference.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import numpy as np

#: Relative tolerance of the renderer and fit comparisons (issue goals).
LOSS_RTOL = 1e-4
FIT_TOL_MM = 0.1


def _torch():
    import torch

    return torch


def device_info(device: str) -> dict:
    """Names and versions of what the checks ran on."""
    torch = _torch()
    info = {"python": platform.python_version(), "torch": torch.__version__,
            "cuda_available": bool(torch.cuda.is_available()), "device": device,
            "cpu_count": __import__("os").cpu_count()}
    if torch.cuda.is_available():
        p = torch.cuda.get_device_properties(0)
        info |= {"gpu": p.name, "gpu_memory_gib": round(p.total_memory / 2**30, 1),
                 "cuda": torch.version.cuda}
    try:
        import gsplat

        info["gsplat"] = gsplat.__version__
    except Exception as exc:  # reported, not fatal
        info["gsplat"] = f"not importable: {exc}"
    return info


# --- renderer equivalence -------------------------------------------------------------------

def random_scene(B: int, V: int, J: int, seed: int, width: int, height: int, f: float,
                 device: str = "cpu", dtype=None) -> list:
    """Random joints ~2 m in front of V cameras (mm) and detections near their projections:
    [means [B, J, 3], log_scales [B, J, 3], quats [B, J, 4], K [V, 3, 3], w2c [V, 4, 4],
    sizes [V, 2], Targets], ``dtype`` (default float32) on ``device``."""
    torch = _torch()
    from ..render import Targets, covariance_3d, project_gaussians
    from ..render.gaussians import conic

    g = torch.Generator().manual_seed(seed)
    f32 = dtype or torch.float32
    spread = 40.0 * max(1.0, math.sqrt(J / 6))
    means = torch.randn(B, J, 3, generator=g, dtype=f32) * spread
    log_scales = math.log(20.0) + 0.2 * torch.randn(B, J, 3, generator=g, dtype=f32)
    quats = torch.randn(B, J, 4, generator=g, dtype=f32)
    K = torch.tensor([[f, 0, width / 2 - 0.3], [0, f, height / 2 + 0.2], [0, 0, 1]],
                     dtype=f32).repeat(V, 1, 1)
    w2c = torch.eye(4, dtype=f32).repeat(V, 1, 1)
    for v in range(V):
        a = 0.4 * v
        w2c[v, :3, :3] = torch.tensor([[math.cos(a), 0, -math.sin(a)], [0, 1, 0],
                                       [math.sin(a), 0, math.cos(a)]], dtype=f32)
        w2c[v, 2, 3] = 2000.0
    sizes = torch.tensor([[width, height]] * V)
    with torch.no_grad():
        m2, c2, _ = project_gaussians(means, covariance_3d(log_scales, quats), K, w2c)
    det = m2 + 3.0 * torch.randn(m2.shape, generator=g, dtype=f32)
    weight = 0.3 + 0.7 * torch.rand(B, V, J, generator=g, dtype=f32)
    weight[0, 0, min(1, J - 1)] = 0.0
    dev = torch.device(device)
    tg = Targets(det.to(dev), weight.to(dev), c2.to(dev), conic(c2).to(dev))
    return [x.to(dev) for x in (means, log_scales, quats, K, w2c)] + [sizes, tg]


def loss_and_grads(backend: str, scene: list, **kw) -> tuple:
    """Per-(frame, view) loss [B, V] of ``backend`` and the gradients of a weighted sum of it
    w.r.t. means, log-scales and quaternions."""
    torch = _torch()
    from ..render import covariance_3d, view_losses

    means, log_scales, quats, K, w2c, sizes, tg = scene
    params = [p.clone().requires_grad_(True) for p in (means, log_scales, quats)]
    loss = view_losses(backend, params[0], covariance_3d(params[1], params[2]), K, w2c, sizes,
                       tg, **kw)
    cot = torch.linspace(0.5, 1.5, loss.numel(), dtype=loss.dtype,
                         device=loss.device).reshape(loss.shape)
    grads = torch.autograd.grad((loss * cot).sum(), params)
    return loss.detach(), grads


#: (B, V, J, width, height, focal px) of the equivalence scenes.
EQUIVALENCE_CASES = ((1, 1, 3, 72, 56, 300.0), (2, 2, 5, 72, 56, 300.0),
                     (2, 3, 6, 160, 120, 500.0), (2, 4, 25, 640, 480, 800.0),
                     (1, 8, 25, 640, 480, 800.0))


def renderer_equivalence(device: str, quick: bool = False,
                         backends: tuple[str, str] = ("gsplat", "full")) -> dict:
    """Largest relative differences of loss and gradients between two renderers."""
    from ..render.gsplat_backend import GSPLAT_ALPHA_MAX

    cases = EQUIVALENCE_CASES[:2] if quick else EQUIVALENCE_CASES
    rows, worst = [], 0.0
    for i, (B, V, J, w, h, f) in enumerate(cases):
        for occ in (False, True):
            scene = random_scene(B, V, J, 21 + i, w, h, f, device)
            (la, ga), (lb, gb) = (loss_and_grads(b, scene, alpha_max=GSPLAT_ALPHA_MAX,
                                                 occlusion_targets=occ) for b in backends)
            loss_rel = float(((la - lb).abs() / lb.abs().clamp_min(1e-30)).max())
            grad_rel = [float((a - b).abs().max() / b.abs().max().clamp_min(1e-30))
                        for a, b in zip(ga, gb)]
            worst = max(worst, loss_rel, *grad_rel)
            rows.append({"B": B, "V": V, "J": J, "width": w, "height": h,
                         "occlusion_targets": occ, "loss_rel": loss_rel,
                         "grad_rel_means": grad_rel[0], "grad_rel_log_scales": grad_rel[1],
                         "grad_rel_quats": grad_rel[2]})
    return {"backends": list(backends), "cases": rows, "max_rel": worst,
            "tolerance": LOSS_RTOL, "pass": bool(worst <= LOSS_RTOL)}


# --- fits -----------------------------------------------------------------------------------

def synthetic_case(data_dir: Path, frames: int, views: int, seed: int = 0):
    """The speed benchmark's take: CMU motion in a ring of ``views`` cameras, realistic
    noise (:func:`.speed_probe.probe_case`)."""
    from .speed_probe import probe_case

    return probe_case(frames, views, seed, data_dir)


def fit(keypoints, rig, **options) -> tuple[np.ndarray, float]:
    """Joints [F, J, 3] (NaN where invalid) and wall seconds of one fit."""
    torch = _torch()
    from ..fit import FitOptions, fit_take

    sync = torch.cuda.synchronize if torch.cuda.is_available() else (lambda: None)
    sync()
    t0 = time.perf_counter()
    res = fit_take(keypoints, rig, FitOptions(**options))
    sync()
    dt = time.perf_counter() - t0
    X = np.array(res.joints3d, dtype=float)
    X[~np.asarray(res.valid, dtype=bool)] = np.nan
    return X, dt


def joint_distance_mm(X: np.ndarray, Y: np.ndarray) -> dict:
    """Distances (mm) between two predictions [F, J, 3] (metres) where both answer."""
    d = np.linalg.norm(X - Y, axis=-1) * 1000.0
    both = np.isfinite(d)
    only_one = int((np.isfinite(X).all(-1) ^ np.isfinite(Y).all(-1)).sum())
    if not both.any():
        return {"mean_mm": float("nan"), "max_mm": float("nan"), "entries": 0,
                "validity_differs": only_one}
    return {"mean_mm": float(d[both].mean()), "max_mm": float(d[both].max()),
            "entries": int(both.sum()), "validity_differs": only_one}


def mpjpe_mm(X: np.ndarray, gt: np.ndarray, mask: np.ndarray) -> float:
    d = np.linalg.norm(X - gt, axis=-1)[mask]
    return float(d.mean() * 1000.0) if d.size else float("nan")


def fit_equivalence(data_dir: Path, device: str, frames: int) -> dict:
    """Fast mode on the CPU vs on ``device`` with the window renderer and with gsplat (no
    temporal smoothing, so the optimiser's joints are compared)."""
    case = synthetic_case(data_dir, frames, 4)
    runs = {"cpu window": {"device": "cpu", "renderer": "window"}}
    if device == "cuda":
        runs |= {"cuda window": {"device": "cuda", "renderer": "window"},
                 "cuda gsplat": {"device": "cuda", "renderer": "gsplat"}}
    else:  # CPU smoke run: two batchings of the same fit must agree exactly
        runs |= {"cpu window, 16-frame chunks": {"device": "cpu", "renderer": "window",
                                                 "chunk_frames": 16}}
    preds, out = {}, {"frames": frames, "views": 4, "runs": {}}
    for name, opts in runs.items():
        X, dt = fit(case.keypoints, case.rig, mode="fast", smooth="off", **opts)
        preds[name] = X
        ok = np.isfinite(X).all(-1) & np.isfinite(case.gt).all(-1)
        out["runs"][name] = {"options": opts, "seconds": dt,
                             "mpjpe_mm": mpjpe_mm(X, case.gt, ok)}
    base = preds["cpu window"]
    out["vs_cpu"] = {name: joint_distance_mm(X, base) for name, X in preds.items()
                     if name != "cpu window"}
    out["tolerance_mm"] = FIT_TOL_MM
    out["pass"] = {name: bool(d["max_mm"] <= FIT_TOL_MM and d["validity_differs"] == 0)
                   for name, d in out["vs_cpu"].items()}
    return out


def _peak_reset(device: str) -> None:
    torch = _torch()
    if device == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def _peak_gib(device: str) -> float | None:
    torch = _torch()
    return torch.cuda.max_memory_allocated() / 2**30 if device == "cuda" else None


def _is_oom(exc: BaseException) -> bool:
    return "out of memory" in str(exc).lower()


def choose_chunk(case, device: str, renderer: str, candidates: tuple[int, ...],
                 probe_frames: int) -> tuple[int | None, dict]:
    """The chunk size with the best frames/s on the first ``probe_frames`` frames."""
    kp = case.keypoints.frames(0, probe_frames)
    tried = {}
    for c in candidates:
        if c > probe_frames and tried:
            break
        try:
            _peak_reset(device)
            _, dt = fit(kp, case.rig, mode="fast", device=device, renderer=renderer,
                        chunk_frames=c, smooth="off")
            tried[c] = probe_frames / dt
        except Exception as exc:  # OOM at a chunk size is a result
            if not _is_oom(exc):
                raise
            tried[c] = 0.0
            break
    good = {c: fps for c, fps in tried.items() if fps > 0}
    return (max(good, key=good.get) if good else None), {str(c): v for c, v in tried.items()}


#: Frames of the full-image (gsplat) throughput run: every step renders whole images, so
#: 3000 frames would take minutes; frames/s is per frame either way.
GSPLAT_THROUGHPUT_FRAMES = 128


def throughput(data_dir: Path, device: str, frames: int, quick: bool = False,
               log: Callable[[str], None] = print) -> dict:
    """Fast mode frames/s for 4 and 8 views x 25 joints with each renderer (the gsplat
    renderer on the first :data:`GSPLAT_THROUGHPUT_FRAMES` frames)."""
    renderers = ("window", "gsplat") if device == "cuda" else ("window",)
    candidates = {"window": (256, 1024, 2048, 4096) if device == "cuda" else (64, 256),
                  "gsplat": (2, 8, 32)}
    out = {"frames": frames, "runs": []}
    for views in (4, 8):
        full_case = synthetic_case(data_dir, frames, views)
        for renderer in renderers:
            n = frames if renderer == "window" else min(frames, GSPLAT_THROUGHPUT_FRAMES)
            kp = full_case.keypoints.frames(0, n)
            gt = full_case.gt[:n]
            probe = min(n, 512 if renderer == "window" else 32)
            if quick:
                probe = min(n, 32)
            chunk, tried = choose_chunk(full_case, device, renderer, candidates[renderer],
                                        probe)
            row = {"views": views, "joints": kp.data.shape[2], "frames": n,
                   "renderer": renderer, "chunk_candidates_fps": tried, "chunk_frames": chunk}
            if chunk is None:
                row["error"] = "out of memory at every chunk size"
                out["runs"].append(row)
                continue
            _peak_reset(device)
            X, dt = fit(kp, full_case.rig, mode="fast", device=device,
                        renderer=renderer, chunk_frames=chunk)
            ok = np.isfinite(X).all(-1) & np.isfinite(gt).all(-1)
            row |= {"seconds": dt, "frames_per_s": n / dt,
                    "peak_gpu_memory_gib": _peak_gib(device),
                    "mpjpe_mm": mpjpe_mm(X, gt, ok), "valid": float(ok.mean())}
            log(f"[gpu_check]   {views} views, {renderer}: chunk {chunk}, {n} frames in "
                f"{dt:.2f} s ({n / dt:,.0f} frames/s); probe {tried}")
            out["runs"].append(row)
    return out


def _fast_fps(tp: dict, views: int) -> float | None:
    rows = [r for r in tp.get("runs", []) if r.get("views") == views and "frames_per_s" in r]
    return max((r["frames_per_s"] for r in rows), default=None)


def _gsplat_ready() -> bool:
    """Whether gsplat's CUDA kernels load (they are compiled on first use)."""
    try:
        from gsplat.cuda._backend import _C

        return _C is not None
    except Exception:  # any failure to build or load means "not usable here"
        return False


def reference_vs_fast(keypoints, rig, gt: np.ndarray, device: str, renders: int,
                      to_scored: Callable[[np.ndarray], np.ndarray] | None = None,
                      deadline: float | None = None, block: int = 10,
                      on_block: Callable[[dict], None] | None = None) -> dict:
    """Reference mode (authors' schedule) and fast mode (no smoothing) on one take:
    seconds per frame and MPJPE over the entries both answer.

    Reference mode fits every frame on its own, so it runs in blocks of ``block`` frames
    (the same answer as one call); after each block the partial result goes to
    ``on_block``, and no new block starts after ``deadline`` (``time.perf_counter()``)."""
    renderer = "exact"
    if device == "cuda":
        renderer = "gsplat" if _gsplat_ready() else "full"
    F = keypoints.data.shape[0]
    parts, tr, done = [], 0.0, 0
    result: dict = {}
    while done < F and (deadline is None or time.perf_counter() < deadline or done == 0):
        n = min(block, F - done)
        Xb, dt = fit(keypoints.frames(done, done + n), rig, mode="reference", device=device,
                     renderer=renderer, renders_per_frame=renders)
        parts.append(Xb)
        tr += dt
        done += n
        result = _reference_scores(np.concatenate(parts), tr, keypoints.frames(0, done), rig,
                                   gt[:done], device, renders, renderer, to_scored)
        result["frames_asked"] = F
        if on_block is not None:
            on_block(result)
    return result


def _reference_scores(Xr: np.ndarray, tr: float, keypoints, rig, gt: np.ndarray, device: str,
                      renders: int, renderer: str,
                      to_scored: Callable[[np.ndarray], np.ndarray] | None) -> dict:
    """Reference joints ``Xr`` [F, J, 3] (``tr`` seconds) against fast mode on the same
    frames."""
    F = keypoints.data.shape[0]
    Xf, tf = fit(keypoints, rig, mode="fast", device=device, smooth="off")
    if to_scored is not None:
        Xr, Xf = to_scored(Xr), to_scored(Xf)
    both = np.isfinite(Xr).all(-1) & np.isfinite(Xf).all(-1) & np.isfinite(gt).all(-1)
    return {"frames": F, "renders_per_frame": renders, "reference_renderer": renderer,
            "reference_s_per_frame": tr / F, "fast_s_per_frame_this_take": tf / F,
            "coverage": float(both.mean()),
            "reference_mpjpe_mm": mpjpe_mm(Xr, gt, both), "fast_mpjpe_mm": mpjpe_mm(Xf, gt, both),
            "fast_minus_reference_mm": mpjpe_mm(Xf, gt, both) - mpjpe_mm(Xr, gt, both),
            "fast_vs_reference_distance": joint_distance_mm(
                np.where(both[..., None], Xf, np.nan), np.where(both[..., None], Xr, np.nan))}


def reference_schedule(data_dir: Path, device: str, frames: int, renders: int,
                       fast_fps_4: float | None, budget_s: float | None = None,
                       on_progress: Callable[[dict], None] | None = None) -> dict:
    """The authors' schedule on a noisy synthetic take and on Shelf (actor 1); each take
    gets half of ``budget_s`` (seconds; None: no limit) and stops at a block boundary."""
    from .scenarios import REALISTIC, Scenario, make_case

    out: dict = {"takes": {}}

    def run(name: str, *args, **kw) -> None:
        deadline = None if budget_s is None else time.perf_counter() + budget_s / 2

        def keep(partial: dict) -> None:
            out["takes"][name] = partial
            _add_speedup(partial, fast_fps_4)
            if on_progress is not None:
                on_progress(out)

        keep(reference_vs_fast(*args, deadline=deadline, on_block=keep, **kw))

    noisy = make_case(Scenario("noisy", corruption=REALISTIC, frames=frames, seed=2), data_dir)
    run("synthetic noisy (ring of 4)", noisy.keypoints, noisy.rig, noisy.gt, device, renders)
    name = "Shelf actor 1 (oracle association)"
    if (Path(data_dir) / "shelf_4dassoc").is_dir():
        from .shelf import body25_to_shelf15
        from .shelf_eval import load_shelf, oracle_keypoints

        data = load_shelf(Path(data_dir))
        kp, gt15 = oracle_keypoints(data, 0)
        present = np.nonzero(np.isfinite(gt15).any((1, 2)))[0]
        s = int(present[0])
        run(name, kp.frames(s, s + frames), data.rig, gt15[s:s + frames, :12], device,
            renders, to_scored=lambda X: body25_to_shelf15(X)[:, :12])
    else:
        out["takes"][name] = {"skipped": f"{Path(data_dir) / 'shelf_4dassoc'} not found"}
    return out


def _add_speedup(r: dict, fast_fps_4: float | None) -> None:
    if fast_fps_4 and "reference_s_per_frame" in r:
        r["fast_frames_per_s_4_views"] = fast_fps_4
        r["speedup_fast_over_reference"] = r["reference_s_per_frame"] * fast_fps_4


# --- report -------------------------------------------------------------------------------

def _n(x: object, nd: int = 1) -> str:
    if isinstance(x, (int, float)) and math.isfinite(float(x)):
        return f"{float(x):,.{nd}f}"
    return "-"


def markdown_section(results: dict) -> str:
    """The GPU section of docs/benchmarks.md from :func:`run_checks`' results."""
    dev = results.get("device", {})
    sec = results.get("sections", {})
    lines = [f"## GPU: {dev.get('gpu', 'no GPU')}", "",
             f"torch {dev.get('torch')} (CUDA {dev.get('cuda', '-')}), gsplat "
             f"{dev.get('gsplat')}, Python {dev.get('python')}, {dev.get('cpu_count')} CPU "
             "cores; `scripts/gpu_check.sh OUTDIR`" + (" (quick smoke run)"
                                                       if results.get("quick") else "") + ".",
             ""]
    run = results.get("run", {})
    if run:
        lines += [f"Run {run.get('date')} on commit {run.get('commit')}: "
                  f"`{run.get('command')}`; gsplat built in {run.get('gsplat_build_s')} s; "
                  f"gpu tests: {run.get('gpu_tests')}. Earlier run: {run.get('earlier_run')}.",
                  ""]
    for name, s in sec.items():
        if "error" in s or "skipped" in s:
            lines += [f"- {name}: {s.get('error') or s.get('skipped')}", ""]
    eq = sec.get("renderer_equivalence", {})
    if "cases" in eq:
        lines += ["### gsplat vs the PyTorch full-image renderer", "",
                  "| B x V x J | image | occlusion targets | loss rel. | grad rel. (max) |",
                  "|---|---|---|---|---|"]
        for c in eq["cases"]:
            g = max(c["grad_rel_means"], c["grad_rel_log_scales"], c["grad_rel_quats"])
            lines.append(f"| {c['B']} x {c['V']} x {c['J']} | {c['width']} x {c['height']} | "
                         f"{c['occlusion_targets']} | {c['loss_rel']:.1e} | {g:.1e} |")
        lines += ["", f"Largest relative difference {eq['max_rel']:.1e} (goal <= "
                  f"{eq['tolerance']:.0e}: {'met' if eq['pass'] else 'NOT met'}).", ""]
    fe = sec.get("fit_equivalence", {})
    if "vs_cpu" in fe:
        lines += [f"### Fast mode on the CPU vs on the GPU ({fe['frames']} frames, 4 views)", "",
                  "| run | s | MPJPE (mm) | mean / max distance to CPU fast (mm) | pass |",
                  "|---|---|---|---|---|"]
        for name, r in fe["runs"].items():
            d = fe["vs_cpu"].get(name)
            dist = f"{_n(d['mean_mm'], 4)} / {_n(d['max_mm'], 4)}" if d else "-"
            ok = fe["pass"].get(name, "-") if d else "-"
            lines.append(f"| {name} | {_n(r['seconds'], 2)} | {_n(r['mpjpe_mm'], 2)} | {dist} "
                         f"| {ok} |")
        lines.append("")
    tp = sec.get("throughput", {})
    if "runs" in tp:
        lines += [f"### Fast-mode throughput ({tp['frames']} frames)", "",
                  *([tp["note"][0].upper() + tp["note"][1:] + ".", ""] if tp.get("note")
                    else []),
                  "| views x joints | renderer | frames | chunk | frames/s | "
                  "peak GPU memory (GiB) | MPJPE (mm) |", "|---|---|---|---|---|---|---|"]
        for r in tp["runs"]:
            lines.append(f"| {r['views']} x {r['joints']} | {r['renderer']} | "
                         f"{r.get('frames', tp['frames'])} | {r.get('chunk_frames')} | "
                         f"{_n(r.get('frames_per_s'), 0)} | "
                         f"{_n(r.get('peak_gpu_memory_gib'), 2)} | {_n(r.get('mpjpe_mm'), 2)} |")
        lines.append("")
    ref = sec.get("reference", {})
    if "takes" in ref:
        lines += ["### The authors' schedule (reference mode) vs fast mode, same GPU", "",
                  "| take | frames | reference s/frame (renderer) | speed-up of fast | "
                  "reference MPJPE | "
                  "fast MPJPE | fast - reference (mm) |", "|---|---|---|---|---|---|---|"]
        for name, r in ref["takes"].items():
            if "skipped" in r:
                lines.append(f"| {name} | skipped: {r['skipped']} | | | | | |")
                continue
            frames = str(r["frames"]) + (f" of {r['frames_asked']} (time budget)"
                                         if r.get("frames_asked", r["frames"]) > r["frames"]
                                         else "")
            lines.append(f"| {name} | {frames} | {_n(r['reference_s_per_frame'], 3)} "
                         f"({r['reference_renderer']}) | "
                         f"{_n(r.get('speedup_fast_over_reference'), 0)}x | "
                         f"{_n(r['reference_mpjpe_mm'], 2)} | {_n(r['fast_mpjpe_mm'], 2)} | "
                         f"{_n(r['fast_minus_reference_mm'], 2)} |")
        lines.append("")
    return "\n".join(lines)


# --- driver ---------------------------------------------------------------------------------

def run_checks(data_dir: Path, out_path: Path, device: str = "cuda", quick: bool = False,
               sections: tuple[str, ...] = ("renderer_equivalence", "fit_equivalence",
                                            "throughput", "reference"),
               log: Callable[[str], None] = print, budget_s: float | None = None) -> dict:
    """Run ``sections`` in order, writing ``out_path`` after each; a failing section records
    its error and the others still run. ``budget_s``: seconds for the whole run; the
    reference section gets what the others left and keeps the frames it finished."""
    t_start = time.perf_counter()
    frames = 64 if quick else 3000
    results: dict = {"device": device_info(device), "quick": quick, "sections": {}}
    ref_frames, ref_renders = (4, 8) if quick else (100, 500)
    fit_frames = 32 if quick else 100

    def save() -> None:
        tmp = out_path.with_suffix(out_path.suffix + ".tmp")
        tmp.write_text(json.dumps(results, indent=2, default=float))
        tmp.replace(out_path)

    jobs: dict[str, Callable[[], dict]] = {
        "renderer_equivalence": lambda: renderer_equivalence(device, quick),
        "fit_equivalence": lambda: fit_equivalence(data_dir, device, fit_frames),
        "throughput": lambda: throughput(data_dir, device, frames, quick, log),
        "reference": lambda: reference_schedule(
            data_dir, device, ref_frames, ref_renders,
            _fast_fps(results["sections"].get("throughput", {}), 4),
            budget_s=None if budget_s is None
            else max(0.0, budget_s - (time.perf_counter() - t_start)),
            on_progress=lambda partial: (results["sections"].__setitem__("reference", partial),
                                         save())),
    }
    for name in sections:
        if name == "renderer_equivalence" and device != "cuda":
            results["sections"][name] = {"skipped": "gsplat needs CUDA"}
            continue
        log(f"[gpu_check] {name} ...")
        t0 = time.perf_counter()
        try:
            results["sections"][name] = jobs[name]()
        except Exception as exc:  # recorded; the other sections still run
            results["sections"][name] = {"error": f"{type(exc).__name__}: {exc}",
                                         "traceback": traceback.format_exc()[-4000:]}
        results["sections"][name]["wall_s"] = time.perf_counter() - t0
        log(f"[gpu_check] {name} done in {time.perf_counter() - t0:.1f} s")
        save()
    return results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, required=True, help="the shared data folder")
    p.add_argument("--out", type=Path, required=True, help="JSON file to write")
    p.add_argument("--device", default="cuda", choices=("cuda", "cpu"))
    p.add_argument("--quick", action="store_true", help="tiny sizes (smoke run)")
    p.add_argument("--markdown", type=Path, default=None,
                   help="also write the docs/benchmarks.md GPU section here")
    p.add_argument("--sections", default="renderer_equivalence,fit_equivalence,throughput,"
                   "reference")
    p.add_argument("--budget-s", type=float, default=None,
                   help="seconds for the whole run: the reference section stops (at a block of "
                   "frames) when they are spent and reports the frames it finished")
    a = p.parse_args(argv)
    if a.device == "cuda" and not _torch().cuda.is_available():
        print("gpu_check: torch sees no CUDA device (use --device cpu for a smoke run)")
        return 2
    res = run_checks(a.data, a.out, a.device, a.quick, tuple(a.sections.split(",")),
                     budget_s=a.budget_s)
    if a.markdown:
        a.markdown.write_text(markdown_section(res))
    failed = [n for n, s in res["sections"].items() if "error" in s]
    print(f"gpu_check: wrote {a.out}" + (f"; sections with errors: {failed}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
