"""core.stages: the frame-rate rule, the detector options and the settings checks that every
front end shares (issue 18)."""

from __future__ import annotations

import numpy as np
import pytest
from test_report import synthetic_keypoints, synthetic_motion, synthetic_rig

from skelsplat.core.detect import DetectOptions
from skelsplat.core.errors import SkelsplatError
from skelsplat.core.fit import FitOptions
from skelsplat.core.keypoints.multiview import Keypoints2D
from skelsplat.core.stages import ASSUMED_FPS, TakeSettings, prepare_keypoints, take_fps


class _Take:  # what take_fps reads of a Take
    fps = 25.0


def _keypoints(fps):
    rig = synthetic_rig()
    kp = synthetic_keypoints(rig, synthetic_motion(6), fps=30.0)
    return rig, Keypoints2D(kp.data, kp.camera_names, "body_25", fps=fps)


def test_frame_rate_is_decided_one_way():
    _, kp = _keypoints(None)
    assert take_fps(TakeSettings(fps=50.0), kp, _Take()) == (50.0, None)  # the setting wins
    _, kp24 = _keypoints(24.0)
    assert take_fps(TakeSettings(), kp24, _Take()) == (24.0, None)  # then the keypoints'
    assert take_fps(TakeSettings(), kp, _Take()) == (25.0, None)  # then the footage's
    fps, note = take_fps(TakeSettings(), kp)  # none: assumed, and said
    assert fps == ASSUMED_FPS == 30.0 and "assuming 30 fps" in note


def test_prepare_keypoints_gives_the_fit_its_rate_and_checks_the_cutoff():
    rig, kp = _keypoints(None)
    notes: list[str] = []
    ready = prepare_keypoints(kp, rig, TakeSettings(), warn=notes.append)
    assert ready.fps == 30.0 and len(notes) == 1 and "assuming 30 fps" in notes[0]
    np.testing.assert_array_equal(ready.data, kp.data)
    assert prepare_keypoints(kp, rig, TakeSettings(fps=60.0)).fps == 60.0
    with pytest.raises(SkelsplatError, match=r"below half the frame rate \(30 fps") as err:
        prepare_keypoints(kp, rig, TakeSettings(fit=FitOptions(smooth_cutoff_hz=20.0)))
    assert err.value.option == "smooth_cutoff_hz"


@pytest.mark.parametrize(("smooth", "mode", "unused"), [
    ("off", "fast", True), ("auto", "reference", True), ("auto", "fast", False),
    ("butterworth", "reference", False)])
def test_a_cutoff_no_smoothing_uses_is_said(smooth, mode, unused):
    rig, kp = _keypoints(30.0)
    notes: list[str] = []
    fit = FitOptions(smooth=smooth, mode=mode, smooth_cutoff_hz=6.0)
    prepare_keypoints(kp, rig, TakeSettings(fit=fit), warn=notes.append)
    said = [n for n in notes if "cut-off (6 Hz) is not used" in n]
    assert len(said) == int(unused), notes


def test_settings_name_the_option_at_fault():
    with pytest.raises(SkelsplatError, match="the frame rate must be a positive") as err:
        TakeSettings(fps=0.0).check()
    assert err.value.option == "fps"
    with pytest.raises(SkelsplatError, match="onnx detector needs a model file") as err:
        DetectOptions(backend="onnx").check()
    assert err.value.option == "model"
    with pytest.raises(SkelsplatError, match="only used by the onnx detector") as err:
        DetectOptions(model="pose.onnx").check()
    assert err.value.option == "model"
    with pytest.raises(SkelsplatError, match="unknown detector 'yolo'") as err:
        DetectOptions(backend="yolo").check()
    assert err.value.option == "backend"
    assert DetectOptions(backend="onnx", model="m.onnx").detector_options() == \
        {"model": "m.onnx", "joint_set": "coco_17"}
    assert DetectOptions().detector_options() == {}


def test_reading_fit_options_does_not_import_torch():
    import subprocess
    import sys

    code = ("import sys, skelsplat.core.stages, skelsplat.core.fit.options; "
            "s = skelsplat.core.stages.TakeSettings(); "
            "print('torch' in sys.modules, s.fit.mode)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["False", "fast"]
