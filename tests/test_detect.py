"""Detector plumbing with tiny ONNX models built here, caching, progress, cancel, CLI.

The test models are pure functions of their input: joint ``j`` is read from colour
channel ``j % 3``; the SimCC model's x (y) logits are the channel's maximum over rows
(columns); the heatmap model's output is the channel average-pooled 2x2. On frames with
one Gaussian blob per colour, the decoded keypoints must land on the blobs.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from skelsplat.core.detect import detect_take, load_cached, make_detector
from skelsplat.core.detect.onnx_topdown import (
    OnnxTopDownDetector,
    crop_affine,
    decode_heatmap,
    decode_simcc,
    fit_aspect,
    warp_bilinear,
)
from skelsplat.core.errors import Cancelled, SkelsplatError
from skelsplat.core.footage import read_take
from skelsplat.core.video import write_video

IN_H, IN_W = 64, 48
J = 17  # coco_17


def _build_model(path: Path, head: str) -> Path:
    import onnx
    from onnx import TensorProto, helper

    idx = helper.make_tensor("idx", TensorProto.INT64, [J], [j % 3 for j in range(J)])
    nodes = [helper.make_node("Gather", ["image", "idx"], ["chan"], axis=1)]  # [1, J, H, W]
    if head == "simcc":
        nodes += [helper.make_node("ReduceMax", ["chan"], ["simcc_x"], axes=[2], keepdims=0),
                  helper.make_node("ReduceMax", ["chan"], ["simcc_y"], axes=[3], keepdims=0)]
        outputs = [helper.make_tensor_value_info("simcc_x", TensorProto.FLOAT, [1, J, IN_W]),
                   helper.make_tensor_value_info("simcc_y", TensorProto.FLOAT, [1, J, IN_H])]
    else:
        nodes += [helper.make_node("AveragePool", ["chan"], ["heatmaps"], kernel_shape=[2, 2],
                                   strides=[2, 2])]
        outputs = [helper.make_tensor_value_info("heatmaps", TensorProto.FLOAT,
                                                 [1, J, IN_H // 2, IN_W // 2])]
    graph = helper.make_graph(
        nodes, f"tiny_{head}",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, IN_H, IN_W])],
        outputs, initializer=[idx])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("onnx")
    return {h: _build_model(d / f"{h}.onnx", h) for h in ("simcc", "heatmap")}


def _blob_frame(centres: np.ndarray, h: int = 320, w: int = 240,
                sigma: float = 6.0) -> np.ndarray:
    """[h, w, 3] uint8 with a Gaussian blob of colour channel c at ``centres[c]`` (u, v)."""
    v, u = np.mgrid[0:h, 0:w].astype(float)
    frame = np.zeros((h, w, 3))
    for c, (cu, cv) in enumerate(centres):
        frame[..., c] = 255 * np.exp(-((u - cu) ** 2 + (v - cv) ** 2) / (2 * sigma ** 2))
    return frame.round().astype(np.uint8)


CENTRES = np.array([[101.0, 131.0], [151.0, 171.0], [121.0, 221.0]])  # R, G, B blobs (u, v)


def _errors(kp: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """[J] pixel distance of each joint to its channel's blob."""
    return np.linalg.norm(kp[:, :2] - centres[np.arange(J) % 3], axis=-1)


def test_crop_affine_maps_box_edges_to_crop_edges() -> None:
    box = fit_aspect(np.array([100.0, 150.0, 60.0, 60.0]), IN_W / IN_H)
    assert box[2] / box[3] == pytest.approx(IN_W / IN_H) and box[2] == pytest.approx(60.0)
    A = crop_affine(box, IN_W, IN_H)
    left_top = A @ np.array([box[0] - box[2] / 2, box[1] - box[3] / 2, 1.0])
    right_bottom = A @ np.array([box[0] + box[2] / 2, box[1] + box[3] / 2, 1.0])
    np.testing.assert_allclose(left_top, [-0.5, -0.5])
    np.testing.assert_allclose(right_bottom, [IN_W - 0.5, IN_H - 0.5])


