"""Fast-vs-reference comparison of the speed benchmark: runner numbers, report verdicts."""

from __future__ import annotations

import numpy as np
import pytest

from skelsplat.core.bench import runner
from skelsplat.core.bench.report import (
    fast_reference_section,
    fast_reference_target_rows,
    fast_reference_verdict,
    write_report,
)
from skelsplat.core.fit.synthetic import project_motion, random_motion, ring_rig
from skelsplat.core.keypoints.multiview import Keypoints2D

#: Reference mode cut to 2 Adam steps (4 views) so that tests stay fast.
SHORT_REFERENCE = {"renderer": "exact", "renders_per_frame": 8}


@pytest.fixture(scope="module")
def noisy_take():
    rig = ring_rig(4)
    gt = random_motion(3, "body_25", rng=np.random.default_rng(11))
    kp = project_motion(rig, gt)
    kp[..., :2] += np.random.default_rng(12).normal(0.0, 2.0, kp[..., :2].shape)
    return rig, gt, Keypoints2D(kp, rig.names, "body_25", fps=30.0)


def test_compare_fast_reference_numbers(noisy_take):
    rig, gt, kp = noisy_take
    variants = {"fast": {},
                # reference mode again, as a "variant": must be at distance 0 exactly
                "same as reference": {"mode": "reference", **SHORT_REFERENCE}}
    out = runner.compare_fast_reference(kp, rig, gt, "cpu", SHORT_REFERENCE, variants)
    runs = out["runs"]
    assert list(runs) == ["reference", "fast", "same as reference"]
    assert out["options"]["reference"] == {"mode": "reference", **SHORT_REFERENCE}
    assert out["coverage"] == 1.0
    same, fast, ref = runs["same as reference"], runs["fast"], runs["reference"]
    assert same["mean_abs_diff_mm"] == 0.0 and same["max_abs_diff_mm"] == 0.0
    assert same["within_1mm"] == 1.0 and same["mpjpe_minus_reference_mm"] == 0.0
    # 2 px noise at ~4 m with f = 1200: errors of a few mm; the two modes differ
    assert 0.5 < ref["mpjpe_mm"] < 20 and 0.5 < fast["mpjpe_mm"] < 20
    assert 0.0 < fast["mean_abs_diff_mm"] <= fast["max_abs_diff_mm"] < 20
    assert fast["median_abs_diff_mm"] <= fast["max_abs_diff_mm"]
    per_joint = np.array(fast["per_joint_abs_diff_mm"])
    assert per_joint.shape == (25,) and per_joint.mean() == pytest.approx(
        fast["mean_abs_diff_mm"])  # every joint answered in every frame
    assert same["per_joint_abs_diff_mm"] == [0.0] * 25
    assert fast["mpjpe_minus_reference_mm"] == pytest.approx(fast["mpjpe_mm"] - ref["mpjpe_mm"])
    assert all(r["seconds"] > 0 for r in runs.values())


def test_fast_machinery_with_reference_renderer_schedule_and_dtype_is_reference(noisy_take):
    """What the report states: fast mode with the authors' loss, reference's renderer,
    schedule and float64 gives reference's joints (frames batched vs fitted alone)."""
    rig, gt, kp = noisy_take
    schedule = {"iterations": 4, "min_iterations": 4, "tolerance_mm": 0.0,
                "lr_final_fraction": 0.01, "renderer": "exact", "dtype": "float64"}
    variants = {"as reference": runner.AUTHORS_LOSS | schedule,
                "sparse windows": runner.AUTHORS_LOSS | schedule | {"renderer": "window"}}
    out = runner.compare_fast_reference(kp, rig, gt, "cpu",
                                        {"renderer": "exact", "renders_per_frame": 16}, variants)
    assert out["runs"]["as reference"]["max_abs_diff_mm"] < 1e-6
    assert out["runs"]["sparse windows"]["max_abs_diff_mm"] > 1e-3  # the check can fail


