"""Measure real 2D detector errors on Shelf and fit the benchmark's noise model.

For every ground-truth actor, camera, frame and joint we project the ground truth into
the image and take the OpenPose candidate nearest to it. Errors are expressed in metres
at the subject's depth (``pixels * z / f``), so the model transfers to rigs with other
resolutions and distances. Per joint we fit, by EM, a two-component mixture of isotropic
2D Gaussians: a core (``sigma`` per joint) and a shared wide tail (``tail_sigma``) with a
per-joint tail probability ``p_tail``. Points that have no candidate within 0.5 m are
counted as missed (``p_missed``). Detector scores are histogrammed separately for
core and tail points (confidence vs error).

Regenerate the committed JSON with ``python -m skelsplat.core.bench.noise_calibration``.
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

import numpy as np

from .shelf import SHELF_FROM_BODY25, read_detections, read_skeleton_file

#: Where the fitted model lives (derived numbers, committed).
NOISE_MODEL_PATH = Path(__file__).with_name("noise_model.json")
CONF_BINS = np.linspace(0.0, 1.0, 11)
MISS_RADIUS_M = 0.5
BODY25 = ("nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder",
          "left_elbow", "left_wrist", "mid_hip", "right_hip", "right_knee", "right_ankle",
          "left_hip", "left_knee", "left_ankle", "right_eye", "left_eye", "right_ear",
          "left_ear", "left_big_toe", "left_small_toe", "left_heel", "right_big_toe",
          "right_small_toe", "right_heel")
#: Joints without Shelf ground truth borrow the model of a measured joint.
BORROWED = {"nose": "neck", "right_eye": "neck", "left_eye": "neck", "right_ear": "neck",
            "left_ear": "neck", "left_big_toe": "left_ankle", "left_small_toe": "left_ankle",
            "left_heel": "left_ankle", "right_big_toe": "right_ankle",
            "right_small_toe": "right_ankle", "right_heel": "right_ankle"}


def measure_shelf_errors(shelf_dir: Path) -> dict[str, np.ndarray]:
    """Nearest-candidate residuals on Shelf.

    Returns arrays over all (frame, actor, camera, joint) samples whose ground truth
    projects inside the image: ``joint`` (BODY_25 index), ``residual`` [N, 2] metres at
    depth (NaN when missed), ``residual_px`` [N, 2], ``score`` [N] (NaN when missed).
    """
    from ..calibration import read_calibration

    shelf_dir = Path(shelf_dir)
    rig = read_calibration(shelf_dir / "calibration.json", fmt="shelf")
    gt = read_skeleton_file(shelf_dir / "gt.txt")
    # BODY_25 joints with a Shelf counterpart: the 12 limb joints, neck ~ mid-shoulders,
    # mid_hip ~ Shelf pelvis.
    b25 = [*SHELF_FROM_BODY25, 1, 8]
    out: dict[str, list] = {"joint": [], "residual": [], "residual_px": [], "score": []}
    for _v, cam in enumerate(rig):
        det = read_detections(shelf_dir / "detection" / f"{cam.name}.txt", cam.size)
        for f, people in enumerate(gt.people):
            for pid, X in people.items():
                ok = gt.valid[f][pid]
                pts = np.concatenate([X[:12], 0.5 * (X[8:9] + X[9:10]), X[14:15]])
                okj = np.concatenate([ok[:12], ok[8:9] & ok[9:10], ok[14:15]])
                uv = cam.project(pts)
                z = cam.depth(pts)
                inside = cam.in_image(uv) & okj & (z > 0)
                for k in np.nonzero(inside)[0]:
                    cand = det[f][b25[k]]
                    m_per_px = z[k] / cam.fx
                    out["joint"].append(b25[k])
                    if len(cand):
                        d = cand[:, :2] - uv[k]
                        i = int(np.argmin(np.linalg.norm(d, axis=1)))
                        r = d[i] * m_per_px
                        if np.linalg.norm(r) <= MISS_RADIUS_M:
                            out["residual"].append(r)
                            out["residual_px"].append(d[i])
                            out["score"].append(min(cand[i, 2], 1.0))
                            continue
                    out["residual"].append([np.nan, np.nan])
                    out["residual_px"].append([np.nan, np.nan])
                    out["score"].append(np.nan)
    return {k: np.asarray(v, dtype=float) for k, v in out.items()}


def fit_mixture(residuals: dict[str, np.ndarray], iterations: int = 200) -> dict:
    """EM fit of per-joint core sigma + shared tail sigma / per-joint tail probability."""
    joint = residuals["joint"].astype(int)
    res = residuals["residual"]
    hit = np.isfinite(res).all(1)
    r2 = np.sum(res[hit] ** 2, 1)
    jh = joint[hit]
    joints = np.unique(joint)
    sigma = {j: float(np.sqrt(np.median(r2[jh == j]) / (2 * np.log(2)))) for j in joints}
    p_tail = dict.fromkeys(joints, 0.1)
    tail = float(np.sqrt(np.mean(r2) / 2) * 3)

    def gauss(r2v: np.ndarray, s: float) -> np.ndarray:
        return np.exp(-r2v / (2 * s * s)) / (2 * np.pi * s * s)

    for _ in range(iterations):
        resp = np.empty_like(r2)
        for j in joints:
            m = jh == j
            a = (1 - p_tail[j]) * gauss(r2[m], sigma[j])
            b = p_tail[j] * gauss(r2[m], tail)
            resp[m] = b / np.maximum(a + b, 1e-300)
        for j in joints:
            m = jh == j
            wc = 1 - resp[m]
            sigma[j] = float(np.sqrt(np.sum(wc * r2[m]) / (2 * max(wc.sum(), 1e-9))))
            p_tail[j] = float(resp[m].mean())
        tail = float(np.sqrt(np.sum(resp * r2) / (2 * max(resp.sum(), 1e-9))))
    score = residuals["score"][hit]
    is_tail = resp > 0.5
    hist_core = np.histogram(score[~is_tail], CONF_BINS)[0]
    hist_tail = np.histogram(score[is_tail], CONF_BINS)[0]
    err_px = np.linalg.norm(residuals["residual_px"][hit], axis=1)
    by_conf = []
    for lo, hi in itertools.pairwise(CONF_BINS):
        m = (score >= lo) & (score < hi)
        by_conf.append(round(float(np.median(err_px[m])), 2) if m.sum() >= 20 else None)
    model: dict = {
        "description": "Shelf OpenPose BODY_25 nearest-candidate errors vs projected ground "
                       "truth; lengths in metres at the subject's depth (px * z / f).",
        "source": "shelf_4dassoc (gt.txt, detection/*.txt, calibration.json)",
        "n_samples": len(joint),
        "tail_sigma_m": round(tail, 5),
        "conf_bins": CONF_BINS.round(2).tolist(),
        "conf_hist_core": (hist_core / max(hist_core.sum(), 1)).round(4).tolist(),
        "conf_hist_tail": (hist_tail / max(hist_tail.sum(), 1)).round(4).tolist(),
        "median_error_px_by_conf": by_conf,
        "joints": {},
    }
    for j in joints:
        m = joint == j
        e = np.linalg.norm(residuals["residual_px"][m & np.isfinite(res).all(1)], axis=1)
        model["joints"][BODY25[j]] = {
            "sigma_m": round(sigma[j], 5), "p_tail": round(p_tail[j], 4),
            "p_missed": round(float((~hit[m]).mean()), 4), "n": int(m.sum()),
            "median_px": round(float(np.median(e)), 2),
            "p95_px": round(float(np.percentile(e, 95)), 2),
        }
    for name, src in BORROWED.items():
        model["joints"][name] = {**model["joints"][src], "borrowed_from": src}
    model["joints"] = {n: model["joints"][n] for n in BODY25 if n in model["joints"]}
    return model


def load_noise_model(path: Path | None = None) -> dict:
    """The committed noise model (see module docstring)."""
    return json.loads(Path(path or NOISE_MODEL_PATH).read_text())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shelf", type=Path,
                   default=Path(__file__).resolve().parents[3] / "shared/data/shelf_4dassoc")
    p.add_argument("--out", type=Path, default=NOISE_MODEL_PATH)
    a = p.parse_args(argv)
    model = fit_mixture(measure_shelf_errors(a.shelf))
    a.out.write_text(json.dumps(model, indent=1) + "\n")
    print(f"wrote {a.out} ({model['n_samples']} samples)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
