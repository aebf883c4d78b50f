"""Input sanity checks: what is readable but cannot be right, caught before the fit.

Readers check syntax; these functions check meaning. Each either raises a
:class:`~skelsplat.core.errors.SkelsplatError` subclass (the input cannot give a correct
result) or returns warnings (the result may be poor; the front end shows them). Messages
speak of the option's meaning ("frame rate", "joint set") and name the option
(``SkelsplatError.option``); the front ends add their own control (``--fps`` in the CLI, the
panel's field in Blender).

- :func:`check_rate` / :func:`check_cutoff`: frame rate and smoothing cut-off (0, negative,
  NaN, inf; a cut-off at or above the Nyquist frequency fps / 2).
- :func:`check_baselines`: error when no two cameras are :data:`MIN_BASELINE_M` apart (no
  depth), warning when two nearly coincide.
- :func:`check_distortion`: warning when a camera's distortion model folds back (is not
  monotonic) inside its image, or stretches the image corner implausibly.
- :func:`check_keypoints`: all-zero confidence (error), a camera left without any detection
  (error when a frame offset did it, else a warning), keypoints far outside the image
  (warning; they are ignored), joint-set plausibility (:func:`check_joint_set`: the
  left/right symmetry of a first DLT triangulation read as each joint set of that joint
  count; BODY_25 data read as BODY_25B gives limbs 25-28 % lopsided instead of 2 %).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from itertools import combinations

import numpy as np

from .camera import Camera, Rig
from .errors import CalibrationError, KeypointError, SkelsplatError
from .keypoints.multiview import Keypoints2D
from .metrics import bone_lengths, nanmedian
from .skeletons import get_joint_set, joint_set_names

#: No depth can be triangulated when every camera pair is closer than this (metres).
MIN_BASELINE_M = 0.01
#: Two cameras "nearly coincide" when closer than this fraction of the rig's widest baseline.
NEAR_BASELINE_FRACTION = 0.02
#: Keypoints further than this many image sizes outside the image are ignored (warning).
OUTSIDE_IMAGE_SIZES = 1.0
#: A camera disagrees with the others when its keypoints lie a median of more than this
#: fraction of its image diagonal from a first triangulation of all cameras.
DISAGREE_FRACTION = 0.05
#: The distorted image corner may lie at most this factor from the undistorted one.
MAX_CORNER_STRETCH = 3.0
#: Joint set judged wrong when left and right limbs differ by more than ASYMMETRY_WRONG
#: (median relative difference) while another joint set of the same joint count gives
#: less than ASYMMETRY_RIGHT and a third of it. Measured: synthetic BODY_25 motion 0.02 read
#: as body_25, 0.25-0.28 as body_25b; COCO-17 0.004 vs 0.51 as h36m_17; Shelf's real
#: OpenPose detections (3 actors, oracle association) 0.014 / 0.033 / 0.040 as body_25,
#: 0.256 / 0.135 / 0.166 as body_25b.
ASYMMETRY_WRONG = 0.10
ASYMMETRY_RIGHT = 0.08
#: Frames used for the first triangulation of the plausibility check.
_SAMPLE_FRAMES = 200


# ------------------------------------------------------------------------------ rates
def check_rate(value: float | None, name: str = "the frame rate",
               option: str | None = "fps") -> float | None:
    """``value`` as a float (None passes through); SkelsplatError (naming ``option``) unless
    positive and finite."""
    if value is None:
        return None
    try:
        rate = float(value)
    except (TypeError, ValueError):
        raise SkelsplatError(f"{name} must be a number of frames per second, got "
                             f"{value!r}", option=option) from None
    if not math.isfinite(rate) or rate <= 0:
        raise SkelsplatError(f"{name} must be a positive, finite number of frames per second, "
                             f"got {rate:g}", option=option)
    return rate


def check_cutoff(cutoff_hz: float | None, fps: float | None,
                 name: str = "the smoothing cut-off",
                 option: str | None = "smooth_cutoff_hz") -> float | None:
    """``cutoff_hz`` as a float (None passes through: chosen from the data); SkelsplatError
    unless positive, finite and below the Nyquist frequency ``fps / 2`` (when fps is known)."""
    if cutoff_hz is None:
        return None
    try:
        hz = float(cutoff_hz)
    except (TypeError, ValueError):
        raise SkelsplatError(f"{name} must be a frequency in Hz, got {cutoff_hz!r}",
                             option=option) from None
    if not math.isfinite(hz) or hz <= 0:
        raise SkelsplatError(f"{name} must be a positive, finite frequency in Hz, got {hz:g}",
                             option=option)
    if fps is not None and math.isfinite(fps) and hz >= fps / 2:
        raise SkelsplatError(f"{name} ({hz:g} Hz) must be below half the frame rate "
                             f"({fps:g} fps / 2 = {fps / 2:g} Hz)", option=option)
    return hz


# ------------------------------------------------------------------------------ cameras
def check_baselines(rig: Rig) -> list[str]:
    """Warnings for cameras that nearly coincide; CalibrationError when no pair of cameras
    is :data:`MIN_BASELINE_M` apart (nothing can be triangulated)."""
    V = len(rig)
    if V < 2:
        return []
    B = rig.baselines()
    iu = np.triu_indices(V, 1)
    widest = float(np.max(B[iu]))
    if not widest >= MIN_BASELINE_M:
        raise CalibrationError(
            f"{rig.source or 'calibration'}: the cameras {', '.join(rig.names)} are at most "
            f"{widest:.3f} m apart; triangulation needs cameras at least {MIN_BASELINE_M} m "
            "apart (check the translations and their units)")
    near = max(MIN_BASELINE_M, NEAR_BASELINE_FRACTION * widest)
    return [f"cameras {rig.names[a]} and {rig.names[b]} are only {B[a, b]:.3f} m apart (the "
            f"widest pair is {widest:.2f} m): together they add almost no depth; check their "
            "translations" for a, b in zip(*iu) if B[a, b] < near]


def _corner_radius(cam: Camera) -> float:
    """Distance (normalised, pinhole) from the principal point to the farthest image corner."""
    w, h = float(cam.size[0]), float(cam.size[1])
    corners = np.array([[0, 0], [w, 0], [0, h], [w, h]], dtype=float)
    xy = (corners - [cam.cx, cam.cy]) / [cam.fx, cam.fy]
    return float(np.max(np.hypot(xy[:, 0], xy[:, 1])))


def distortion_problem(cam: Camera) -> str | None:
    """Why the camera's distortion cannot be right inside its image, or None."""
    if not cam.has_distortion:
        return None
    corner = _corner_radius(cam)  # distorted radius to reach
    r = np.linspace(0.0, 4.0 * corner, 4001)[1:]
    with np.errstate(all="ignore"):
        rd = cam.distort_normalized(np.stack([r, np.zeros_like(r)], -1))[:, 0]
    coeffs = ", ".join(f"{d:g}" for d in cam.dist)
    reach = np.flatnonzero(rd >= corner)
    end = int(reach[0]) + 1 if reach.size else r.size
    steps = np.diff(rd[:end])
    if not np.all(np.isfinite(rd[:end])) or np.any(steps <= 0):
        at = int(np.argmax(~(steps > 0))) if steps.size else 0
        return (f"camera {cam.name}: the {cam.model} distortion ({coeffs}) is not monotonic "
                f"inside the image (it folds back {rd[at] / corner:.0%} of the way to the "
                "corner): points there project ambiguously; check the coefficients' order "
                "and units")
    if reach.size:
        stretch = corner / r[reach[0]]
        if stretch > MAX_CORNER_STRETCH or stretch < 1 / MAX_CORNER_STRETCH:
            return (f"camera {cam.name}: the {cam.model} distortion ({coeffs}) moves the image "
                    f"corner {stretch:.3g}x from where the lens without distortion would put "
                    "it; check the coefficients' order and units")
    return None