def test_warp_samples_the_box() -> None:
    img = np.arange(200 * 100, dtype=float).reshape(200, 100, 1)  # value = 100 v + u
    box = np.array([50.5, 100.5, 48.0, 64.0])  # the input size: 1 px per crop px
    crop = warp_bilinear(img, crop_affine(box, IN_W, IN_H), IN_W, IN_H)
    # box edges u = 26.5 .. 74.5: crop pixel (x, y) samples image (u, v) = (x + 27, y + 69)
    assert crop[0, 0, 0] == pytest.approx(69 * 100 + 27)
    assert crop[10, 20, 0] == pytest.approx(79 * 100 + 47)
    half = warp_bilinear(img, crop_affine(box - [0.5, 0.5, 0, 0], IN_W, IN_H), IN_W, IN_H)
    assert half[0, 0, 0] == pytest.approx(68.5 * 100 + 26.5)  # bilinear between pixels
    outside = warp_bilinear(img, crop_affine(np.array([0.0, 0.0, 48, 64]), IN_W, IN_H), IN_W, IN_H)
    assert outside[0, 0, 0] == 0.0  # zero border


def test_decoders() -> None:
    sx = np.zeros((2, 96))
    sy = np.zeros((2, 128))
    sx[0, 31], sy[0, 70], sx[1, 5], sy[1, 9] = 0.9, 0.7, 0.4, 0.6
    np.testing.assert_allclose(decode_simcc(sx, sy, 2.0), [[15.5, 35.0, 0.7], [2.5, 4.5, 0.4]])
    hm = np.zeros((1, 32, 24))
    hm[0, 10, 7], hm[0, 10, 8] = 1.0, 0.5  # peak at (7, 10), larger right neighbour
    x, y, c = decode_heatmap(hm, 48, 64)[0]
    assert (x, y, c) == pytest.approx(((7.25 + 0.5) * 2 - 0.5, (10 + 0.5) * 2 - 0.5, 1.0))


@pytest.mark.parametrize("head, whole_frame_px, tracked_px", [("simcc", 3.0, 1.5),
                                                              ("heatmap", 6.0, 3.0)])
def test_onnx_detector_finds_the_blobs(models, head, whole_frame_px, tracked_px) -> None:
    det = OnnxTopDownDetector(models[head], joint_set="coco_17")
    assert det.head == head and (det.input_w, det.input_h) == (IN_W, IN_H)
    frame = _blob_frame(CENTRES)
    first = det.detect(frame)  # box = whole frame: 5 image px per crop px
    assert first.shape == (J, 3)
    assert _errors(first, CENTRES).max() < whole_frame_px
    assert first[:, 2].min() > 0.3
    box = det.person_box(frame.shape)  # from the first frame's keypoints
    assert box[3] < 0.5 * frame.shape[0]
    second = det.detect(frame)  # tighter crop: more pixels per crop px
    assert _errors(second, CENTRES).max() < tracked_px
    black = det.detect(np.zeros_like(frame))
    np.testing.assert_array_equal(black[:, 2], 0.0)  # nothing bright: confidence 0
    assert det.person_box(frame.shape)[3] == pytest.approx(frame.shape[0])  # lost: whole frame


def test_onnx_model_errors(tmp_path: Path, models) -> None:
    with pytest.raises(SkelsplatError, match=r"missing\.onnx.*not found"):
        OnnxTopDownDetector(tmp_path / "missing.onnx")
    with pytest.raises(SkelsplatError, match="17 joints, but joint set body_25 has 25"):
        OnnxTopDownDetector(models["simcc"], joint_set="body_25")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model")
    with pytest.raises(SkelsplatError, match=r"junk\.onnx.*cannot be loaded"):
        OnnxTopDownDetector(junk)
    with pytest.raises(SkelsplatError, match="needs a model file"):
        make_detector("onnx")
    with pytest.raises(SkelsplatError, match="unknown detector backend 'openpose'"):
        make_detector("openpose")


def test_mediapipe_is_complexity_one_only() -> None:
    det = make_detector("mediapipe")
    s = det.settings()
    assert det.joint_set == "blazepose_33" and s["model_complexity"] == 1
    with pytest.raises(TypeError):
        make_detector("mediapipe", model_complexity=2)


# ---- takes: cache, progress, cancel ---------------------------------------------------

N_FRAMES = 6


@pytest.fixture(scope="module")
def blob_take(tmp_path_factory) -> Path:
    """Two cameras: ``c1`` blobs drift right 4 px/frame, ``c2`` an empty (black) video."""
    root = tmp_path_factory.mktemp("take")
    frames = np.stack([_blob_frame(CENTRES + np.array([4.0 * i, 0.0])) for i in range(N_FRAMES)])
    write_video(root / "c1.mp4", frames, fps=30)
    write_video(root / "c2.mp4", np.zeros_like(frames), fps=30)
    return root


