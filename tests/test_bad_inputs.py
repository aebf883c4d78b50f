"""Bad inputs and faults against the CLI, as a new user meets them (issue 17).

Each case gives exit status 2 and one line on stderr, or the documented warning, and never
leaves a changed or partial earlier output. Disk-full and read-only folders are simulated
by patching the writer's system calls (as root, chmod alone does not block writes).
"""

from __future__ import annotations

import errno
import hashlib
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest

from skelsplat.cli.main import main
from skelsplat.core.calibration import write_calibration_toml
from skelsplat.core.camera import Camera, Rig
from skelsplat.core.fit.synthetic import project_motion, random_motion, ring_rig
from skelsplat.core.keypoints import write_keypoints_npz
from skelsplat.core.keypoints.multiview import Keypoints2D

F = 24


@pytest.fixture
def take(tmp_path) -> dict:
    """A 4-camera rig (TOML) and noise-free BODY_25 keypoints (NPZ, 30 fps), 24 frames."""
    rig = ring_rig(4)
    X = random_motion(F, "body_25", rng=np.random.default_rng(3))
    data = project_motion(rig, X)
    data[..., :2] += np.random.default_rng(4).normal(0, 1.0, data[..., :2].shape)
    kp = Keypoints2D(data, rig.names, "body_25", fps=30.0)
    cal = write_calibration_toml(rig, tmp_path / "cal.toml")
    npz = write_keypoints_npz(kp, tmp_path / "kp.npz")
    return {"rig": rig, "kp": kp, "cal": cal, "npz": npz, "root": tmp_path}


def _fit(take: dict, out: Path, *extra: str, cal: Path | None = None,
         npz: Path | None = None) -> int:
    return main(["fit", "--calibration", str(cal or take["cal"]), "--keypoints",
                 str(npz or take["npz"]), "--out", str(out), "--quiet", *extra])


def _one_error_line(capsys, *needles: str) -> str:
    """The error is one line, the last on stderr (``run`` prints stage lines before it)."""
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ": error: " in ln]
    assert len(errors) == 1 and errors[0] == lines[-1], err
    assert lines[-1].startswith("skelsplat "), lines[-1]
    for needle in needles:
        assert needle in lines[-1], lines[-1]
    assert "Traceback" not in err and "warning" not in err
    return lines[-1]