def check_distortion(rig: Rig) -> list[str]:
    """One warning per camera whose distortion cannot be right (see distortion_problem)."""
    return [msg for cam in rig if (msg := distortion_problem(cam)) is not None]


def check_rig(rig: Rig) -> list[str]:
    """:func:`check_baselines` and :func:`check_distortion` (errors raised, warnings returned)."""
    return [*check_baselines(rig), *check_distortion(rig)]


# ------------------------------------------------------------------------------ keypoints
def _sample_rows(kp: np.ndarray) -> np.ndarray:
    """[S] rows of the (up to 200) frames with the most detections, in order."""
    seen = (kp[..., 2] > 0).sum(axis=(1, 2))  # [F]
    return np.sort(np.argsort(-seen, kind="stable")[:_SAMPLE_FRAMES])


def _undistorted_sample(kp: np.ndarray, rig: Rig) -> np.ndarray:
    """[S, J, V, 3] undistorted pixels + confidence of the frames of _sample_rows."""
    from .triangulation import undistort_keypoints

    return undistort_keypoints(rig, np.transpose(kp[_sample_rows(kp)], (0, 2, 1, 3)))


def _first_triangulation(kp: np.ndarray, rig: Rig, views: Sequence[int] | None = None,
                         und: np.ndarray | None = None) -> np.ndarray:
    """[S, J, 3] DLT points (metres, NaN where < 2 views) of the frames of _sample_rows,
    from every camera or only ``views`` (``und``: the precomputed _undistorted_sample)."""
    from .triangulation import triangulate_dlt

    und = _undistorted_sample(kp, rig) if und is None else und
    weights = und[..., 2].copy()  # [S, J, V]
    if views is not None:
        weights[..., np.setdiff1d(np.arange(len(rig)), views)] = 0.0
    return triangulate_dlt(rig.projection_matrices, und[..., :2], weights)


