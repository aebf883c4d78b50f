"""``skelsplat run`` and core.pipeline: a synthetic take end to end, input rules, no clobbering,
and (slow) the bundled demo."""

from __future__ import annotations

import contextlib
import io
import os
import re
import threading
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread
from test_report import canonical_motion, synthetic_keypoints, synthetic_motion, synthetic_rig

from skelsplat.cli.main import main
from skelsplat.core.calibration import write_calibration_toml
from skelsplat.core.detect import DetectOptions
from skelsplat.core.errors import Cancelled, ExportError, SkelsplatError
from skelsplat.core.motion import Motion3D
from skelsplat.core.pipeline import (
    BlenderJob,
    RunOptions,
    planned_outputs,
    resolve_inputs,
    run_pipeline,
)
from skelsplat.core.report import REPORT_NAME, figure_names
from skelsplat.core.stages import TakeSettings
from skelsplat.core.video import write_video

N_FRAMES = 8
FOOTAGE_RGB = (40, 110, 190)


@pytest.fixture(scope="module")
def synthetic_take(tmp_path_factory) -> dict:
    """A 4-camera rig written as TOML and noise-free BODY_25 keypoints as NPZ."""
    root = tmp_path_factory.mktemp("synthetic_take")
    rig = synthetic_rig()
    joints = synthetic_motion(N_FRAMES)
    kp = synthetic_keypoints(rig, joints, conf=0.9, fps=30.0)
    calib = write_calibration_toml(rig, root / "calib.toml")
    npz = root / "keypoints.npz"
    np.savez(npz, keypoints=kp.data, camera_names=np.array(rig.names), joint_set="body_25",
             fps=30.0)
    return {"rig": rig, "joints": joints, "calibration": calib, "keypoints": npz}


def _summary_values(stdout: str) -> list[str]:
    """The value column of the terminal summary (lines '  label  value')."""
    body = stdout.split("SkelSplat run summary", 1)[1].split("files written", 1)[0]
    return [re.split(r"\s{2,}", line.strip(), maxsplit=1)[1]
            for line in body.strip().splitlines() if re.search(r"\S\s{2,}\S", line)]


def _check_report_matches_stdout(out_dir: Path, stdout: str) -> None:
    page = (out_dir / REPORT_NAME).read_text()
    values = _summary_values(stdout)
    assert len(values) >= 8
    for value in values[:-1]:  # the per-camera line is a table in the HTML
        assert f"<td>{value}</td>" in page, value
    for part in values[-1].split(", "):
        cam, px = part.split(" ", 1)
        assert f'<td>{cam}</td><td class="num">{px}</td>' in page


@pytest.fixture(scope="module")
def cli_run(synthetic_take, tmp_path_factory) -> dict:
    """One full ``skelsplat run --calibration --keypoints`` (Blender stage included)."""
    pytest.importorskip("bpy")
    out = tmp_path_factory.mktemp("run") / "out"
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        rc = main(["run", "--calibration", str(synthetic_take["calibration"]),
                   "--keypoints", str(synthetic_take["keypoints"]), "--out", str(out),
                   "--name", "synth"])
    return {"rc": rc, "out": out, "stdout": stdout.getvalue(), "stderr": stderr.getvalue()}


@pytest.mark.bpy
def test_run_with_keypoints_writes_every_file(cli_run, synthetic_take):
    assert cli_run["rc"] == 0, cli_run["stderr"]
    out = cli_run["out"]
    names = ["take.blend", "take.fbx", "take.bvh", "joints.npz", "joints.trc", REPORT_NAME,
             *figure_names(synthetic_take["rig"].names)]
    for name in names:
        assert (out / name).stat().st_size > 500, name
    assert sorted(p.name for p in out.iterdir()) == sorted(names)
    for name in names:
        assert name in cli_run["stdout"]  # listed under "files written"
    bvh = (out / "take.bvh").read_text()
    assert re.search(rf"Frames:\s*{N_FRAMES}\b", bvh)
    assert "footage     skipped" in cli_run["stderr"]
    assert "detect      skipped" in cli_run["stderr"]


