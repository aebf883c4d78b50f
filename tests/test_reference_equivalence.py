"""Reference mode with the ``exact`` renderer gives the joints of the full-image renderer.

The benchmark measures reference-mode *accuracy* with ``renderer="exact"`` (stride-1
windows covering every support) because full images cost ~10 s a render on a CPU. This
checks the substitution end to end through ``fit_take``: same detections, same authors'
settings, a few renders, on small images where the full renderer is affordable.
"""

from __future__ import annotations

import numpy as np
import pytest

from skelsplat.core.fit import FitOptions, fit_take
from skelsplat.core.fit.synthetic import project_motion, random_motion, ring_rig
from skelsplat.core.keypoints.multiview import Keypoints2D


@pytest.fixture(scope="module")
def small_take():
    """2 frames, 4 views of 160 x 120 px (the person ~70 px tall, joints overlapping),
    1.5 px detection noise, one view of one joint missing, one low-confidence detection."""
    rig = ring_rig(4, f=150.0, size=(160, 120))
    gt = random_motion(2, "body_25", rng=np.random.default_rng(7))
    kp = project_motion(rig, gt)
    rng = np.random.default_rng(8)
    kp[..., :2] += rng.normal(0.0, 1.5, kp[..., :2].shape)
    kp[0, 1, 4, 2] = 0.0  # right wrist unseen by cam1 in frame 0
    kp[1, 2, 7, 2] = 0.3
    return rig, Keypoints2D(kp, rig.names, "body_25", fps=30.0)


@pytest.mark.parametrize("renders", [8, 20])
def test_reference_exact_renderer_matches_full_images(small_take, renders):
    rig, kp = small_take
    out = {}
    for renderer in ("full", "exact"):
        res = fit_take(kp, rig, FitOptions(mode="reference", renderer=renderer, device="cpu",
                                           renders_per_frame=renders))
        assert res.diagnostics["renderer"] == renderer
        assert res.diagnostics["iterations_max"] == renders // 4
        out[renderer] = res
    full, exact = out["full"], out["exact"]
    assert full.valid.all() and exact.valid.all()
    moved = np.linalg.norm(exact.joints3d - exact.initial, axis=-1) * 1000.0
    assert moved.max() > 0.1  # the fit did move the joints (mm)
    diff = np.linalg.norm(exact.joints3d - full.joints3d, axis=-1) * 1000.0
    assert diff.max() < 1e-3  # mm
    # m^2; diagonal ~4e-4, off-diagonal entries ~1e-7 differ in rounding only
    np.testing.assert_allclose(exact.covariances, full.covariances, rtol=1e-6, atol=1e-10)
    np.testing.assert_allclose(exact.diagnostics["final_loss"], full.diagnostics["final_loss"],
                               rtol=1e-6)


def test_exact_windows_ignore_unweighted_channels():
    """A missing detection (weight 0, placeholder position far away) must not size the
    windows: on the benchmark takes it made them ~900 px wide and ran out of memory."""
    import torch

    from skelsplat.core.render import Targets, exact_windows
    from skelsplat.core.render.gaussians import SUPPORT_SIGMAS, conic

    g = torch.Generator().manual_seed(0)
    m2 = 300.0 + 50.0 * torch.rand(1, 2, 4, 2, generator=g, dtype=torch.float64)
    cov = torch.diag_embed(torch.full((1, 2, 4, 2), 9.0, dtype=torch.float64))  # sigma 3 px
    det = m2 + 2.0
    weight = torch.ones(1, 2, 4, dtype=torch.float64)
    n_ok = exact_windows(Targets(det, weight, cov, conic(cov)), m2, cov).n
    det[0, 1, 2] = torch.tensor([0.0, 0.0])
    weight[0, 1, 2] = 0.0
    assert exact_windows(Targets(det, weight, cov, conic(cov)), m2, cov).n == n_ok
    weight[0, 1, 2] = 0.5  # the same far-off detection with weight counts
    assert exact_windows(Targets(det, weight, cov, conic(cov)), m2, cov).n > 300
    # support (3.33 sigma) + half the 2 px gap + 1 px margin, on each side
    assert n_ok == 2 * int(np.ceil(SUPPORT_SIGMAS * 3.0 + 1.0 + 1.0)) + 1