def test_compare_fast_reference_masks_unanswered_joints(noisy_take):
    rig, gt, kp = noisy_take
    data = kp.data.copy()
    data[1, :, 4, 2] = 0.0  # right wrist unseen in frame 1 by every view: nobody answers it
    kp2 = Keypoints2D(data, kp.camera_names, kp.joint_set, fps=kp.fps)
    out = runner.compare_fast_reference(kp2, rig, gt, "cpu", SHORT_REFERENCE, {"fast": {}})
    # bridged from its neighbours (gap of 1 frame), so still answered; now remove the gt
    assert out["coverage"] == 1.0
    gt2 = gt.copy()
    gt2[0, :3] = np.nan
    out = runner.compare_fast_reference(kp, rig, gt2, "cpu", SHORT_REFERENCE, {"fast": {}})
    assert out["coverage"] == pytest.approx(1 - 3 / (3 * 25))


def test_compare_fast_reference_times_out(noisy_take):
    rig, gt, kp = noisy_take
    out = runner.compare_fast_reference(kp, rig, gt, "cpu", {"renderer": "exact"},
                                        {"fast": {}}, timeout=0.5)
    assert "did not finish in 0.5 s" in out["runs"]["reference"]["error"]
    assert "fast" not in out["runs"]  # nothing to compare with: fast is not run
    rows = fast_reference_target_rows({"fast_vs_reference": {"frames": 3, "takes": [
        {"name": "noisy", "frames": 3, **out}]}})
    assert rows == ["| fast within 1 mm of reference (`noisy`, 3 frames, same input) | not "
                    "measured (did not finish in 0.5 s) | ≤ 1 mm | – |"]


def _take(name: str, d: float, dm: float, ref_mpjpe: float = 30.0) -> dict:
    fast = {"mean_abs_diff_mm": d, "median_abs_diff_mm": d / 2, "max_abs_diff_mm": 4 * d,
            "within_1mm": 0.5, "mpjpe_mm": ref_mpjpe + dm, "mpjpe_minus_reference_mm": dm,
            "seconds": 0.4}
    alt = dict(fast, mean_abs_diff_mm=d / 3, mpjpe_minus_reference_mm=dm / 2)
    return {"name": name, "frames": 4, "seed": 2, "clip": "02_05", "digest": "abc",
            "coverage": 0.96, "runs": {"reference": {"mpjpe_mm": ref_mpjpe, "seconds": 200.0},
                                       "fast": fast, "fast, authors' loss": alt}}


def test_verdicts_name_their_criterion():
    assert fast_reference_verdict({"mean_abs_diff_mm": 0.8, "mpjpe_minus_reference_mm": 3.0}) \
        == "**met** (mean distance ≤ 1 mm)"
    v = fast_reference_verdict({"mean_abs_diff_mm": 2.5, "mpjpe_minus_reference_mm": -0.4})
    assert v.startswith("**met** on MPJPE only")
    v = fast_reference_verdict({"mean_abs_diff_mm": 2.5, "mpjpe_minus_reference_mm": 1.2})
    assert v.startswith("**not met**")
    assert fast_reference_verdict({"mean_abs_diff_mm": float("nan"),
                                   "mpjpe_minus_reference_mm": 0.0}) == "–"


def test_target_rows_and_section_show_the_numbers():
    speed = {"fast_vs_reference": {"frames": 4, "reference": {"renders_per_frame": 500},
                                   "takes": [_take("noisy", 2.5, -0.4),
                                             _take("heavy", 0.6, 0.1)]}}
    rows = fast_reference_target_rows(speed)
    assert len(rows) == 2
    assert ("mean \\|fast − ref\\| 2.50 mm (median 1.25, max 10.0); MPJPE fast 29.6 vs "
            "reference 30.0 mm (Δ -0.40 mm); fast, authors' loss: 0.83 mm, "
            "Δ MPJPE -0.20 mm |") in rows[0]
    assert rows[0].endswith("(fast's MPJPE ≤ reference's + 1 mm; the answers differ by more "
                            "than 1 mm) |")
    assert "`heavy`, 4 frames" in rows[1] and "**met** (mean distance ≤ 1 mm)" in rows[1]
    table = fast_reference_section(speed["fast_vs_reference"])
    assert "| noisy | fast | 2.50 | 1.25 | 10.0 | 50% | 29.6 | -0.40 | 0.4 |" in table
    assert "| heavy | reference | – | – | – | – | 30.0 | – | 200.0 |" in table
    assert "500 renders" in table[1]
    # the legacy full-renderer result is shown only when there is no comparison
    legacy = {"reference": {"fast_vs_reference_mm": 0.7}}
    assert "0.70 mm mean distance" in fast_reference_target_rows(legacy)[0]
    assert "not measured" in fast_reference_target_rows({})[0]