class _Counter:
    def __init__(self, monkeypatch) -> None:
        self.calls = 0
        original = OnnxTopDownDetector.detect

        def counting(det, frame):
            self.calls += 1
            return original(det, frame)

        monkeypatch.setattr(OnnxTopDownDetector, "detect", counting)


def test_cache_second_call_never_detects(blob_take, models, tmp_path, monkeypatch) -> None:
    counter = _Counter(monkeypatch)
    take = read_take(blob_take)
    opts = {"model": str(models["simcc"])}
    seen: list[tuple[float, str]] = []
    first = detect_take(take, "onnx", opts, cache_dir=tmp_path, workers=1,
                        progress=lambda f, m: seen.append((f, m)))
    assert counter.calls == 2 * N_FRAMES
    assert first.shape == (N_FRAMES, 2, J) and first.camera_names == ["c1", "c2"]
    assert seen[-1] == (1.0, f"c2: {N_FRAMES}/{N_FRAMES} frames")
    assert ("c1: 3/6 frames" in [m for _, m in seen]) and seen[2][0] == pytest.approx(0.25)
    # the blobs move 4 px per frame; codec loss stays within a few px
    for f in range(N_FRAMES):
        assert _errors(first.data[f, 0], CENTRES + np.array([4.0 * f, 0.0])).max() < 4.0
    # the black camera: kept, all missing, and reported by name
    assert first.confidence[:, 1].max() == 0.0
    assert any("camera c2: no person detected in any of the 6" in w
               for w in first.meta["warnings"])
    stats = {s["camera"]: s for s in first.meta["detection"]}
    assert stats["c1"]["frames_with_person"] == N_FRAMES and not stats["c1"]["cached"]
    assert stats["c2"]["frames_with_person"] == 0

    files = sorted(p.name for p in tmp_path.glob("*.npz"))
    assert len(files) == 2 and files[0].startswith("c1-") and files[1].startswith("c2-")
    cached = load_cached(tmp_path / files[0])
    assert cached.n_frames == N_FRAMES and cached.joint_set == "coco_17"
    from skelsplat.core.keypoints import read_keypoints

    as_npz = read_keypoints(tmp_path / files[0])  # cache files are plain NPZ keypoints
    assert as_npz.camera_names == ["c1"] and as_npz.joint_set == "coco_17"
    np.testing.assert_allclose(as_npz.data[:, 0], first.data[:, 0], atol=1e-4)

    (blob_take / "c1.mp4").touch()  # mtime changes do not invalidate
    again = detect_take(read_take(blob_take), "onnx", opts, cache_dir=tmp_path, workers=1)
    assert counter.calls == 2 * N_FRAMES  # zero new detector invocations
    np.testing.assert_allclose(again.data, first.data, atol=1e-4)  # float32 storage
    assert all(s["cached"] for s in again.meta["detection"])

    other = detect_take(read_take(blob_take), "onnx", {**opts, "padding": 1.5},
                        cache_dir=tmp_path, workers=1)
    assert counter.calls == 4 * N_FRAMES  # new settings: detected again, new files
    assert len(list(tmp_path.glob("*.npz"))) == 4
    assert other.shape == first.shape


def test_offsets_pick_rows_from_the_cache(blob_take, models, tmp_path) -> None:
    opts = {"model": str(models["simcc"])}
    base = detect_take(read_take(blob_take), "onnx", opts, cache_dir=tmp_path, workers=1)
    shifted = detect_take(read_take(blob_take, offsets={"c1": 2}), "onnx", opts,
                          cache_dir=tmp_path, workers=1)
    assert shifted.shape[0] == N_FRAMES - 2
    np.testing.assert_allclose(shifted.data[:, 0], base.data[2:, 0])


def test_cancel_raises_and_keeps_finished_cameras(blob_take, models, tmp_path) -> None:
    stop = threading.Event()
    opts = {"model": str(models["simcc"])}

    def progress(fraction: float, message: str) -> None:
        if message.startswith("c2:"):
            stop.set()  # cancel while the second camera runs

    with pytest.raises(Cancelled, match="camera c2"):
        detect_take(read_take(blob_take), "onnx", opts, cache_dir=tmp_path, workers=1,
                    progress=progress, cancel=stop)
    names = [p.name for p in tmp_path.glob("*.npz")]
    assert len(names) == 1 and names[0].startswith("c1-")  # c1 finished: cached