@pytest.mark.bpy
def test_run_summary_is_what_the_report_shows(cli_run):
    stdout = cli_run["stdout"]
    _check_report_matches_stdout(cli_run["out"], stdout)
    assert re.search(rf"frames\s+{N_FRAMES}\n", stdout)
    assert "4 (cam01, cam02, cam03, cam04)" in stdout
    assert "100.0 % valid joints" in stdout
    timing = re.search(r"time per stage \(s\)\s+(.*)\n", stdout).group(1)
    assert [t.split()[0] for t in timing.split(", ")] == [
        "calibration", "keypoints", "fit", "animate", "export", "blender", "report"]


@pytest.mark.bpy
def test_run_fit_recovers_the_synthetic_motion(cli_run, synthetic_take):
    motion = Motion3D.load_npz(cli_run["out"] / "joints.npz")
    gt = canonical_motion(synthetic_take["joints"])
    assert motion.joint_names == gt.joint_names
    assert motion.n_frames == N_FRAMES and motion.valid.all()
    err_mm = 1000 * np.linalg.norm(motion.joints3d - gt.joints3d, axis=-1)
    assert np.mean(err_mm) < 5.0  # noise-free keypoints
    px = float(re.search(r"mean reprojection error\s+([\d.]+) px", cli_run["stdout"]).group(1))
    assert px < 1.0