def _snapshot(folder: Path) -> dict[str, str]:
    """name -> sha256 of every file under ``folder`` (hidden files included)."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _with_keypoints(take: dict, data: np.ndarray, name: str, **npz) -> Path:
    path = take["root"] / name
    np.savez(path, keypoints=data, camera_names=np.array(take["rig"].names),
             joint_set="body_25", fps=30.0, **npz)
    return path


# ------------------------------------------------------------------ silently wrong before
def test_body_25_read_as_body_25b_is_refused(take, tmp_path, capsys):
    assert _fit(take, tmp_path / "m.npz", "--joint-set", "body_25b") == 2
    line = _one_error_line(capsys, "read as body_25b", "read as body_25 they differ",
                           "the keypoints are body_25, set the joint set to body_25 (--joint-set)")
    # the two asymmetries are numbers in the message: wrong labels >= 15 %, right < 5 %
    wrong, right = (int(s) for s in __import__("re").findall(r"differ by (\d+)%", line))
    assert wrong >= 15 and right < 5
    assert not (tmp_path / "m.npz").exists()
    assert _fit(take, tmp_path / "m.npz", "--joint-set", "body_25") == 0


def test_real_shelf_detections_tell_body_25_from_body_25b(shared_data):
    """Shelf's real OpenPose BODY_25 detections (oracle association, 5 cameras, 301 frames
    per actor): accepted as body_25, refused as body_25b for every actor."""
    from skelsplat.core.bench.shelf_eval import load_shelf, oracle_keypoints
    from skelsplat.core.errors import KeypointError
    from skelsplat.core.sanity import check_keypoints

    data = load_shelf(shared_data)
    for actor in range(3):
        kp, _ = oracle_keypoints(data, actor)
        kp = kp.aligned_to(data.rig)
        check_keypoints(kp, data.rig)  # no error
        wrong = Keypoints2D(kp.data, kp.camera_names, "body_25b", kp.frame_numbers, kp.fps,
                            "shelf")
        with pytest.raises(KeypointError, match="the keypoints are body_25"):
            check_keypoints(wrong, data.rig)


def test_coinciding_cameras_error_and_warning(take, tmp_path, capsys):
    rig = take["rig"]
    c0 = rig.cameras[0]
    twin = Camera("cam0b", c0.K, c0.dist, c0.R, c0.t, c0.size)
    two = write_calibration_toml(Rig([c0, twin], "two"), tmp_path / "two.toml")
    kp2 = Keypoints2D(take["kp"].data[:, [0, 0]], ["cam0", "cam0b"], "body_25", fps=30.0)
    npz2 = write_keypoints_npz(kp2, tmp_path / "two.npz")
    assert _fit(take, tmp_path / "m.npz", cal=two, npz=npz2) == 2
    _one_error_line(capsys, "at most 0.000 m apart", "at least 0.01 m apart")
    # calibration show says so (and exits 0: showing a calibration is no fit)
    assert main(["calibration", "show", str(two)]) == 0
    assert "warning: " in capsys.readouterr().out
    # five cameras, two of them 3 mm apart: a warning, and the fit goes on
    moved = Camera("cam4", c0.K, c0.dist, c0.R, c0.t + np.array([0.003, 0, 0]), c0.size)
    five = write_calibration_toml(Rig([*rig.cameras, moved], "five"), tmp_path / "five.toml")
    kp5 = Keypoints2D(take["kp"].data[:, [0, 1, 2, 3, 0]], [*rig.names, "cam4"], "body_25",
                      fps=30.0)
    npz5 = write_keypoints_npz(kp5, tmp_path / "five.npz")
    assert _fit(take, tmp_path / "m5.npz", cal=five, npz=npz5) == 0
    err = capsys.readouterr().err
    assert "warning: cameras cam0 and cam4 are only 0.003 m apart" in err
    assert main(["calibration", "show", str(five)]) == 0
    assert "warning: cameras cam0 and cam4 are only 0.003 m apart" in capsys.readouterr().out


def test_messages_name_the_commands_own_flags(take, tmp_path, capsys):
    """Core speaks of the setting; the CLI adds the flag of the command that was run."""
    from skelsplat.core.video import write_video

    out = tmp_path / "m.npz"
    assert _fit(take, out) == 0
    capsys.readouterr()
    assert _fit(take, out) == 2
    _one_error_line(capsys, f"{out} exists; allow overwriting to replace it (--overwrite)")
    videos = tmp_path / "videos"
    videos.mkdir()
    for name in "abcd":  # named unlike the cameras cam0..cam3
        write_video(videos / f"{name}.mp4", np.zeros((3, 72, 128, 3), np.uint8), fps=30.0)
    for command in (["run", "--keypoints", str(take["npz"]), "--out", str(tmp_path / "r")],
                    ["detect", "--out", str(tmp_path / "d")]):
        assert main([*command, "--calibration", str(take["cal"]), "--videos", str(videos)]) == 2
        line = _one_error_line(capsys, "no video for camera(s) ['cam0'",
                               "pair them in sorted file-name order) (--pair-by-order)")
        assert "allow_sorted" not in line and "--sorted" not in line
    assert main(["calibration", "show", str(take["npz"])]) == 2
    _one_error_line(capsys, "unknown calibration format", "(--from)")


def test_repeated_npz_frame_numbers_are_refused(take, tmp_path, capsys):
    frames = np.arange(F)
    frames[5] = 4
    npz = _with_keypoints(take, take["kp"].data, "dup.npz", frame_numbers=frames)
    assert _fit(take, tmp_path / "m.npz", npz=npz) == 2
    _one_error_line(capsys, "dup.npz", "frame number 4 appears 2 times", "rows [4, 5]")


@pytest.mark.parametrize("fps", ["nan", "inf", "-5", "0"])
def test_bad_fps_is_refused_by_fit_and_run(take, tmp_path, capsys, fps):
    assert _fit(take, tmp_path / "m.npz", "--fps", fps) == 2
    _one_error_line(capsys, "the frame rate must be a positive, finite number of frames per "
                            "second", "(--fps)")
    assert main(["run", "--calibration", str(take["cal"]), "--keypoints", str(take["npz"]),
                 "--out", str(tmp_path / "r"), "--no-blender", "--fps", fps]) == 2
    _one_error_line(capsys, "the frame rate must be a positive", "(--fps)")
    assert not (tmp_path / "m.npz").exists() and not (tmp_path / "r").exists()


@pytest.mark.parametrize("cutoff, needle", [
    ("1000", "below half the frame rate (30 fps / 2 = 15 Hz)"),
    ("-1", "positive, finite frequency"),
    ("nan", "positive, finite frequency")])
def test_bad_cutoff_is_refused_by_fit_and_run(take, tmp_path, capsys, cutoff, needle):
    assert _fit(take, tmp_path / "m.npz", "--smooth-cutoff", cutoff) == 2
    _one_error_line(capsys, "--smooth-cutoff", needle)
    assert _fit(take, tmp_path / "m.npz", "--cutoff", cutoff) == 2  # the earlier name
    _one_error_line(capsys, "--smooth-cutoff", needle)
    assert main(["run", "--calibration", str(take["cal"]), "--keypoints", str(take["npz"]),
                 "--out", str(tmp_path / "r"), "--no-blender", "--fps", "30",
                 "--smooth-cutoff", cutoff]) == 2
    _one_error_line(capsys, "--smooth-cutoff", needle)


def test_missing_frame_rate_is_assumed_one_way_with_a_warning(take, tmp_path, capsys):
    """Keypoints without a frame rate and no footage: every front end assumes 30 fps and
    says so (core.stages.take_fps); the TRC is written at that rate."""
    npz = take["root"] / "nofps.npz"
    np.savez(npz, keypoints=take["kp"].data, camera_names=np.array(take["rig"].names))
    assert _fit(take, tmp_path / "m.trc", npz=npz) == 0
    err = capsys.readouterr().err
    assert "warning: the keypoints carry no frame rate and there is no footage; assuming " \
           "30 fps" in err
    header = (tmp_path / "m.trc").read_text().splitlines()[:3]
    assert header[2].split("\t")[0] == "30"  # DataRate


# ------------------------------------------------------------------ accepted without a word
@pytest.mark.parametrize("k1, needle", [(1e6, "moves the image corner"),
                                        (-5.0, "is not monotonic inside the image")])
def test_absurd_distortion_is_a_warning(take, tmp_path, capsys, k1, needle):
    rig = take["rig"]
    cams = [Camera(c.name, c.K, np.array([k1, 0, 0, 0, 0.0]) if i == 1 else c.dist, c.R, c.t,
                   c.size) for i, c in enumerate(rig.cameras)]
    cal = write_calibration_toml(Rig(cams, "bad"), tmp_path / "bad.toml")
    assert main(["calibration", "show", str(cal)]) == 0
    out = capsys.readouterr().out
    assert f"warning: camera cam1: the pinhole distortion ({k1:g}" in out and needle in out
    assert out.count("warning:") == 1  # the other cameras are fine


def test_keypoints_far_outside_the_image_are_ignored_with_a_warning(take, tmp_path, capsys):
    data = take["kp"].data.copy()
    data[:, 2, 7, :2] = 1e6  # camera 2, joint 7 (left_wrist) a million pixels away
    npz = _with_keypoints(take, data, "far.npz")
    assert _fit(take, tmp_path / "m.npz", npz=npz) == 0
    captured = capsys.readouterr()
    assert (f"warning: camera cam2: {F} keypoints lie more than an image size outside its "
            "1280x720 image (e.g. frame 0, joint left_wrist at (1000000, 1000000) px)"
            in captured.err)
    mean_px = float(captured.out.split("mean reprojection error ")[1].split(" px")[0])
    assert mean_px < 5.0  # the far points did not enter the fit (281,899 px before)


def test_a_camera_whose_keypoints_disagree_is_named(take, tmp_path, capsys):
    """cam2's keypoints at half resolution: a first triangulation by any pair of the other
    cameras puts them hundreds of pixels away; only cam2 is named."""
    data = take["kp"].data.copy()
    data[:, 2, :, :2] *= 0.5
    npz = _with_keypoints(take, data, "half.npz")
    assert _fit(take, tmp_path / "m.npz", npz=npz) == 0
    err = capsys.readouterr().err
    warned = [ln for ln in err.splitlines() if "from a first triangulation" in ln]
    assert len(warned) == 1 and warned[0].startswith("warning: camera cam2: its keypoints lie")
    median_px = int(warned[0].split("a median ")[1].split(" px")[0])
    assert median_px > 200  # 5 % of the 1468 px diagonal is the threshold (73 px)


def test_all_zero_confidence_is_an_error(take, tmp_path, capsys):
    data = take["kp"].data.copy()
    data[..., 2] = 0.0
    npz = _with_keypoints(take, data, "zero.npz")
    assert _fit(take, tmp_path / "m.npz", npz=npz) == 2
    _one_error_line(capsys, "every keypoint has confidence 0", "nothing to fit")
    assert not (tmp_path / "m.npz").exists()


def test_offset_that_drops_a_camera_is_an_error(take, tmp_path, capsys):
    out = tmp_path / "r"
    assert main(["run", "--calibration", str(take["cal"]), "--keypoints", str(take["npz"]),
                 "--out", str(out), "--no-blender", "--offsets", "cam2=100000"]) == 2
    _one_error_line(capsys, "frame offset of camera cam2 (100000)", "without any detection")
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if "staging" in p.name]


# ------------------------------------------------------------------ faults: nothing lost
def _fail_fsync_with_enospc(monkeypatch, only: str | None = None) -> None:
    """Make the atomic writer's fsync fail as on a full disk (for files named ``only``)."""
    import skelsplat.core.atomic as atomic

    real = os.fsync

    def fsync(fd: int) -> None:
        name = os.readlink(f"/proc/self/fd/{fd}") if os.path.exists("/proc/self/fd") else ""
        if only is None or only in name:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(fd)

    monkeypatch.setattr(atomic.os, "fsync", fsync)


