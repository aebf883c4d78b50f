"""Background jobs: progress and completion through the pump, cancel, errors as reports; the
fit operator (synchronous and threaded) leaves the scene untouched until it succeeds."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

pytestmark = pytest.mark.bpy


@pytest.fixture
def registered(empty_scene, monkeypatch, tmp_path):
    import skelsplat
    from skelsplat.addon import jobs, session

    skelsplat.register()
    empty_scene.skelsplat.fits_dir = str(tmp_path / "fits")  # a chosen folder, not beside a .blend
    jobs.REPORTS.clear()
    yield empty_scene
    jobs.clear()
    session.KEYPOINTS.clear()
    session.MOTIONS.clear()
    skelsplat.unregister()


def _stepper(n: int, gate: threading.Event | None = None, fail_at: int | None = None):
    """Work that reports n progress steps (waiting on ``gate`` before each) and returns n."""

    def work(progress, cancel):
        for i in range(n):
            if gate is not None:
                assert gate.wait(5.0)
                gate.clear()
            if fail_at == i:
                from skelsplat.core.errors import FitError

                raise FitError(f"frame {i}: no camera sees the pelvis")
            progress((i + 1) / n, f"step {i + 1}/{n}")
        return n

    return work


def _pump_until(predicate, timeout: float = 5.0) -> None:
    from skelsplat.addon import jobs

    deadline = time.monotonic() + timeout
    while not predicate():
        jobs.pump()
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_progress_and_completion_through_the_pump(registered) -> None:
    from skelsplat.addon import jobs

    scene = registered
    gate = threading.Event()
    done = []
    job = jobs.start("fit", _stepper(4, gate), done.append, scene=scene)
    assert jobs.running("fit") and scene.skelsplat.job_kind == "fit"
    gate.set()
    _pump_until(lambda: scene.skelsplat.job_progress == pytest.approx(0.25))
    assert scene.skelsplat.job_message == "step 1/4"
    assert done == []  # results only arrive through the pump on this thread
    for _ in range(3):
        gate.set()
        time.sleep(0.01)
    jobs.wait("fit")
    assert job.state == "done" and done == [4] and job.result is None
    assert scene.skelsplat.job_kind == "" and scene.skelsplat.job_progress == 1.0
    assert jobs.REPORTS[-1] == ("INFO", "SkelSplat fit finished")
    assert not jobs.running()


def test_cancel_discards_the_result(registered) -> None:
    from skelsplat.addon import jobs

    gate = threading.Event()
    done = []
    job = jobs.start("fit", _stepper(3, gate), done.append, scene=registered)
    gate.set()
    _pump_until(lambda: job.progress > 0)
    assert jobs.cancel("fit")
    gate.set()  # the worker's next progress call raises Cancelled
    _pump_until(lambda: job.finished)
    assert job.state == "cancelled" and done == []
    assert jobs.REPORTS[-1] == ("WARNING", "SkelSplat fit cancelled")
    assert not jobs.cancel("fit")


def test_error_in_the_thread_becomes_a_report_and_panel_message(registered) -> None:
    from skelsplat.addon import jobs

    job = jobs.start("detect", _stepper(3, fail_at=1), lambda r: r, scene=registered)
    jobs.wait("detect")
    assert job.state == "error"
    assert "frame 1: no camera sees the pelvis" in registered.skelsplat.last_error
    level, text = jobs.REPORTS[-1]
    assert level == "ERROR" and "detect failed: frame 1" in text


def test_one_job_per_kind(registered) -> None:
    from skelsplat.addon import jobs
    from skelsplat.core.errors import SkelsplatError

    gate = threading.Event()
    jobs.start("fit", _stepper(1, gate), lambda r: r, scene=registered)
    with pytest.raises(SkelsplatError, match="already running"):
        jobs.start("fit", _stepper(1), lambda r: r, scene=registered)
    gate.set()
    jobs.wait("fit")


# ------------------------------------------------------------- the fit operator
def _fake_fit(monkeypatch, *, fail: bool = False, gate: threading.Event | None = None):
    """Replace core.fit.fit_take by a stand-in returning a known motion (the real fitter is
    tested in core); the operator's plumbing is what is checked here."""
    import skelsplat.core.fit as fit_module
    from skelsplat.core.motion import Motion3D
    from skelsplat.core.skeletons import CANONICAL_JOINTS

    calls = []

    class Result:
        def __init__(self, F):
            self.F = F

        mean_reprojection_px = 1.25

        def to_motion(self, canonical=True):
            J = len(CANONICAL_JOINTS)
            X = np.zeros((self.F, J, 3)) + np.arange(J)[None, :, None] * 0.1
            return Motion3D(X, list(CANONICAL_JOINTS), np.ones((self.F, J), bool))

    def fit_take(keypoints, rig, options=None, progress=None, cancel=None):
        calls.append((keypoints.shape, len(rig), options.mode, options.device, options.smooth,
                      options.smooth_cutoff_hz, options.skeleton,
                      threading.current_thread().name))
        for i in range(3):
            if gate is not None:
                assert gate.wait(5.0)
            progress((i + 1) / 3, f"chunk {i + 1}")
            if cancel.is_set():
                from skelsplat.core.errors import Cancelled

                raise Cancelled("fit cancelled")
        if fail:
            from skelsplat.core.errors import FitError

            raise FitError("camera cam_02: every keypoint is missing")
        return Result(keypoints.shape[0])

    class Options:
        def __init__(self, mode="fast", device="auto", smooth="off"):
            self.mode, self.device, self.smooth = mode, device, smooth

    monkeypatch.setattr(fit_module, "fit_take", fit_take, raising=False)
    if not hasattr(fit_module, "FitOptions"):
        monkeypatch.setattr(fit_module, "FitOptions", Options, raising=False)
    return calls


