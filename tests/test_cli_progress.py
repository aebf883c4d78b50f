"""Progress in a log or pipe: a line per stage and at most one every few seconds; the
detector's native logging silenced unless --verbose (issue 17)."""

from __future__ import annotations

import io
import os

from skelsplat.cli import progress as progress_mod
from skelsplat.cli.progress import LINE_INTERVAL_S, StageProgress
from skelsplat.cli.run_cmd import TqdmReporter


def test_non_terminal_progress_is_a_few_lines(monkeypatch):
    clock = [0.0]
    monkeypatch.setattr(progress_mod.time, "perf_counter", lambda: clock[0])
    out = io.StringIO()  # not a terminal
    bar = StageProgress("fit", out, label="fitting")
    for i in range(1, 1001):  # 1000 updates over 20 s
        clock[0] = i * 0.02
        bar.update(i / 1000, f"frame {i}")
    bar.close()
    lines = out.getvalue().splitlines()
    assert lines[0] == "fit         fitting..."
    assert lines[-1] == "fit         done in 20.0 s"
    middle = lines[1:-1]
    assert len(middle) == int(20 / LINE_INTERVAL_S) == 4  # one line per 5 s, not 1000
    assert middle[0] == "fit          25% frame 250"
    assert "\r" not in out.getvalue()


def test_run_reporter_in_a_pipe_prints_one_line_per_stage(monkeypatch):
    out = io.StringIO()
    rep = TqdmReporter(out)
    for stage in ("calibration", "fit", "report"):
        rep.stage_started(stage, f"doing {stage}")
        for k in range(200):
            rep.progress(stage, k / 200, "step")
        rep.stage_finished(stage, 0.1, skipped=False)
    rep.stage_finished("blender", 0.0, skipped=True)
    rep.warn("careful")
    rep.warn("careful")  # each warning once
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 * 3 + 2
    assert lines[-2:] == ["blender     skipped", "warning: careful"]


def test_detector_native_logging_is_silenced_unless_verbose(capfd, monkeypatch):
    from skelsplat.core.detect.mediapipe_pose import VERBOSE_ENV, native_stderr_silenced

    monkeypatch.delenv(VERBOSE_ENV, raising=False)
    with native_stderr_silenced():
        os.write(2, b"W0000 inference_feedback_manager.cc:114] Feedback manager\n")
    os.write(2, b"ours\n")
    assert capfd.readouterr().err == "ours\n"
    monkeypatch.setenv(VERBOSE_ENV, "1")
    with native_stderr_silenced():
        os.write(2, b"native\n")
    assert capfd.readouterr().err == "native\n"


def test_mediapipe_prints_nothing_unless_verbose(tmp_path):
    """The real detector in a fresh process (its native notes appear once per process)."""
    import subprocess
    import sys

    import pytest

    pytest.importorskip("mediapipe")
    code = ("import numpy as np\n"
            "from skelsplat.core.detect.mediapipe_pose import MediaPipePoseDetector\n"
            "d = MediaPipePoseDetector()\n"
            "for _ in range(2): d.detect(np.zeros((96, 128, 3), np.uint8))\n"
            "d.close()\n")
    env = {k: v for k, v in os.environ.items() if k != "SKELSPLAT_VERBOSE"}
    quiet = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           env=env, timeout=120)
    assert quiet.returncode == 0 and quiet.stderr == ""
    loud = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**env, "SKELSPLAT_VERBOSE": "1"}, timeout=120)
    assert loud.returncode == 0 and "TensorFlow Lite" in loud.stderr


def test_write_puts_a_line_above_the_bar_or_in_the_log() -> None:
    out = io.StringIO()
    bar = StageProgress("bench", out, interactive=True)
    bar.update(0.5, "half")
    bar.write("warning: something")
    bar.close()
    text = out.getvalue()
    assert "warning: something\n" in text and "100%" in text
    log = io.StringIO()
    with StageProgress("bench", log, interactive=False) as plain:
        plain.write("warning: else")
    lines = log.getvalue().splitlines()
    assert lines[:2] == ["bench       started", "warning: else"]
    assert lines[2].startswith("bench       done in ") and len(lines) == 3


def test_counting_steps_reports_fractions_of_the_total() -> None:
    from skelsplat.core.progress import counting_steps

    seen = []
    step = counting_steps(lambda f, m: seen.append((f, m)), 4)
    for name in "abcde":
        step(name)
    assert seen == [(0.25, "a"), (0.5, "b"), (0.75, "c"), (1.0, "d"), (1.0, "e")]