def test_disk_full_keeps_the_earlier_fit(take, tmp_path, capsys, monkeypatch):
    out = tmp_path / "m.npz"
    assert _fit(take, out) == 0
    before = _snapshot(tmp_path)
    capsys.readouterr()
    _fail_fsync_with_enospc(monkeypatch)
    assert _fit(take, out, "--overwrite") == 2
    _one_error_line(capsys, f"cannot write {out}: the disk is full")
    assert _snapshot(tmp_path) == before  # same bytes, no temporary file left


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_disk_full_while_writing_midway(take, tmp_path, capsys, monkeypatch):
    """A write that fails after some bytes (ENOSPC from write itself) loses nothing."""
    import skelsplat.core.atomic as atomic

    out = tmp_path / "m.npz"
    assert _fit(take, out) == 0
    before = _snapshot(tmp_path)
    capsys.readouterr()
    real_fdopen = os.fdopen

    class Full:
        def __init__(self, fh):
            self.fh, self.written = fh, 0

        def write(self, data):
            self.written += len(data)
            if self.written > 2000:
                raise OSError(errno.ENOSPC, "No space left on device")
            return self.fh.write(data)

        def __getattr__(self, name):
            return getattr(self.fh, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.fh.close()

    monkeypatch.setattr(atomic.os, "fdopen", lambda *a, **k: Full(real_fdopen(*a, **k)))
    assert _fit(take, out, "--overwrite") == 2
    _one_error_line(capsys, "the disk is full")
    assert _snapshot(tmp_path) == before


def _read_only(monkeypatch, folder: Path) -> None:
    """File creation inside ``folder`` fails as in a read-only folder."""
    real_mkstemp, real_mkdtemp, real_mkdir = tempfile.mkstemp, tempfile.mkdtemp, Path.mkdir
    denied = OSError(errno.EACCES, "Permission denied")

    def inside(d) -> bool:
        return d is not None and Path(d).resolve().is_relative_to(folder.resolve())

    def mkstemp(*a, dir=None, **k):
        if inside(dir):
            raise denied
        return real_mkstemp(*a, dir=dir, **k)

    def mkdtemp(*a, dir=None, **k):
        if inside(dir):
            raise denied
        return real_mkdtemp(*a, dir=dir, **k)

    def mkdir(self, *a, **k):
        if inside(self.parent) and not self.exists():
            raise denied
        return real_mkdir(self, *a, **k)

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    monkeypatch.setattr(tempfile, "mkdtemp", mkdtemp)
    monkeypatch.setattr(Path, "mkdir", mkdir)


def test_read_only_folder_fails_before_any_work(take, tmp_path, capsys, monkeypatch):
    import skelsplat.core.fit as fit

    ro = tmp_path / "ro"
    ro.mkdir()
    (ro / "keep.txt").write_text("mine")
    _read_only(monkeypatch, ro)
    monkeypatch.setattr(fit, "fit_take", lambda *a, **k: pytest.fail("fit ran"))
    assert _fit(take, ro / "m.npz") == 2
    _one_error_line(capsys, f"cannot write into {ro}: permission denied")
    assert main(["run", "--calibration", str(take["cal"]), "--keypoints", str(take["npz"]),
                 "--out", str(ro / "run"), "--no-blender"]) == 2
    _one_error_line(capsys, f"{ro}", "permission denied")
    assert main(["calibration", "convert", str(take["cal"]), str(ro / "c.toml")]) == 2
    _one_error_line(capsys, f"cannot write {ro / 'c.toml'}: permission denied")
    assert main(["detect", "--videos", str(tmp_path / "videos"), "--out", str(ro)]) == 2
    _one_error_line(capsys, f"cannot write into {ro}: permission denied")
    assert _snapshot(ro) == {"keep.txt": hashlib.sha256(b"mine").hexdigest()}


def test_plain_os_errors_are_one_line(take, tmp_path, capsys, monkeypatch):
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    assert main(["calibration", "convert", str(take["cal"]), str(blocker / "c.toml")]) == 2
    _one_error_line(capsys, str(blocker), "is a file, not a folder")
    # any OSError that escapes a command (here: reading a calibration) is one line, exit 2
    import skelsplat.cli.calibration_cmd as cmd

    def denied(path, args):
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(cmd, "_read", denied)
    assert main(["calibration", "show", str(take["cal"])]) == 2
    _one_error_line(capsys, f"cannot access {take['cal']}: permission denied")