def _take_inputs(scene, tmp_path):
    """A calibration file and in-memory keypoints for the scene."""
    from skelsplat.addon import session
    from skelsplat.core.calibration import write_calibration_toml
    from skelsplat.core.fit.synthetic import project_motion, random_motion, ring_rig
    from skelsplat.core.keypoints.multiview import Keypoints2D

    rig = ring_rig(3)
    path = write_calibration_toml(rig, tmp_path / "calib.toml")
    scene.skelsplat.calibration_path = str(path)
    joints = random_motion(6, "body_25")
    joints = getattr(joints, "joints3d", joints)
    data = project_motion(rig, joints)
    session.KEYPOINTS[scene.name] = Keypoints2D(data, list(rig.names), "body_25")
    return rig


def test_fit_operator_synchronous_stores_the_motion(registered, monkeypatch, tmp_path) -> None:
    import bpy

    from skelsplat.addon import session

    scene = registered
    calls = _fake_fit(monkeypatch)
    _take_inputs(scene, tmp_path)
    objects_before = len(bpy.data.objects)
    assert bpy.ops.skelsplat.fit(device="cpu", mode="reference", smooth="butterworth",
                                 smooth_cutoff_hz=6.0, skeleton="rigid",
                                 synchronous=True) == {"FINISHED"}
    shape, n_views, mode, device, smooth, cutoff, skeleton, thread = calls[0]
    assert shape == (6, 3, 25) and n_views == 3
    assert (mode, device, smooth) == ("reference", "cpu", "butterworth")
    assert (cutoff, skeleton) == (6.0, "rigid")
    assert thread == threading.current_thread().name
    motion = session.MOTIONS[scene.name]
    assert motion.n_frames == 6
    assert scene.skelsplat.motion_path == str(tmp_path / "fits" / "take_fit1.npz")
    from skelsplat.core.motion import Motion3D

    np.testing.assert_array_equal(Motion3D.load_npz(scene.skelsplat.motion_path).joints3d,
                                  motion.joints3d)
    assert len(bpy.data.objects) == objects_before  # fitting alone adds nothing to the scene
    assert bpy.ops.skelsplat.bake(ellipsoids=False) == {"FINISHED"}
    assert bpy.data.objects["take skeleton"].pose.bones["neck"] is not None


def test_fit_operator_in_a_thread_cancel_leaves_the_scene(registered, monkeypatch,
                                                          tmp_path) -> None:
    import bpy

    from skelsplat.addon import jobs, session

    scene = registered
    gate = threading.Event()
    calls = _fake_fit(monkeypatch, gate=gate)
    _take_inputs(scene, tmp_path)
    assert bpy.ops.skelsplat.fit() == {"FINISHED"}
    assert scene.skelsplat.job_kind == "fit"
    assert not bpy.ops.skelsplat.fit.poll()  # one fit at a time
    assert bpy.ops.skelsplat.cancel(kind="fit") == {"FINISHED"}
    gate.set()
    job = jobs.JOBS["fit"]
    jobs.wait("fit")
    assert job.state == "cancelled"
    assert calls[0][-1] != threading.current_thread().name
    assert scene.name not in session.MOTIONS and scene.skelsplat.motion_path == ""
    assert scene.skelsplat.job_kind == ""


def test_fit_error_surfaces_in_the_panel(registered, monkeypatch, tmp_path) -> None:
    import bpy

    from skelsplat.addon import jobs

    _fake_fit(monkeypatch, fail=True)
    _take_inputs(registered, tmp_path)
    assert bpy.ops.skelsplat.fit() == {"FINISHED"}
    jobs.wait("fit")
    assert "cam_02: every keypoint is missing" in registered.skelsplat.last_error
    assert jobs.REPORTS[-1][0] == "ERROR"


