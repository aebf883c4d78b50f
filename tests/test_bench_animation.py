"""The animation benchmark's scoring (``core.bench.animation``) on CMU ground truth."""

from __future__ import annotations

import numpy as np
import pytest

from skelsplat.core.bench.animation import (
    ground_truth_scores,
    score_case,
    summarize_rows,
    write_animation_report,
)
from skelsplat.core.motion import Motion3D
from skelsplat.core.skeletons import CANONICAL_JOINTS


@pytest.fixture
def walk(shared_data):
    from skelsplat.core.bench.cmu import load_cmu_clip
    from skelsplat.core.bench.rigs import Stage, place_motion

    X = load_cmu_clip(shared_data / "cmu_mocap_amc", "02_01", 30.0, "skelsplat")
    return place_motion(X, Stage(np.zeros(3), np.array([0.0, 0.0, 1.0])), 0.7)


def test_locking_cuts_skate_without_costing_accuracy(walk, tmp_path) -> None:
    """A noisy 'fit' of the CMU walk (5 mm, correlated over 5 frames)."""
    rng = np.random.default_rng(3)
    F = len(walk)
    e = rng.normal(size=(F + 4, *walk.shape[1:])) * 0.005 * np.sqrt(5)
    noisy = walk + np.stack([e[i:i + F] for i in range(5)]).mean(0)
    names = list(CANONICAL_JOINTS)
    motion = Motion3D(noisy, names, np.ones(noisy.shape[:2], bool), fps=30.0)
    truth = ground_truth_scores(walk, names, 30.0)
    free = score_case(walk, names, motion, 30.0, lock_feet=False)
    locked = score_case(walk, names, motion, 30.0, lock_feet=True)
    # Measured: truth 2.5, free 4.5, locked 1.3 mm/frame; MPJPE 8.4 free, 9.5 locked. The
    # CMU feet slide 2.5 mm/frame while planted, so a lock costs up to ~2 mm at this low noise;
    # on real fits (``skelsplat bench animation``) the cost is under 2 % of MPJPE.
    assert 40.0 < truth["contact_pct"] < 70.0  # a walk: each foot down about half the time
    assert locked["skate_mm"] < 1.5 * truth["skate_mm"] < free["skate_mm"] * 1.5
    assert locked["skate_mm"] < 0.5 * free["skate_mm"]
    assert locked["mpjpe_mm"] - free["mpjpe_mm"] <= 2.0
    assert locked["contact_precision"] > 0.9 and locked["contact_recall"] > 0.9
    assert locked["bone_std_mm"] < 1e-6
    row = {"case": "walk", "clip": "02_01", "frames": F, "fit_s": 0.0, "fit_mpjpe_mm": 5.0,
           "truth": truth, "unlocked": free, "locked": locked}
    results = {"frames": F, "seeds": [0], "cases": [row], "summary": summarize_rows([row])}
    assert results["summary"]["skate_ratio_max"] == pytest.approx(
        locked["skate_mm"] / truth["skate_mm"])
    page = write_animation_report(results, tmp_path / "a.md").read_text()
    assert "rigid, feet locked (default)" in page and "worst case" in page
