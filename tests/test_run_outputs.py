"""``run`` writes into a staging folder moved into place only when every stage succeeded
(issue 17): cancel and failure leave the earlier output untouched, ``--overwrite`` replaces
the earlier set whole, and the default folder is claimed atomically."""

from __future__ import annotations

import errno
import hashlib
import os
import threading
from pathlib import Path

import numpy as np
import pytest

from skelsplat.core.calibration import write_calibration_toml
from skelsplat.core.errors import Cancelled, ExportError
from skelsplat.core.fit.synthetic import project_motion, random_motion, ring_rig
from skelsplat.core.keypoints import write_keypoints_npz
from skelsplat.core.keypoints.multiview import Keypoints2D
from skelsplat.core.pipeline import (
    CLAIM_MARKER,
    RunOptions,
    SilentReporter,
    claim_default_out_dir,
    run_pipeline,
)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("run_inputs")
    rig = ring_rig(4)
    X = random_motion(12, "body_25", rng=np.random.default_rng(1))
    kp = Keypoints2D(project_motion(rig, X), rig.names, "body_25", fps=30.0)
    return {"calibration": write_calibration_toml(rig, root / "cal.toml"),
            "keypoints": write_keypoints_npz(kp, root / "kp.npz")}


def fake_blender(job, progress) -> list[Path]:
    for p in (job.blend, job.fbx, job.bvh):
        p.write_bytes(b"blender " + os.urandom(8))
    return [job.blend, job.fbx, job.bvh]


def _run(inputs: dict, out: Path | None, reporter=None, **kw):
    opts = RunOptions(calibration=inputs["calibration"], keypoints=inputs["keypoints"],
                      out_dir=out, take_name="t", report_frames=1, **kw)
    return run_pipeline(opts, blender_stage=fake_blender, reporter=reporter)


def _snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


class StopAt(SilentReporter):
    """Raises ``exc`` when ``stage`` starts (Ctrl-C / a failure in the middle of a run)."""

    def __init__(self, stage: str, exc: BaseException) -> None:
        super().__init__()
        self.stage, self.exc = stage, exc

    def stage_started(self, stage: str, label: str) -> None:
        if stage == self.stage:
            raise self.exc


@pytest.mark.parametrize("stage", ["blender", "report"])
def test_ctrl_c_during_overwrite_leaves_the_earlier_run(inputs, tmp_path, stage):
    out = tmp_path / "o"
    _run(inputs, out)
    before = _snapshot(tmp_path)
    assert {"o/joints.npz", "o/take.blend", "o/report.html"} <= set(before)
    with pytest.raises(KeyboardInterrupt):
        _run(inputs, out, StopAt(stage, KeyboardInterrupt()), overwrite=True)
    with pytest.raises(Cancelled):
        _run(inputs, out, StopAt(stage, Cancelled("stop")), overwrite=True)
    assert _snapshot(tmp_path) == before  # same files, same bytes; no take.blend1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o"]  # no staging folder left


def test_disk_full_in_the_report_leaves_the_earlier_run(inputs, tmp_path, monkeypatch):
    import skelsplat.core.atomic as atomic

    out = tmp_path / "o"
    _run(inputs, out)
    before = _snapshot(tmp_path)
    real = os.fsync

    def fsync(fd: int) -> None:
        if "report.html" in os.readlink(f"/proc/self/fd/{fd}"):
            raise OSError(errno.ENOSPC, "No space left on device")
        real(fd)

    monkeypatch.setattr(atomic.os, "fsync", fsync)
    with pytest.raises(ExportError, match=r"report\.html: the disk is full"):
        _run(inputs, out, overwrite=True)
    assert _snapshot(tmp_path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o"]


@pytest.mark.parametrize("users_file", [False, True])
def test_overwrite_replaces_the_set_whole_and_keeps_the_users_files(inputs, tmp_path,
                                                                     users_file):
    out = tmp_path / "o"
    _run(inputs, out)
    (out / "overlay_oldcam.png").write_bytes(b"an earlier run's camera")
    (out / "take.blend1").write_bytes(b"an earlier backup")
    if users_file:  # the folder is not only a run's: it is never moved, files go in one by one
        (out / "notes.txt").write_text("the user's own")
    old = _snapshot(out)
    result = _run(inputs, out, overwrite=True)
    now = _snapshot(out)
    assert "overlay_oldcam.png" not in now and "take.blend1" not in now  # not mixed in
    assert now.get("notes.txt") == old.get("notes.txt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o"]
    assert now["take.blend"] != old["take.blend"]  # the new set
    assert sorted(str(p.relative_to(out)) for p in result.files) == sorted(
        n for n in now if n != "notes.txt")
    assert all(p.is_file() for p in result.files)
    # without --overwrite into a folder holding only the user's files: they stay
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    _run(inputs, mine)
    assert (mine / "notes.txt").read_text() == "keep" and (mine / "joints.npz").is_file()


def test_out_dot_writes_into_the_working_folder(inputs, tmp_path, monkeypatch):
    here = tmp_path / "work"
    here.mkdir()
    (here / "notes.txt").write_text("keep")
    monkeypatch.chdir(here)
    result = _run(inputs, Path("."))
    assert (here / "notes.txt").read_text() == "keep" and (here / "report.html").is_file()
    assert all(p.is_file() for p in result.files)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["work"]


def test_default_folder_is_claimed_atomically(tmp_path):
    base = tmp_path / "skelsplat_out" / "demo"
    got: list[Path] = []
    barrier = threading.Barrier(6)

    def claim() -> None:
        barrier.wait()
        got.append(claim_default_out_dir(base, overwrite=False)[0])

    threads = [threading.Thread(target=claim) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(p.name for p in got) == ["demo", "demo-2", "demo-3", "demo-4", "demo-5",
                                           "demo-6"]
    assert all((p / CLAIM_MARKER).is_file() for p in got)


def test_default_folder_run_releases_its_claim(inputs, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    first = _run(inputs, None)
    assert first.inputs.out_dir == Path("skelsplat_out") / "t"
    claimed = claim_default_out_dir(Path("skelsplat_out") / "t", overwrite=False)[0]
    assert claimed.name == "t-2"  # as a second run started meanwhile would
    second = _run(inputs, None)
    assert second.inputs.out_dir.name == "t-3"
    assert not (Path("skelsplat_out") / "t" / CLAIM_MARKER).exists()
    assert not (second.inputs.out_dir / CLAIM_MARKER).exists()
    # a failing run gives its claimed folder back
    with pytest.raises(KeyboardInterrupt):
        _run(inputs, None, StopAt("fit", KeyboardInterrupt()))
    assert sorted(p.name for p in Path("skelsplat_out").iterdir()) == ["t", "t-2", "t-3"]
