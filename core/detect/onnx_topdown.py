"""ONNX Runtime backend for top-down pose models (RTMPose-style), from a user's model file.

Nothing is downloaded: the user points to a ``.onnx`` file. Per frame:

1. Person box: the box around the previous frame's confident keypoints (enlarged by
   ``padding``), or the whole frame when there is none (first frame, lost track).
2. The box is widened to the model's input aspect ratio and cropped with an affine warp
   (bilinear) to the input size ``[1, 3, h, w]``, normalised ``(rgb - mean) / std``.
3. Output decoding, chosen from the output shapes:
   - SimCC: two outputs ``[1, J, Lx]`` and ``[1, J, Ly]`` (x and y logits over
     ``split = Lx / w`` bins per input pixel): coordinate = argmax / split, confidence =
     min(max_x, max_y);
   - heatmap: one output ``[1, J, hh, hw]``: argmax refined by a quarter-bin step toward
     the larger neighbour, scaled to the input size; confidence = the peak value.
4. Crop coordinates go back to image pixels through the inverse affine; confidences are
   clipped to [0, 1].

The joint set is given by the user (default ``coco_17``, RTMPose's body models).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import SkelsplatError
from ..skeletons import get_joint_set
from .base import check_frame

#: ImageNet mean / std on 0..255 RGB (RTMPose's preprocessing).
RGB_MEAN = (123.675, 116.28, 103.53)
RGB_STD = (58.395, 57.12, 57.375)


def box_from_keypoints(
    keypoints: np.ndarray,   # [J, 3]  u, v px, confidence
    min_conf: float = 0.3,
    padding: float = 1.25,
    min_size: float = 32.0,
) -> np.ndarray | None:
    """Centre and size ``[cx, cy, w, h]`` (px) of the confident keypoints' box x padding
    (each side at least ``min_size``); None with fewer than 2 confident keypoints."""
    ok = keypoints[:, 2] >= min_conf
    if ok.sum() < 2:
        return None
    lo = keypoints[ok, :2].min(0)
    hi = keypoints[ok, :2].max(0)
    size = np.maximum((hi - lo) * padding, min_size)
    return np.array([*(lo + hi) / 2, *size])


def fit_aspect(box: np.ndarray, aspect: float) -> np.ndarray:
    """Grow ``box`` [cx, cy, w, h] so that w / h == ``aspect`` (never shrinks)."""
    cx, cy, w, h = box
    if w > aspect * h:
        h = w / aspect
    else:
        w = h * aspect
    return np.array([cx, cy, w, h])


def crop_affine(box: np.ndarray, out_w: int, out_h: int) -> np.ndarray:
    """[2, 3] affine mapping image px -> crop px so that ``box`` fills the crop.

    Pixel centres are integers (OpenCV): the box's edges ``cx -/+ w/2`` map to the crop's
    outer edges -0.5 and ``out_w - 0.5``, i.e. ``x' = s (x - cx) + out_w / 2 - 0.5``.
    """
    cx, cy, w, h = box
    sx, sy = out_w / w, out_h / h
    return np.array([[sx, 0.0, out_w / 2 - sx * cx - 0.5],
                     [0.0, sy, out_h / 2 - sy * cy - 0.5]])


def warp_bilinear(
    image: np.ndarray,       # [H, W, C]
    affine: np.ndarray,      # [2, 3] image px -> crop px
    out_w: int,
    out_h: int,
) -> np.ndarray:             # [out_h, out_w, C] float32, 0 outside the image
    """Sample ``image`` at the inverse affine of every crop pixel (bilinear, zero border)."""
    A = np.vstack([affine, [0.0, 0.0, 1.0]])
    inv = np.linalg.inv(A)
    xs, ys = np.meshgrid(np.arange(out_w, dtype=np.float64), np.arange(out_h, dtype=np.float64))
    u = inv[0, 0] * xs + inv[0, 1] * ys + inv[0, 2]
    v = inv[1, 0] * xs + inv[1, 1] * ys + inv[1, 2]
    H, W = image.shape[:2]
    u0 = np.floor(u).astype(np.int64)
    v0 = np.floor(v).astype(np.int64)
    fu = (u - u0)[..., None].astype(np.float32)
    fv = (v - v0)[..., None].astype(np.float32)
    out = np.zeros((out_h, out_w, image.shape[2]), np.float32)
    img = image.astype(np.float32, copy=False)
    for du, dv, wgt in ((0, 0, (1 - fu) * (1 - fv)), (1, 0, fu * (1 - fv)),
                        (0, 1, (1 - fu) * fv), (1, 1, fu * fv)):
        uu, vv = u0 + du, v0 + dv
        inside = (uu >= 0) & (uu < W) & (vv >= 0) & (vv < H)
        vals = img[np.clip(vv, 0, H - 1), np.clip(uu, 0, W - 1)]
        out += np.where(inside[..., None], vals, 0.0) * wgt
    return out


def decode_simcc(
    simcc_x: np.ndarray,     # [J, Lx]
    simcc_y: np.ndarray,     # [J, Ly]
    split_ratio: float,
) -> np.ndarray:             # [J, 3]  x, y in crop px, confidence (unclipped)
    """Argmax decoding of SimCC logits; confidence = min of the two maxima."""
    ix = simcc_x.argmax(-1)
    iy = simcc_y.argmax(-1)
    conf = np.minimum(simcc_x.max(-1), simcc_y.max(-1))
    return np.stack([ix / split_ratio, iy / split_ratio, conf], -1)


def decode_heatmap(
    heatmaps: np.ndarray,    # [J, h, w]
    input_w: int,
    input_h: int,
) -> np.ndarray:             # [J, 3]  x, y in crop px, confidence (peak)
    """Argmax + quarter-bin refinement toward the larger neighbour, scaled to the input."""
    J, h, w = heatmaps.shape
    flat = heatmaps.reshape(J, -1)
    idx = flat.argmax(-1)
    py, px = np.divmod(idx, w)
    x = px.astype(float)
    y = py.astype(float)
    for j in range(J):
        hm = heatmaps[j]
        if 0 < px[j] < w - 1:
            x[j] += 0.25 * np.sign(hm[py[j], px[j] + 1] - hm[py[j], px[j] - 1])
        if 0 < py[j] < h - 1:
            y[j] += 0.25 * np.sign(hm[py[j] + 1, px[j]] - hm[py[j] - 1, px[j]])
    # bin centres -> input px centres
    sx, sy = input_w / w, input_h / h
    return np.stack([(x + 0.5) * sx - 0.5, (y + 0.5) * sy - 0.5, flat.max(-1)], -1)


class OnnxTopDownDetector:
    """Top-down single-person pose from an ONNX model file (SimCC or heatmap head).

    Args:
        model: path of the ``.onnx`` file.
        joint_set: joint set of the model's J outputs (registered name).
        mean, std: per-channel RGB normalisation (0..255 scale).
        padding: person box enlargement.
        min_box_conf: keypoints at least this confident define the next frame's box.
        threads: ONNX Runtime intra-op threads (0 = its default).
    """

    def __init__(self, model: str | Path, joint_set: str = "coco_17",
                 mean: tuple[float, float, float] = RGB_MEAN,
                 std: tuple[float, float, float] = RGB_STD,
                 padding: float = 1.25, min_box_conf: float = 0.3, threads: int = 0) -> None:
        import onnxruntime as ort

        self.model = Path(model)
        if not self.model.is_file():
            raise SkelsplatError(f"ONNX pose model {str(self.model)!r}: file not found",
                                 option="model")
        self.joint_set = get_joint_set(joint_set).name
        self.mean = np.asarray(mean, np.float32)
        self.std = np.asarray(std, np.float32)
        self.padding = float(padding)
        self.min_box_conf = float(min_box_conf)
        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = int(threads)
        try:
            self._session = ort.InferenceSession(str(self.model), opts,
                                                 providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types
            raise SkelsplatError(f"ONNX pose model {str(self.model)!r}: cannot be loaded "
                                 f"({exc})", option="model") from exc
        inp = self._session.get_inputs()[0]
        shape = inp.shape
        if len(shape) != 4 or not all(isinstance(s, int) for s in shape[2:]):
            raise SkelsplatError(f"ONNX pose model {str(self.model)!r}: input must be "
                                 f"[1, 3, h, w] with fixed h, w; got {shape}")
        self._input_name = inp.name
        self.input_h, self.input_w = int(shape[2]), int(shape[3])
        self._previous: np.ndarray | None = None
        n_joints = get_joint_set(self.joint_set).n
        outs = [o.shape for o in self._session.get_outputs()]
        if len(outs) == 2:
            self.head = "simcc"
        elif len(outs) == 1 and len(outs[0]) == 4:
            self.head = "heatmap"
        else:
            raise SkelsplatError(f"ONNX pose model {str(self.model)!r}: outputs {outs} are "
                                 "neither SimCC (x, y logits) nor one heatmap tensor")
        j_out = outs[0][1]
        if isinstance(j_out, int) and j_out != n_joints:
            raise SkelsplatError(f"ONNX pose model {str(self.model)!r}: {j_out} joints, but "
                                 f"joint set {self.joint_set} has {n_joints}")

    def settings(self) -> dict:
        import hashlib

        digest = hashlib.sha256(self.model.read_bytes()).hexdigest()
        return {"backend": "onnx", "model_sha256": digest, "joint_set": self.joint_set,
                "mean": self.mean.tolist(), "std": self.std.tolist(), "padding": self.padding,
                "min_box_conf": self.min_box_conf}

    def person_box(self, frame_shape: tuple[int, ...]) -> np.ndarray:
        """[cx, cy, w, h] px: from the previous keypoints, else the whole frame."""
        H, W = frame_shape[:2]
        box = None
        if self._previous is not None:
            box = box_from_keypoints(self._previous, self.min_box_conf, self.padding)
        if box is None:
            box = np.array([W / 2, H / 2, W, H], dtype=float)
        return fit_aspect(box, self.input_w / self.input_h)

    def detect(self, frame_rgb: np.ndarray) -> np.ndarray:
        """[H, W, 3] uint8 RGB -> [J, 3] (u px, v px, confidence in [0, 1])."""
        frame = check_frame(frame_rgb)
        box = self.person_box(frame.shape)
        A = crop_affine(box, self.input_w, self.input_h)
        crop = warp_bilinear(frame, A, self.input_w, self.input_h)
        tensor = ((crop - self.mean) / self.std).transpose(2, 0, 1)[None].astype(np.float32)
        outputs = self._session.run(None, {self._input_name: tensor})
        if self.head == "simcc":
            sx, sy = outputs[0][0], outputs[1][0]
            kp = decode_simcc(sx, sy, sx.shape[-1] / self.input_w)
        else:
            kp = decode_heatmap(outputs[0][0], self.input_w, self.input_h)
        inv = np.linalg.inv(np.vstack([A, [0.0, 0.0, 1.0]]))
        uv1 = np.concatenate([kp[:, :2], np.ones((len(kp), 1))], 1) @ inv[:2].T
        out = np.concatenate([uv1, np.clip(kp[:, 2:3], 0.0, 1.0)], 1)
        self._previous = out
        return out

    def reset(self) -> None:
        self._previous = None

    def close(self) -> None:
        self._previous = None