def check_agreement(keypoints: Keypoints2D, rig: Rig) -> list[str]:
    """Warnings for cameras whose detections lie far from a first (DLT) triangulation by
    every pair of the other cameras: a median distance above :data:`DISAGREE_FRACTION` of
    the image diagonal (keypoints of another camera, another resolution, another
    calibration). Needs 4 cameras (with 3, one bad camera spoils every pair)."""
    kp = np.asarray(keypoints.data, dtype=float)  # [F, V, J, 3]
    V = len(rig)
    if V < 4:
        return []
    sample = kp[_sample_rows(kp)]  # [S, V, J, 3]
    pairs = list(combinations(range(V), 2))
    und = _undistorted_sample(kp, rig)
    points = {p: _first_triangulation(kp, rig, p, und) for p in pairs}  # pair -> [S, J, 3]
    found = []
    for v, cam in enumerate(rig):
        medians = []
        for pair in pairs:
            if v in pair:
                continue
            X = points[pair]
            ok = (sample[:, v, :, 2] > 0) & np.isfinite(X).all(-1)
            if ok.sum() < 10:
                continue
            with np.errstate(all="ignore"):
                err = np.linalg.norm(cam.project(X[ok]) - sample[:, v, :, :2][ok], axis=-1)
            if np.isfinite(err).any():
                medians.append(float(np.nanmedian(err)))
        if not medians:
            continue
        median = min(medians)  # the best-agreeing pair of other cameras
        diagonal = float(np.hypot(*cam.size))
        if not median <= DISAGREE_FRACTION * diagonal:
            found.append(
                f"camera {cam.name}: its keypoints lie a median {median:.0f} px "
                f"({median / diagonal:.0%} of the image diagonal) from a first triangulation "
                "by any pair of the other cameras; check that its keypoints belong to this "
                "camera and its calibration (name, order, image size)")
    return found


def joint_set_asymmetry(joints: np.ndarray, joint_set: str) -> float:
    """Median relative difference between each left limb and its right twin.

    Args:
        joints: [S, J, 3] triangulated points (NaN where unknown) read as ``joint_set``.
    Returns:
        0 for a perfectly symmetric skeleton, about 0.03-0.10 for real detections of the
        right joint set, well above 0.25 when the labels belong to another joint set; NaN
        when no pair of twin bones could be measured.
    """
    js = get_joint_set(joint_set)
    bones = js.bone_indices
    flip = js.flip_permutation()
    index = {(int(a), int(b)): i for i, (a, b) in enumerate(bones)}
    pairs = []
    for i, (a, b) in enumerate(bones):
        twin = index.get((int(flip[a]), int(flip[b]))) or index.get((int(flip[b]), int(flip[a])))
        if twin is not None and twin > i:
            pairs.append((i, twin))
    if not pairs:
        return float("nan")
    typical = nanmedian(bone_lengths(joints, bones), axis=0)  # [B]
    with np.errstate(all="ignore"):
        diffs = [abs(typical[i] - typical[t]) / max(typical[i], typical[t])
                 for i, t in pairs if np.isfinite(typical[i] + typical[t])
                 and max(typical[i], typical[t]) > 0]
    return float(np.median(diffs)) if diffs else float("nan")


