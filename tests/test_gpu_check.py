"""The GPU check (core/bench/gpu_check.py): a CPU smoke run here, the GPU goals on CUDA."""

from __future__ import annotations

import json

import pytest

from skelsplat.core.bench import gpu_check


def test_cpu_smoke_run_writes_every_section(shared_data, tmp_path):
    out = tmp_path / "r.json"
    res = gpu_check.run_checks(shared_data, out, device="cpu", quick=True,
                               log=lambda _msg: None)
    saved = json.loads(out.read_text())
    assert set(saved["sections"]) == {"renderer_equivalence", "fit_equivalence", "throughput",
                                      "reference"}
    assert "skipped" in saved["sections"]["renderer_equivalence"]  # gsplat needs CUDA
    fe = res["sections"]["fit_equivalence"]
    d = fe["vs_cpu"]["cpu window, 16-frame chunks"]
    assert d["entries"] > 0.9 * 32 * 25 and d["validity_differs"] == 0
    assert d["max_mm"] == 0.0  # batching never changes the fit
    tp = res["sections"]["throughput"]["runs"]
    assert [(r["views"], r["renderer"]) for r in tp] == [(4, "window"), (8, "window")]
    assert all(r["frames_per_s"] > 1 and r["mpjpe_mm"] < 60 for r in tp)
    ref = res["sections"]["reference"]["takes"]["synthetic noisy (ring of 4)"]
    assert ref["frames"] == 4 and 0 < ref["coverage"] <= 1
    assert ref["speedup_fast_over_reference"] == pytest.approx(
        ref["reference_s_per_frame"] * ref["fast_frames_per_s_4_views"])
    md = gpu_check.markdown_section(res)
    assert "| 4 x 25 | window |" in md and "gsplat needs CUDA" in md


def test_joint_distance_counts_validity_differences():
    import numpy as np

    X = np.zeros((2, 3, 3))
    Y = X.copy()
    Y[0, 0] = [0.001, 0, 0]
    Y[1, 2] = np.nan
    d = gpu_check.joint_distance_mm(X, Y)
    assert d["max_mm"] == pytest.approx(1.0) and d["entries"] == 5
    assert d["validity_differs"] == 1


@pytest.mark.gpu
def test_fast_fit_on_cuda_matches_cpu(shared_data):
    res = gpu_check.fit_equivalence(shared_data, "cuda", frames=64)
    for name, d in res["vs_cpu"].items():
        assert d["validity_differs"] == 0, name
        assert d["max_mm"] <= gpu_check.FIT_TOL_MM, (name, d)


@pytest.mark.gpu
def test_gsplat_matches_pytorch_renderer_at_full_size():
    res = gpu_check.renderer_equivalence("cuda")
    assert res["max_rel"] <= gpu_check.LOSS_RTOL, res["cases"]


def test_report_renders_recorded_gpu_results(tmp_path):
    from skelsplat.core.bench.report import gpu_target_row, load_gpu_results

    assert "not measured" in gpu_target_row(load_gpu_results(tmp_path / "none.json"))
    res = {"device": {"gpu": "NVIDIA H200"}, "sections": {"throughput": {
        "frames": 3000, "note": "cut after the 4-view runs",
        "runs": [{"views": 4, "joints": 25, "frames": 3000, "renderer": "window",
                  "chunk_frames": 256, "frames_per_s": 199.0},
                 {"views": 4, "joints": 25, "frames": 128, "renderer": "gsplat",
                  "chunk_frames": 32, "frames_per_s": 1.8}]}}}
    row = gpu_target_row(res)
    assert "199 frames/s on an NVIDIA H200 (window renderer, 3000 frames" in row
    assert row.endswith("**not met** |")
    res["sections"]["throughput"]["runs"][0]["frames_per_s"] = 6000.0
    assert gpu_target_row(res).endswith("**met** |")
    md = gpu_check.markdown_section(res)
    assert "Cut after the 4-view runs." in md and "| 4 x 25 | gsplat | 128 | 32 | 2 |" in md


def test_recorded_gpu_run_is_rendered_in_the_benchmarks():
    from skelsplat.core.bench.report import GPU_RESULTS, load_gpu_results

    gpu = load_gpu_results()
    assert GPU_RESULTS.is_file() and gpu["device"]["gpu"] == "NVIDIA H200"
    fe = gpu["sections"]["fit_equivalence"]["vs_cpu"]["cuda window"]
    assert fe["max_mm"] <= gpu_check.FIT_TOL_MM and fe["validity_differs"] == 0