def test_pipeline_hands_the_blender_stage_its_job_and_never_clobbers(synthetic_take, tmp_path,
                                                                     capsys):
    jobs: list[BlenderJob] = []

    def fake_blender(job: BlenderJob, progress) -> list[Path]:
        jobs.append(job)
        progress(0.5, "half")
        for p in (job.blend, job.fbx, job.bvh):
            p.write_bytes(b"x" * 10)
        return [job.blend, job.fbx, job.bvh]

    # Footage: one small solid-colour video per camera (detections come from the NPZ).
    rig = synthetic_take["rig"]
    videos = tmp_path / "videos"
    videos.mkdir()
    frames = np.empty((N_FRAMES, 480, 636, 3), np.uint8)  # 4 px narrower than calibrated
    frames[:] = FOOTAGE_RGB
    for name in rig.names:
        write_video(videos / f"{name}.mp4", frames, fps=30.0)
    out = tmp_path / "o"
    out.mkdir()
    (out / "joints.trc").write_text("old")
    opts = RunOptions(videos=[videos], calibration=synthetic_take["calibration"],
                      keypoints=synthetic_take["keypoints"], out_dir=out, take_name="synth",
                      report_frames=2, overwrite=True)
    result = run_pipeline(opts, blender_stage=fake_blender)
    (job,) = jobs
    assert job.take_name == "synth" and job.fps == 30.0
    assert job.videos == {n: videos / f"{n}.mp4" for n in rig.names}
    assert job.offsets == {c: 0 for c in rig.names}
    assert job.rig["cam03"].size == (636, 480)  # reconciled to the footage
    crop = [w for w in result.warnings if "cropped at the right/bottom" in w]
    assert len(crop) == len(rig)
    page = (out / REPORT_NAME).read_text()
    assert "<h2>Warnings</h2>" in page and page.count("cropped at the right/bottom") == len(rig)
    overlay = imread(out / "overlay_cam02.png")
    rgb = np.array(FOOTAGE_RGB) / 255
    assert (np.abs(overlay[..., :3] - rgb).max(-1) < 0.06).sum() > 20000  # footage drawn
    assert job.motion.n_frames == N_FRAMES
    # The Blender stage wrote into the staging folder beside ``out``, moved into place at the end.
    assert job.blend.parent.parent == out.parent and job.blend.name == "take.blend"
    assert job.blend.parent.name.startswith(".o.staging-") and not job.blend.parent.exists()
    assert job.overwrite
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o", "videos"]
    assert list(result.timings_s) == ["calibration", "footage", "keypoints", "fit", "animate",
                                      "export", "blender", "report"]
    assert all(t >= 0 for t in result.timings_s.values())
    assert set(planned_outputs(out, result.rig.names, True)) == set(result.files)
    assert result.summary.files[:5] == ["joints.npz", "joints.trc", "take.blend", "take.fbx",
                                        "take.bvh"]
    assert result.summary.timings_s == result.timings_s
    assert (out / "joints.trc").read_text().startswith("PathFileType")  # overwritten
    # Without --overwrite: refused before any work, nothing touched.
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    with pytest.raises(ExportError, match="allow overwriting") as refused:
        run_pipeline(RunOptions(**{**vars(opts), "overwrite": False}),
                     blender_stage=fake_blender)
    assert refused.value.option == "overwrite"  # core names the setting, not a CLI flag
    argv = ["run", "--calibration", str(synthetic_take["calibration"]),
            "--keypoints", str(synthetic_take["keypoints"]), "--out", str(out), "--no-blender"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "output file(s) exist" in err and "--overwrite" in err
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before
    assert len(jobs) == 1


def test_cancel_stops_before_the_next_stage(synthetic_take, tmp_path):
    cancel = threading.Event()
    cancel.set()
    opts = RunOptions(calibration=synthetic_take["calibration"],
                      keypoints=synthetic_take["keypoints"], out_dir=tmp_path / "c")
    with pytest.raises(Cancelled):
        run_pipeline(opts, cancel=cancel)
    assert not (tmp_path / "c").exists()


def test_resolve_inputs_rules(synthetic_take, tmp_path, monkeypatch):
    with pytest.raises(SkelsplatError, match="no calibration"):
        resolve_inputs(RunOptions(keypoints=synthetic_take["keypoints"]))
    with pytest.raises(SkelsplatError, match="nothing to fit"):
        resolve_inputs(RunOptions(calibration=synthetic_take["calibration"]))
    with pytest.raises(SkelsplatError, match="does not exist"):
        resolve_inputs(RunOptions(calibration=tmp_path / "nope.toml",
                                  keypoints=synthetic_take["keypoints"]))
    with pytest.raises(SkelsplatError, match="take folder"):
        resolve_inputs(RunOptions(take_dir=tmp_path / "missing"))
    with pytest.raises(SkelsplatError, match="the frame rate must be a positive"):
        resolve_inputs(RunOptions(calibration=synthetic_take["calibration"],
                                  keypoints=synthetic_take["keypoints"],
                                  settings=TakeSettings(fps=-1.0)))
    (tmp_path / "afile").write_text("")
    with pytest.raises(SkelsplatError, match="is a file"):
        resolve_inputs(RunOptions(calibration=synthetic_take["calibration"],
                                  keypoints=synthetic_take["keypoints"],
                                  out_dir=tmp_path / "afile"))
    with pytest.raises(SkelsplatError, match="the onnx detector needs a model file") as no_model:
        resolve_inputs(RunOptions(calibration=synthetic_take["calibration"],
                                  videos=[synthetic_take["keypoints"]],
                                  settings=TakeSettings(detect=DetectOptions(backend="onnx"))))
    assert no_model.value.option == "model"
    monkeypatch.chdir(tmp_path)
    r = resolve_inputs(RunOptions(calibration=synthetic_take["calibration"],
                                  keypoints=synthetic_take["keypoints"]))
    assert r.take_name == "keypoints" and r.videos is None
    assert r.out_dir == Path("skelsplat_out") / "keypoints"
    # A take folder: calibration/ (first readable file) + videos/.
    take = tmp_path / "mytake"
    (take / "calibration").mkdir(parents=True)
    (take / "videos").mkdir()
    (take / "calibration" / "notes.txt").write_text("not a calibration")
    (take / "calibration" / "rig.toml").write_text(
        Path(synthetic_take["calibration"]).read_text())
    for i in (1, 2):
        (take / "videos" / f"cam0{i}.mp4").write_bytes(b"")
    r = resolve_inputs(RunOptions(videos=[take / "videos"], calibration=synthetic_take[
        "calibration"]))
    assert r.take_name == "mytake" and len(r.videos) == 2
    r = resolve_inputs(RunOptions(take_dir=take, out_dir=tmp_path / "o"))
    assert r.take_name == "mytake" and r.calibration.name == "rig.toml"
    assert [v.name for v in r.videos] == ["cam01.mp4", "cam02.mp4"]
    assert r.out_dir == tmp_path / "o"


def test_resolve_inputs_defaults_to_the_demo_take(tmp_path, monkeypatch):
    from skelsplat.core.footage import demo_take_dir

    if not (demo_take_dir() / "videos").is_dir():
        pytest.skip("the bundled demo take is not in this checkout yet")
    monkeypatch.chdir(tmp_path)
    r = resolve_inputs(RunOptions())
    assert r.take_name == "demo" and len(r.videos) == 4
    assert r.out_dir == Path("skelsplat_out") / "demo"


def test_default_output_folder_never_replaces_an_earlier_run(tmp_path, monkeypatch,
                                                              synthetic_take):
    monkeypatch.chdir(tmp_path)
    opts = {"calibration": synthetic_take["calibration"], "keypoints": synthetic_take["keypoints"]}
    base = Path("skelsplat_out") / "keypoints"
    assert resolve_inputs(RunOptions(**opts)).out_dir == base
    base.mkdir(parents=True)
    assert resolve_inputs(RunOptions(**opts)).out_dir == base  # empty folder: reused
    (base / "joints.npz").write_bytes(b"earlier run")
    assert resolve_inputs(RunOptions(**opts)).out_dir == base.with_name("keypoints-2")
    (base.with_name("keypoints-2")).mkdir()
    (base.with_name("keypoints-2") / "report.html").write_text("earlier run")
    assert resolve_inputs(RunOptions(**opts)).out_dir == base.with_name("keypoints-3")
    # --overwrite means "replace the default folder"; an explicit --out is never renamed.
    assert resolve_inputs(RunOptions(**opts, overwrite=True)).out_dir == base
    assert resolve_inputs(RunOptions(**opts, out_dir=base)).out_dir == base


def test_bad_offsets_are_a_user_error(synthetic_take, tmp_path, capsys):
    rc = main(["run", "--calibration", str(synthetic_take["calibration"]),
               "--keypoints", str(synthetic_take["keypoints"]), "--out", str(tmp_path),
               "--offsets", "cam01:3"])
    assert rc == 2
    assert "CAM=N" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.bpy
def test_demo_end_to_end(tmp_path, capsys):
    from skelsplat.core.footage import demo_take_dir

    if not (demo_take_dir() / "videos").is_dir():
        pytest.skip("the bundled demo take is not in this checkout")
    out = tmp_path / "demo"
    rc = main(["run", "--out", str(out), "--cache-dir", str(tmp_path / "cache")])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    expected = ["take.blend", "take.fbx", "take.bvh", "joints.npz", "joints.trc", REPORT_NAME,
                *figure_names(["cam01", "cam02", "cam03", "cam04"])]
    for name in expected:
        assert (out / name).stat().st_size > 500, name
    assert len(list((tmp_path / "cache").rglob("*.npz"))) >= 4  # not beside the footage
    _check_report_matches_stdout(out, captured.out)
    assert re.search(r"frames\s+100\n", captured.out)
    coverage = float(re.search(r"coverage\s+([\d.]+) %", captured.out).group(1))
    median = float(re.search(r"median reprojection error\s+([\d.]+) px",
                             captured.out).group(1))
    bone_std = float(re.search(r"bone-length std \(mean over bones\)\s+([\d.]+) mm",
                               captured.out).group(1))
    # Measured: coverage 100.0 % (99.9 % before face joints off the skeleton were filled:
    # the right ear in frame 0), median 12.2 px (MediaPipe on 1080x1920 portrait footage),
    # bone-length std 2.5 mm.
    assert coverage >= 99.9
    assert median < 20.0
    assert bone_std < 15.0


def test_blender_stage_output_goes_to_stderr_keeping_stdout_for_the_summary(capfd,
                                                                          monkeypatch):
    from skelsplat.cli.run_cmd import _stdout_to_stderr

    monkeypatch.setenv("SKELSPLAT_VERBOSE", "1")  # --verbose: Blender's notes on stderr
    with _stdout_to_stderr():
        os.write(1, b"Info: Saved as take.blend\n")  # what Blender's C code does
    print("summary line")
    out, err = capfd.readouterr()
    assert out == "summary line\n"
    assert "Info: Saved as take.blend" in err
    monkeypatch.delenv("SKELSPLAT_VERBOSE")  # default: silenced (one line per stage)
    with _stdout_to_stderr():
        os.write(1, b"Info: Saved as take.blend\n")
        print("FBX export starting...")
    print("summary line")
    assert capfd.readouterr() == ("summary line\n", "")