def check_joint_set(keypoints: Keypoints2D, rig: Rig, name: str = "the joint set") -> None:
    """KeypointError when the keypoints read as their joint set give a lopsided skeleton
    while another joint set of the same joint count gives a symmetric one (e.g. BODY_25
    data read as BODY_25B)."""
    J = keypoints.shape[2]
    alternatives = [n for n in joint_set_names()
                    if n != keypoints.joint_set and get_joint_set(n).n == J]
    if not alternatives or len(rig) < 2:
        return
    X = _first_triangulation(keypoints.data, rig)
    mine = joint_set_asymmetry(X, keypoints.joint_set)
    if not mine > ASYMMETRY_WRONG:
        return
    scores = {n: joint_set_asymmetry(X, n) for n in alternatives}
    best = min(scores, key=lambda n: scores[n] if np.isfinite(scores[n]) else np.inf)
    if scores[best] < min(ASYMMETRY_RIGHT, mine / 3):
        raise KeypointError(
            f"{keypoints.source or 'keypoints'}: read as {keypoints.joint_set}, the "
            f"triangulated left and right limbs differ by {mine:.0%} in length; read as "
            f"{best} they differ by {scores[best]:.0%}: the keypoints are {best}, set "
            f"{name} to {best}", option="joint_set")


def check_keypoints(keypoints: Keypoints2D, rig: Rig,
                    offsets: Mapping[str, int] | None = None,
                    check_labels: bool = True,
                    joint_set_name: str = "the joint set") -> tuple[Keypoints2D, list[str]]:
    """Sanity of keypoints aligned to ``rig`` (``data`` [F, V, J, 3]); returns (keypoints
    [F, V, J, 3], warnings).

    Keypoints more than :data:`OUTSIDE_IMAGE_SIZES` image sizes outside their camera's
    image are set missing (confidence 0) with a warning. Raises KeypointError when nothing
    is left to fit (every confidence 0), when a camera's frame offset leaves it without any
    detection, and when the joint set is implausible (:func:`check_joint_set`).
    """
    data = np.array(keypoints.data, dtype=float)  # [F, V, J, 3]
    where = keypoints.source or "keypoints"
    found: list[str] = []
    if data.shape[1] != len(rig):
        raise KeypointError(f"{where}: {data.shape[1]} views for the {len(rig)} cameras "
                            f"{rig.names}")
    conf = np.where(np.isfinite(data[..., 2]), data[..., 2], 0.0)
    for v, cam in enumerate(rig):
        w, h = float(cam.size[0]), float(cam.size[1])
        u, y = data[:, v, :, 0], data[:, v, :, 1]
        m = OUTSIDE_IMAGE_SIZES
        with np.errstate(invalid="ignore"):
            inside = (u >= -m * w) & (u <= (1 + m) * w) & (y >= -m * h) & (y <= (1 + m) * h)
        far = (conf[:, v] > 0) & ~inside
        if far.any():
            f, j = (int(i) for i in np.argwhere(far)[0])
            found.append(
                f"camera {cam.name}: {int(far.sum())} keypoints lie more than an image size "
                f"outside its {int(w)}x{int(h)} image (e.g. frame "
                f"{int(keypoints.frame_numbers[f])}, joint {keypoints.joints.joints[j]} at "
                f"({u[f, j]:.0f}, {y[f, j]:.0f}) px) and are ignored; check the keypoints' "
                "units and the calibration's image size")
            conf[:, v][far] = 0.0
    data[..., 2] = conf
    if not (conf > 0).any():
        raise KeypointError(f"{where}: every keypoint has confidence 0 ({data.shape[0]} "
                            f"frames x {len(rig)} cameras): nothing to fit")
    for v, cam_name in enumerate(rig.names):
        if (conf[:, v] > 0).any():
            continue
        offset = (offsets or {}).get(cam_name)
        if offset:
            raise KeypointError(
                f"{where}: the frame offset of camera {cam_name} ({offset}) leaves it without "
                f"any detection in the take's frames {int(keypoints.frame_numbers[0])}.."
                f"{int(keypoints.frame_numbers[-1])}; check the offset", option="offsets")
        found.append(f"camera {cam_name} has no detection in any frame: it is not used")
    out = keypoints.replace(data=data)
    if check_labels:
        check_joint_set(out, rig, joint_set_name)
    found += check_agreement(out, rig)
    return out, found
