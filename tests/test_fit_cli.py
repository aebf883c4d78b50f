"""``skelsplat fit`` end to end on a synthetic take written to disk."""

from __future__ import annotations

import numpy as np
import pytest

from skelsplat.cli.main import main
from skelsplat.core.fit.synthetic import project_motion, random_motion, ring_rig
from skelsplat.core.keypoints.multiview import Keypoints2D
from skelsplat.core.motion import Motion3D
from skelsplat.core.skeletons import get_joint_set


@pytest.fixture
def take_files(tmp_path):
    from skelsplat.core.calibration import write_calibration_toml
    from skelsplat.core.keypoints import write_keypoints_npz

    rig = ring_rig(4, distortion=-0.05)
    X = random_motion(6, rng=np.random.default_rng(8))
    kp = Keypoints2D(project_motion(rig, X), rig.names, "body_25", fps=30.0)
    cal = write_calibration_toml(rig, tmp_path / "cal.toml")
    kpf = tmp_path / "kp.npz"
    write_keypoints_npz(kp, kpf)
    return cal, kpf, X


def test_fit_cli_writes_canonical_npz(take_files, tmp_path, capsys):
    cal, kpf, X = take_files
    out = tmp_path / "out" / "motion.npz"
    rc = main(["fit", "--calibration", str(cal), "--keypoints", str(kpf), "--out", str(out),
               "--quiet"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "fitted 6 frames x 25 joints (body_25) from 4 cameras" in text
    m = Motion3D.load_npz(out)
    W, names = get_joint_set("body_25").canonical_weights()
    assert m.joint_names == names and m.valid.all()
    assert m.covariances.shape == (6, len(names), 3, 3)
    assert m.reprojection_error_px.shape == (6, 4, len(names))
    truth = np.einsum("cj,fjd->fcd", W, X)
    err_mm = np.linalg.norm(m.joints3d - truth, axis=-1) * 1000
    assert err_mm.mean() < 0.5 and err_mm.max() < 1.5
    # refuses to overwrite; bad suffix; both one-line errors with exit code 2
    assert main(["fit", "--calibration", str(cal), "--keypoints", str(kpf), "--out",
                 str(out), "--quiet"]) == 2
    assert "exists" in capsys.readouterr().err
    assert main(["fit", "--calibration", str(cal), "--keypoints", str(kpf), "--out",
                 str(tmp_path / "x.bvh"), "--quiet"]) == 2
    assert main(["fit", "--calibration", str(cal), "--keypoints", str(kpf), "--out",
                 str(tmp_path / "x.trc"), "--smooth", "butterworth", "--quiet"]) == 0
    assert (tmp_path / "x.trc").stat().st_size > 1000