def test_write_report_includes_the_comparison(tmp_path):
    speed = {"rows": [], "fast_vs_reference": {"frames": 4, "takes": [_take("noisy", 2.5, 2.0)]}}
    out = write_report({"speed": speed, "meta": {"command": "speed"}}, tmp_path / "b.md")
    text = out.read_text()
    assert "| fast within 1 mm of reference (`noisy`, 4 frames, same input) |" in text
    assert "**not met** (distance > 1 mm and MPJPE > reference's + 1 mm)" in text
    assert "| noisy | fast, authors' loss | 0.83 |" in text


def test_bench_cli_fast_vs_reference_option():
    import argparse

    from skelsplat.cli import bench_cmd

    p = argparse.ArgumentParser()
    bench_cmd.add_parser(p.add_subparsers())
    a = p.parse_args(["bench", "speed"])
    assert a.fast_vs_reference is None and not a.fast_vs_reference_heavy
    a = p.parse_args(["bench", "speed", "--fast-vs-reference", "0", "--fast-vs-reference-heavy"])
    assert a.fast_vs_reference == 0 and a.fast_vs_reference_heavy
    assert bench_cmd.FVR_FRAMES_QUICK <= bench_cmd.FVR_FRAMES


def test_run_fast_vs_reference_on_cmu(shared_data):
    takes = (*runner.REFERENCE_TAKES, runner.HEAVY_TAKE)
    out = runner.run_fast_vs_reference(shared_data, 2, "cpu", takes, progress=lambda m: None,
                                       reference=SHORT_REFERENCE)
    assert [t["name"] for t in out["takes"]] == ["noisy", runner.HEAVY_TAKE]
    assert out["reference"] == {"mode": "reference", **SHORT_REFERENCE}
    for t in out["takes"]:
        assert t["frames"] == 2 and len(t["digest"]) == 16
        assert set(t["runs"]) == {"reference", *runner.FAST_VARIANTS}
        for name in runner.FAST_VARIANTS:
            r = t["runs"][name]
            assert np.isfinite(r["mean_abs_diff_mm"]) and r["mean_abs_diff_mm"] > 0
            assert 1 < r["mpjpe_mm"] < 300


def test_run_speed_runs_the_comparison(monkeypatch, tmp_path):
    """Wiring only: the probes (fresh processes) and the comparison are stubbed."""
    def probe(data, method, frames, first=None, options=None, **kw):
        renders = (options or {}).get("renders_per_frame", 0)
        return {"method": method, "frames": first or frames, "seconds": 1.0 + renders,
                "frames_per_s": 1.0, "rss_before_mb": 1.0, "peak_rss_mb": 2.0}

    calls = []
    monkeypatch.setattr(runner, "_probe", probe)
    monkeypatch.setattr(runner, "run_fast_vs_reference",
                        lambda data, n, device, takes, timeout, progress:
                        calls.append((n, takes, timeout)) or {"frames": n, "takes": []})
    steps = []
    out = runner.run_speed(tmp_path, (10,), "cpu", tmp_path, fitter_timeout=100.0,
                           fast_vs_reference=6, progress=steps.append)
    assert calls == [(6, runner.REFERENCE_TAKES, 300.0)]
    assert out["fast_vs_reference"] == {"frames": 6, "takes": []}
    assert out["reference"]["seconds_per_render"] == pytest.approx(1.0)  # (25 - 9) / 16
    assert len(steps) == 4 + 2  # 4 methods x 1 length, 2 reference timings
    calls.clear()
    out = runner.run_speed(tmp_path, (10,), "cpu", tmp_path, progress=steps.append)
    assert calls == [] and "fast_vs_reference" not in out
