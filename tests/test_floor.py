"""The floor under the feet (numpy only): the support-plane normal and its prior."""

from __future__ import annotations

import numpy as np

from skelsplat.core.floor import body_up, estimate_floor, prior_ups
from skelsplat.core.orientation import Z_AXIS, swing

NAMES = ["pelvis", "neck", "left_heel", "left_toe", "right_heel", "right_toe"]


def bow_on_one_leg(n_frames: int = 120, fps: float = 60.0, seed: int = 0,
                   bow_deg: float = 50.0) -> np.ndarray:
    """[F, 6, 3] an actor on a Z-up floor (Z = 0) who stands on the left foot, swings the
    right foot back and up by 0.8 m / 0.4 m and bows forward by up to ``bow_deg`` meanwhile
    (the bundled demo's move). The right foot stands 1 cm higher than the left (a detector's
    bias); correlated noise of 4 mm per coordinate."""
    t = np.arange(n_frames) / fps
    u = t / t[-1]
    s = np.clip(np.minimum(u - 0.1, 0.9 - u) / 0.15, 0, 1)
    s = s * s * (3 - 2 * s)  # 0, eases to 1 (held over the middle half), back to 0
    X = np.zeros((n_frames, len(NAMES), 3))
    X[:, 0] = [0.0, 0.0, 0.9]
    bow = np.radians(bow_deg) * s
    X[:, 1] = X[:, 0] + 0.5 * np.stack([0 * bow, -np.sin(bow), np.cos(bow)], 1)
    X[:, 2], X[:, 3] = [0.1, 0.05, 0.07], [0.1, -0.15, 0.02]
    swing_back = np.stack([0 * s, 0.8 * s, 0.4 * s], 1)
    X[:, 4] = np.array([-0.1, 0.05, 0.08]) + swing_back
    X[:, 5] = np.array([-0.1, -0.15, 0.03]) + swing_back
    rng = np.random.default_rng(seed)
    e = rng.normal(size=(n_frames + 4, *X.shape[1:])) * 0.004 * np.sqrt(5)
    return X + np.stack([e[i:i + n_frames] for i in range(5)]).mean(0)


def _angle_deg(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.degrees(np.arccos(np.clip(a @ b, -1.0, 1.0))))


def test_a_bowing_actor_keeps_the_floor_level() -> None:
    X = bow_on_one_leg()
    # The body's median up leans with the bow: a floor normal taken from it tilts by this much.
    # Measured: body up 49 degrees off; floor 0.0 degrees off (a floor along the body's up,
    # as before, tilted 27.6 degrees); lowest foot point 9.5 mm under it (noise).
    assert _angle_deg(body_up(X, NAMES), Z_AXIS) > 20.0
    floor = estimate_floor(X, NAMES, 60.0)
    assert _angle_deg(floor.up, Z_AXIS) < 1.0, floor
    assert floor.prior == "calibration axis"
    heights = floor.height(X[:, 2:])  # [F, 4]
    assert heights.min() > -0.02  # no foot goes through it (noise only)
    assert abs(np.median(heights[:, 1])) < 0.01  # the planted left toe stands on it


def test_the_feet_tilt_the_floor_where_they_show_it() -> None:
    """A world tilted by 12 degrees: the bowing actor's feet span too little to show it, so
    the floor stays at the prior; the same actor walking shows it."""
    tilt = swing(Z_AXIS, np.array([0.0, 0.2, 1.0]))  # 11.3 degrees about X
    X = bow_on_one_leg()
    steps = X.copy()  # walk: every 20 frames both feet move 0.5 m along -Y
    steps[:, 2:] += (np.arange(len(X)) // 20 * -0.5)[:, None, None] * [0, 1, 0]
    steps[:, :2] += (np.arange(len(X)) / 20 * -0.5)[:, None, None] * [0, 1, 0]
    floor = estimate_floor(steps @ tilt.T, NAMES, 60.0)
    up = tilt.T @ floor.up  # in the walk's own frame: (0, 0, 1) is right
    # The slope along the walk: measured 0.1 degrees. Across it the feet are 0.2 m apart and
    # the right one stands 1 cm higher (bias): measured 1.4 degrees (the bias alone is 2.9).
    assert abs(np.degrees(np.arctan2(up[1], up[2]))) < 0.5, up
    assert _angle_deg(up, Z_AXIS) < 2.0, up
    assert floor.fitted_normal


def test_a_camera_frame_world_follows_the_upright_body() -> None:
    """A world whose nearest axis is 20 degrees off the floor's normal (a camera's frame) and
    an actor who stays upright: no axis is a prior, the body's up is."""
    tilt = swing(Z_AXIS, np.array([0.0, np.sin(np.radians(20)), np.cos(np.radians(20))]))
    X = bow_on_one_leg(bow_deg=0.0) @ tilt.T
    floor = estimate_floor(X, NAMES, 60.0)
    assert floor.prior == "body up"
    # Measured 0.3 degrees (the old body-up floor: the same; a floor on the axis: 20).
    assert _angle_deg(floor.up, tilt @ Z_AXIS) < 1.0, floor


def test_priors_are_the_axes_the_body_stands_along_and_the_body_up() -> None:
    X = bow_on_one_leg()  # upright (+Z) at the start and the end, bowed 50 degrees between
    priors = prior_ups(X, NAMES)
    np.testing.assert_allclose(priors[0][0], Z_AXIS)
    assert [s for _, s in priors] == ["calibration axis", "body up"]
    np.testing.assert_allclose(priors[1][0], body_up(X, NAMES))