def test_two_worker_processes_match_one(blob_take, models, tmp_path) -> None:
    opts = {"model": str(models["heatmap"])}
    seq = detect_take(read_take(blob_take), "onnx", opts, cache_dir=tmp_path / "a", workers=1)
    par = detect_take(read_take(blob_take), "onnx", opts, cache_dir=tmp_path / "b", workers=2)
    np.testing.assert_allclose(par.data, seq.data, atol=1e-4)
    assert len(list((tmp_path / "b").glob("*.npz"))) == 2
    stop = threading.Event()
    stop.set()
    with pytest.raises(Cancelled, match=r"detection cancelled at camera c[12], frame 0"):
        detect_take(read_take(blob_take), "onnx", opts, cache_dir=tmp_path / "c", workers=2,
                    cancel=stop)
    assert not list((tmp_path / "c").glob("*.npz"))


def test_script_without_main_guard_falls_back_to_one_process(blob_take, models,
                                                             tmp_path) -> None:
    import subprocess
    import sys

    script = tmp_path / "unguarded.py"
    script.write_text(
        "from skelsplat.core.detect import detect_take\n"
        "from skelsplat.core.footage import read_take\n"
        f"kp = detect_take(read_take({str(blob_take)!r}), 'onnx', "
        f"{{'model': {str(models['simcc'])!r}}}, cache_dir={str(tmp_path / 'cache')!r}, "
        "workers=2)\n"
        "print('SHAPE', kp.shape)\n"
        "print('NOTES', [w for w in kp.meta['warnings'] if 'worker processes' in w])\n")
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert f"SHAPE ({N_FRAMES}, 2, {J})" in proc.stdout
    assert "detection worker processes failed" in proc.stdout


def test_cli_detect_on_a_small_take(blob_take, models, tmp_path, capsys) -> None:
    from skelsplat.cli.main import main

    out = tmp_path / "out"
    args = ["detect", "--videos", str(blob_take), "--backend", "onnx", "--model",
            str(models["simcc"]), "--out", str(out), "--cache-dir", str(tmp_path / "cache"),
            "--workers", "1"]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "2 cameras x 6 frames x 17 joints (coco_17)" in text
    assert "c1: 6/6 frames with a person, mean confidence 1.00" in text
    assert "c2: 0/6 frames with a person" in text
    from skelsplat.core.keypoints import read_keypoints

    kp = read_keypoints(out / "keypoints.npz")
    assert kp.shape == (N_FRAMES, 2, J) and kp.camera_names == ["c1", "c2"]
    assert kp.joint_set == "coco_17" and kp.fps == pytest.approx(30.0)
    np.testing.assert_array_equal(kp.frame_numbers, np.arange(N_FRAMES))
    assert main(args) == 2  # exists, no --overwrite
    assert "exists; allow overwriting to replace it (--overwrite)" in capsys.readouterr().err
    assert main([*args, "--overwrite", "--offsets", "c1=x"]) == 2
    assert "frame offset must be an integer" in capsys.readouterr().err


@pytest.mark.parametrize("damage", ["truncated", "empty"])
def test_damaged_cache_is_recomputed_with_a_warning(blob_take, models, tmp_path, monkeypatch,
                                                    damage) -> None:
    opts = {"model": str(models["simcc"])}
    first = detect_take(read_take(blob_take), "onnx", opts, cache_dir=tmp_path, workers=1)
    c1 = next(tmp_path.glob("c1-*.npz"))
    good = c1.read_bytes()
    c1.write_bytes(good[: len(good) // 2] if damage == "truncated" else b"")
    counter = _Counter(monkeypatch)
    again = detect_take(read_take(blob_take), "onnx", opts, cache_dir=tmp_path, workers=1)
    assert counter.calls == N_FRAMES  # c1 detected again, c2 still from its cache
    assert any(f"camera c1: the detection cache {c1} is damaged" in w
               for w in again.meta["warnings"])
    np.testing.assert_allclose(again.data, first.data, atol=1e-4)
    assert load_cached(c1).n_frames == N_FRAMES  # rewritten whole
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        p.name for p in tmp_path.glob("c[12]-*.npz"))  # no temporary files