def test_fit_cutoff_zero_is_chosen_from_data_and_above_nyquist_names_the_field(
        registered, monkeypatch, tmp_path) -> None:
    import bpy

    calls = _fake_fit(monkeypatch)
    _take_inputs(registered, tmp_path)
    assert bpy.ops.skelsplat.fit(synchronous=True) == {"FINISHED"}
    assert calls[-1][5:7] == (None, "auto")  # 0 Hz: chosen per joint from the data
    # the take has no frame rate: 30 fps is assumed, so 15 Hz is the Nyquist frequency
    with pytest.raises(RuntimeError, match=r"cut-off \(20 Hz\) must be below half the frame "
                                           r"rate .*\(Cut-off \(Hz\)\)"):
        bpy.ops.skelsplat.fit(smooth="butterworth", smooth_cutoff_hz=20.0, synchronous=True)
    assert len(calls) == 1


def test_fit_without_keypoints_is_a_clear_error(registered) -> None:
    import bpy

    with pytest.raises(RuntimeError, match="detect or import 2D keypoints first"):
        bpy.ops.skelsplat.fit(synchronous=True)


def test_import_keypoints_operator_feeds_the_fit(registered, monkeypatch, tmp_path) -> None:
    import bpy

    from skelsplat.addon import session

    scene = registered
    calls = _fake_fit(monkeypatch)
    rig = _take_inputs(scene, tmp_path)
    kp = session.KEYPOINTS.pop(scene.name)
    path = tmp_path / "kp.npz"
    order = [2, 0, 1]  # file camera order differs from the rig
    np.savez(path, keypoints=kp.data[:, order], camera_names=np.array(rig.names)[order],
             joint_set="body_25")
    assert bpy.ops.skelsplat.import_keypoints(keypoints_path=str(path)) == {"FINISHED"}
    loaded = session.KEYPOINTS[scene.name]
    assert loaded.shape == (6, 3, 25)
    assert scene.skelsplat.keypoints_summary == \
        "6 frames x 3 views x 25 joints (body_25), 100% detected"
    assert bpy.ops.skelsplat.fit(synchronous=True) == {"FINISHED"}
    assert calls[0][0] == (6, 3, 25)
    with pytest.raises(RuntimeError, match="missing"):
        bpy.ops.skelsplat.import_keypoints(keypoints_path=str(tmp_path / "missing.npz"))


def test_real_fit_operator_equals_the_api_and_bakes_onto_it(registered,
                                                                   tmp_path) -> None:
    """End to end with the real fitter on a tiny synthetic take (CPU): the operator (run in
    its worker thread) and the core stages called directly give equal joints (the keypoints
    carry no frame rate: both assume 30 fps); the panel shows the fit's delivered-motion
    reprojection error; the bake puts the bones on them."""
    import bpy

    from skelsplat.addon import jobs, session
    from skelsplat.core.fit import FitOptions, fit_take
    from skelsplat.core.stages import TakeSettings, prepare_keypoints

    scene = registered
    rig = _take_inputs(scene, tmp_path)
    kp = session.KEYPOINTS[scene.name]
    settings = TakeSettings(fit=FitOptions(mode="fast", device="cpu"))
    fit = fit_take(prepare_keypoints(kp, rig, settings), rig, settings.fit)
    api = fit.to_motion(canonical=True)
    assert bpy.ops.skelsplat.fit(device="cpu", mode="fast") == {"FINISHED"}
    jobs.wait("fit", timeout=120)
    motion = session.MOTIONS[scene.name]
    assert motion.joint_names == api.joint_names
    # in the worker thread torch and BLAS may sum in another order (measured: 6e-17 m)
    np.testing.assert_allclose(motion.joints3d, api.joints3d, atol=1e-12, equal_nan=True)
    assert motion.fps == 30.0 and fit.diagnostics["smooth"] == "whittaker"
    assert scene.skelsplat.reprojection_px == pytest.approx(fit.mean_reprojection_px, rel=1e-6)
    assert any("assuming 30 fps" in w.name for w in scene.skelsplat.warnings)
    assert motion.valid.mean() > 0.9
    assert bpy.ops.skelsplat.bake(ellipsoids=True) == {"FINISHED"}
    arm = bpy.data.objects["take skeleton"]
    scene.frame_set(1 + int(motion.frame_numbers[2]))
    A = np.array(arm["skelsplat_alignment"]).reshape(4, 4)  # calibration -> floor world
    err = [np.linalg.norm(np.array(arm.matrix_world @ arm.pose.bones[name].head)
                          - (A[:3, :3] @ motion.joints3d[2, j] + A[:3, 3]))
           for j, name in enumerate(motion.joint_names)
           if name in arm.pose.bones and motion.valid[2, j]]
    assert np.mean(err) < 0.02  # the rigid armature stays on the fit (metres)
