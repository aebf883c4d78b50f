"""Measure real 2D detector errors on Shelf and fit the benchmark's noise model.

For every ground-truth actor, camera, frame and joint we project the ground truth into
the image and take the OpenPose candidate nearest to it. Errors are expressed in metres
at the subject's depth (``pixels * z / f``), so the model transfers to rigs with other
resolutions and distances. Per joint we fit, by EM, a two-component mixture of isotropic
2D Gaussians: a core (``sigma`` per joint) and a shared wide tail (``tail_sigma``) with a
per-joint tail probability ``p_tail``. Points that have no candidate within 0.5 m are
counted as missed (``p_missed``). Detector scores are histogrammed separately for
core and tail points (confidence vs error).

Time (``"temporal"`` in the model, :func:`fit_temporal`): the same residuals as series
per camera, actor and joint over Shelf's 301 frames. Measured (:func:`temporal_statistics`):
the share of the squared residual held by each series' constant part (bias), and the
autocorrelation at lags 1, 2, 5, 10, 25 frames, raw and with each series' mean removed;
tail and miss run lengths. The generative model (``corruption.synthesize_detections``):
core = sqrt(beta) x bias per camera/joint + sqrt(1 - beta) x a sum of two AR(1)
processes; tail offsets held over Markov runs; misses in Markov runs. Its parameters
(beta, weights, AR coefficients) are chosen so that series simulated on Shelf's own
frame/visibility grid reproduce the measured statistics (Nelder-Mead, common random
numbers).

Regenerate the committed JSON with ``python -m skelsplat.core.bench.noise_calibration``
(:func:`build_noise_model`).
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

import numpy as np

from .corruption import _markov_mask, ar_mixture, tail_offsets
from .shelf import SHELF_FROM_BODY25, read_detections, read_skeleton_file

#: Lags (frames) of the autocorrelation statistics.
LAGS = (1, 2, 5, 10, 25)
#: Series with fewer matched samples are left out of the statistics.
MIN_SERIES = 10

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


def measure_shelf_series(shelf_dir: Path) -> dict[str, np.ndarray]:
    """Nearest-candidate residuals as time series, one per (camera, actor, joint).

    Returns ``residual`` [S, T, 2] metres at depth (NaN where missed or not visible),
    ``observed`` [S, T] (ground truth visible in the image: a residual or a miss),
    ``joint`` [S] (BODY_25 index), ``score`` [S, T].
    """
    from ..calibration import read_calibration

    shelf_dir = Path(shelf_dir)
    rig = read_calibration(shelf_dir / "calibration.json", fmt="shelf")
    gt = read_skeleton_file(shelf_dir / "gt.txt")
    b25 = [*SHELF_FROM_BODY25, 1, 8]
    pids = sorted({p for people in gt.people for p in people})
    T = gt.n_frames
    res, obs, joint, score = [], [], [], []
    for cam in rig:
        det = read_detections(shelf_dir / "detection" / f"{cam.name}.txt", cam.size)
        for pid in pids:
            X, _ = gt.track(pid)
            pts = np.concatenate([X[:, :12], 0.5 * (X[:, 8:9] + X[:, 9:10]), X[:, 14:15]], 1)
            ok = np.isfinite(pts).all(-1)  # [T, 14]
            uv = cam.project(np.nan_to_num(pts).reshape(-1, 3)).reshape(T, -1, 2)
            z = cam.depth(np.nan_to_num(pts).reshape(-1, 3)).reshape(T, -1)
            vis = ok & (z > 0) & cam.in_image(uv.reshape(-1, 2)).reshape(T, -1)
            for k in range(pts.shape[1]):
                r = np.full((T, 2), np.nan)
                sc = np.full(T, np.nan)
                for f in np.flatnonzero(vis[:, k]):
                    cand = det[f][b25[k]]
                    if len(cand):
                        d = cand[:, :2] - uv[f, k]
                        i = int(np.argmin(np.linalg.norm(d, axis=1)))
                        m = d[i] * z[f, k] / cam.fx
                        if np.linalg.norm(m) <= MISS_RADIUS_M:
                            r[f], sc[f] = m, min(cand[i, 2], 1.0)
                res.append(r)
                obs.append(vis[:, k])
                joint.append(b25[k])
                score.append(sc)
    return {"residual": np.array(res), "observed": np.array(obs), "joint": np.array(joint),
            "score": np.array(score)}


def temporal_statistics(residual: np.ndarray, lags: tuple[int, ...] = LAGS,
                        min_samples: int = MIN_SERIES) -> dict:
    """Bias share and autocorrelations of residual series [S, T, 2] (NaN = no sample).

    ``bias_share`` = sum_s n_s |mean_s|^2 / sum |r|^2; ``acf_raw[k]`` / ``acf_demeaned[k]``
    = sum r_t . r_{t+k} / sum (|r_t|^2 + |r_{t+k}|^2) / 2 over the pairs of samples k
    frames apart, of the residuals / the residuals minus their series' mean (pooled over
    series with at least ``min_samples`` samples)."""
    ok = np.isfinite(residual).all(-1)
    n = ok.sum(1)
    keep = n >= min_samples
    r, ok, n = residual[keep], ok[keep], n[keep]
    x = np.where(ok[..., None], r, 0.0)
    mean = x.sum(1) / n[:, None]
    out: dict = {"bias_share": float((n * (mean ** 2).sum(-1)).sum() / (x ** 2).sum()),
                 "lags": list(lags)}
    for name, y in (("acf_raw", x), ("acf_demeaned", np.where(ok[..., None],
                                                               r - mean[:, None], 0.0))):
        acf = []
        for k in lags:
            both = ok[:, k:] & ok[:, :-k]
            num = (y[:, k:] * y[:, :-k]).sum(-1)[both].sum()
            den = 0.5 * ((y[:, k:] ** 2).sum(-1) + (y[:, :-k] ** 2).sum(-1))[both].sum()
            acf.append(float(num / den))
        out[name] = acf
    return out


def simulate_series(model: dict, joint: np.ndarray, observed: np.ndarray,
                    rng: np.random.Generator) -> np.ndarray:
    """Residual series [S, T, 2] (metres at depth; NaN where missed or not ``observed``)
    drawn from ``model`` for series of BODY_25 joints ``joint`` [S]: what
    ``corruption.synthesize_detections`` draws per (camera, joint), on a given grid."""
    tm = model["temporal"]
    S, T = observed.shape
    jm = [model["joints"][BODY25[j]] for j in joint]
    sigma = np.array([m["sigma_m"] for m in jm])[:, None]  # [S, 1]
    p_tail = np.array([m["p_tail"] for m in jm])
    p_miss = np.array([m["p_missed"] for m in jm])
    ar = ar_mixture(rng, T, (S, 2), tm["ar_weights"], tm["ar_rhos"])  # [T, S, 2]
    bias = rng.standard_normal((S, 2))
    beta = tm["bias_share"]
    core = (np.sqrt(1 - beta) * ar + np.sqrt(beta) * bias) * sigma
    tail_on = _markov_mask(rng, T, (S,), p_tail, tm["tail_run_frames"])
    tail = tail_offsets(rng, T, (S, 2), tm["tail_rho"]) * model["tail_sigma_m"]
    missed = _markov_mask(rng, T, (S,), p_miss, tm["miss_run_frames"])
    r = np.where(tail_on[..., None], tail, core)
    r[missed | ~observed.T] = np.nan
    return np.moveaxis(r, 0, 1)


def _mean_run(on: np.ndarray, valid: np.ndarray) -> float:
    """Mean length of the runs of ``on`` [S, T] (runs broken by invalid frames)."""
    x = on & valid
    starts = x & ~np.concatenate([np.zeros((len(x), 1), bool), x[:, :-1]], 1)
    return float(x.sum() / max(starts.sum(), 1))


def _match(target: dict) -> np.ndarray:
    return np.array([*target["acf_raw"], *target["acf_demeaned"],
                     2.0 * target["bias_share"]])


def fit_temporal(series: dict[str, np.ndarray], model: dict, seed: int = 0,
                 replicates: int = 3) -> dict:
    """The ``"temporal"`` section of the noise model (see the module docstring) from
    :func:`measure_shelf_series` and the per-joint model of :func:`fit_mixture`. The
    simulated statistics pool ``replicates`` copies of Shelf's grid (a few tail series
    dominate them; one copy leaves ~0.05 of sampling noise)."""
    from scipy.optimize import minimize

    res, obs, joint = series["residual"], series["observed"], series["joint"]
    hit = np.isfinite(res).all(-1)
    sig = np.array([model["joints"][BODY25[j]]["sigma_m"] for j in joint])[:, None]
    p_tail = np.array([model["joints"][BODY25[j]]["p_tail"] for j in joint])[:, None]
    r2 = (np.nan_to_num(res) ** 2).sum(-1)
    t2 = model["tail_sigma_m"] ** 2
    core_l = (1 - p_tail) * np.exp(-r2 / (2 * sig ** 2)) / sig ** 2
    tail_l = p_tail * np.exp(-r2 / (2 * t2)) / t2
    is_tail = hit & (tail_l > core_l)
    measured = temporal_statistics(res)
    runs = {"tail_run_frames": _mean_run(is_tail, obs),
            "miss_run_frames": round(_mean_run(obs & ~hit, obs), 2)}
    target = _match(measured)

    def params(p: np.ndarray) -> dict:
        q = 1.0 / (1.0 + np.exp(-p))  # every parameter through a logistic: in (0, 1)
        return {"miss_run_frames": runs["miss_run_frames"],
                "tail_run_frames": float(1.0 + 60.0 * q[4]), "tail_rho": float(q[5]),
                "bias_share": float(0.95 * q[0]),
                "ar_weights": [float(q[1]), float(1 - q[1])],
                "ar_rhos": [float(0.99 * q[2]), float(0.999 * q[3])]}

    joint_r, obs_r = np.tile(joint, replicates), np.tile(obs, (replicates, 1))

    def loss(p: np.ndarray) -> float:
        trial = {**model, "temporal": params(p)}
        sim = simulate_series(trial, joint_r, obs_r, np.random.default_rng(seed))
        return float(((_match(temporal_statistics(sim)) - target) ** 2).sum())

    def logit(x: float) -> float:
        return float(np.log(x / (1 - x)))

    start = np.array([logit(0.3 / 0.95), 0.0, logit(0.5 / 0.99), logit(0.95 / 0.999),
                      logit((runs["tail_run_frames"] - 1) / 60.0), logit(0.9)])
    best = minimize(loss, start, method="Nelder-Mead",
                    options={"xatol": 1e-3, "fatol": 1e-7, "maxiter": 600})
    out = {k: (round(v, 4) if isinstance(v, float) else [round(x, 4) for x in v])
           if not isinstance(v, int) else v for k, v in params(best.x).items()}
    sim = simulate_series({**model, "temporal": out}, joint_r, obs_r,
                          np.random.default_rng(seed))
    rnd = {k: (round(v, 4) if isinstance(v, float) else
               [round(x, 4) if isinstance(x, float) else x for x in v])
           for k, v in measured.items()}
    out["shelf_statistics"] = rnd
    out["simulated_statistics"] = {k: (round(v, 4) if isinstance(v, float) else
                                       [round(x, 4) if isinstance(x, float) else x for x in v])
                                   for k, v in temporal_statistics(sim).items()}
    out["note"] = ("per frame of Shelf's video, applied per frame of the synthetic takes; "
                   "bias_share = share of the core variance that is constant per camera "
                   "and joint")
    return out


def build_noise_model(shelf_dir: Path) -> dict:
    """The whole noise model: per-joint mixture (:func:`fit_mixture`) + time
    (:func:`fit_temporal`)."""
    model = fit_mixture(measure_shelf_errors(shelf_dir))
    model["temporal"] = fit_temporal(measure_shelf_series(shelf_dir), model)
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
    model = build_noise_model(a.shelf)
    a.out.write_text(json.dumps(model, indent=1) + "\n")
    print(f"wrote {a.out} ({model['n_samples']} samples)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
