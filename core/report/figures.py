"""PNG figures of the run report (matplotlib, Agg canvas, no pyplot state, no display).

Every function takes plain arrays, writes one PNG and returns its path, so each can be
tested with synthetic inputs. Image coordinates follow ``core.camera``: (u, v) pixels with
integer values at pixel centres.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..atomic import atomic_write
from ..metrics import bone_length_std, nanmean

#: Colours: detections (2D evidence) and the fitted skeleton reprojected.
DETECTION_COLOR = "#1fd655"
FIT_COLOR = "#ff2fd0"
#: Images wider than this are subsampled before drawing (the PNG is small anyway).
MAX_IMAGE_WIDTH = 480


@dataclass
class OverlayPanel:
    """One footage frame of one camera with what to draw over it.

    Attributes:
        frame: take frame number (for the title).
        image: [H, W, 3] uint8 RGB footage frame, or None (drawn on a grey canvas).
        detections: [J, 3] u, v (px) and confidence of the 2D detections (0 = missing).
        fitted_uv: [Jc, 2] fitted joints projected into this camera (px), NaN where invalid.
    """

    frame: int
    image: np.ndarray | None
    detections: np.ndarray
    fitted_uv: np.ndarray


def _save(fig: Figure, path: Path, dpi: int = 100) -> Path:
    path = Path(path)
    FigureCanvasAgg(fig)
    with atomic_write(path, "wb") as fh:
        # zlib level 3: about 3x faster than the default 6 for a few % larger files.
        fig.savefig(fh, format="png", dpi=dpi, pil_kwargs={"compress_level": 3})
    return path


def _draw_skeleton(ax, uv: np.ndarray, ok: np.ndarray, bones: np.ndarray, color: str,
                   marker: str, label: str) -> None:
    """Bones as lines between joints that are both ``ok``, joints as markers."""
    segs = [uv[[a, b]] for a, b in bones if ok[a] and ok[b]]
    for s in segs:
        ax.plot(s[:, 0], s[:, 1], "-", color=color, lw=1.2, alpha=0.9)
    pts = uv[ok]
    ax.plot(pts[:, 0], pts[:, 1], marker, color=color, ms=3.5, mew=1.0, ls="none", label=label)


def plot_camera_overlays(
    path: str | Path,
    camera: str,
    size: tuple[int, int],  # (width, height) px of the calibrated image
    panels: Sequence[OverlayPanel],
    detection_bones: np.ndarray,  # [B, 2] joint indices of the detections' joint set
    fit_bones: np.ndarray,  # [Bc, 2] joint indices of the fitted (canonical) joints
) -> Path:
    """Footage frames of one camera, side by side, with detections and reprojected fit."""
    w, h = (int(s) for s in size)
    n = max(len(panels), 1)
    panel_w = 3.2
    panel_h = panel_w * h / w
    fig = Figure(figsize=(panel_w * n, panel_h + 0.6), layout="constrained")
    axes = fig.subplots(1, n, squeeze=False)[0]
    for ax, panel in zip(axes, panels):
        if panel.image is not None:
            img = np.asarray(panel.image)
            step = max(1, int(np.ceil(img.shape[1] / MAX_IMAGE_WIDTH)))
            ih, iw = img.shape[:2]
            ax.imshow(img[::step, ::step], extent=(-0.5, iw - 0.5, ih - 0.5, -0.5),
                      interpolation="bilinear")
        else:
            ax.set_facecolor("#3a3a3a")
        det = np.asarray(panel.detections, dtype=float)
        _draw_skeleton(ax, det[:, :2], det[:, 2] > 0, detection_bones, DETECTION_COLOR, "o",
                       "detections")
        fit = np.asarray(panel.fitted_uv, dtype=float)
        _draw_skeleton(ax, fit, np.isfinite(fit).all(-1), fit_bones, FIT_COLOR, "x",
                       "fit (reprojected)")
        ax.set_xlim(-0.5, w - 0.5)
        ax.set_ylim(h - 0.5, -0.5)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"{camera} · frame {panel.frame}", fontsize=9)
    for ax in axes[len(panels):]:
        ax.set_axis_off()
    if len(panels):
        axes[0].legend(loc="lower left", fontsize=7, framealpha=0.7)
    return _save(fig, path)


def plot_reprojection_errors(
    path: str | Path,
    errors: np.ndarray,  # [V, J] mean reprojection error per camera and joint (px), NaN = none
    camera_names: Sequence[str],
    joint_names: Sequence[str],
) -> Path:
    """Heatmap of the mean reprojection error per camera (rows) and joint (columns)."""
    errors = np.asarray(errors, dtype=float)
    V, J = errors.shape
    fig = Figure(figsize=(max(6.0, 0.42 * J + 1.5), 1.6 + 0.5 * V), layout="constrained")
    ax = fig.subplots()
    masked = np.ma.masked_invalid(errors)
    finite = errors[np.isfinite(errors)]
    vmax = float(np.percentile(finite, 98)) if finite.size else 1.0
    im = ax.imshow(masked, cmap="viridis", vmin=0.0, vmax=max(vmax, 1e-6), aspect="auto")
    for v in range(V):
        for j in range(J):
            if np.isfinite(errors[v, j]):
                val = errors[v, j]
                ax.text(j, v, f"{val:.0f}" if val >= 10 else f"{val:.1f}", ha="center",
                        va="center", fontsize=6,
                        color="black" if val > 0.6 * vmax else "white")
    ax.set_xticks(range(J), list(joint_names), rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(V), list(camera_names), fontsize=8)
    ax.set_title("Mean reprojection error per camera and joint (px); blank = no detection",
                 fontsize=9)
    fig.colorbar(im, ax=ax, label="px", shrink=0.9)
    return _save(fig, path)


def plot_bone_lengths(
    path: str | Path,
    lengths_mm: np.ndarray,  # [F, B] bone lengths (mm), NaN where undefined
    frame_numbers: np.ndarray,  # [F] take frame numbers
    bone_names: Sequence[str],
) -> Path:
    """Bone-length stability: deviation from each bone's median vs frame, and std per bone."""
    lengths_mm = np.asarray(lengths_mm, dtype=float)
    _F, B = lengths_mm.shape
    frames = np.asarray(frame_numbers)
    fig = Figure(figsize=(9.0, 6.5), layout="constrained")
    top, bottom = fig.subplots(2, 1, height_ratios=[3, 2])
    seen = np.isfinite(lengths_mm).sum(axis=0)
    cmap = matplotlib.colormaps["tab20"]
    top.set_prop_cycle(color=[cmap(i % 20) for i in range(max(B, 1))])
    std = bone_length_std(lengths_mm)  # [B] mm
    for b in range(B):
        if seen[b] == 0:
            continue
        col = lengths_mm[:, b]
        med = float(np.nanmedian(col))
        top.plot(frames, col - med, lw=0.9, label=bone_names[b])
    top.axhline(0.0, color="black", lw=0.6)
    top.set_xlabel("frame")
    top.set_ylabel("length − median (mm)")
    top.set_title("Bone length over time", fontsize=10)
    if B <= 24:
        top.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    order = np.arange(B)
    bottom.bar(order, np.nan_to_num(std), color="#4a7bd0")
    bottom.set_xticks(order, list(bone_names), rotation=60, ha="right", fontsize=7)
    bottom.set_ylabel("std (mm)")
    mean_std = float(nanmean(std))
    bottom.set_title(f"Standard deviation per bone (mean {mean_std:.1f} mm)", fontsize=10)
    return _save(fig, path)


def plot_contacts(
    path: str | Path,
    contacts: dict[str, np.ndarray],  # side -> [F] bool
    heights_mm: dict[str, np.ndarray],  # side -> [F] lowest foot point above the floor (mm)
    frame_numbers: np.ndarray,  # [F] take frame numbers
    note: str | None = None,
) -> Path:
    """Foot contacts over time: one lane per foot (filled while planted) over the height of
    that foot's lowest point above the floor; ``note`` replaces an empty plot's message."""
    frames = np.asarray(frame_numbers)
    fig = Figure(figsize=(9.0, 3.6), layout="constrained")
    ax = fig.subplots()
    colours = {"left": "#2f7ed8", "right": "#d8432f"}
    for side, flags in contacts.items():
        c = colours.get(side, "black")
        h = np.asarray(heights_mm.get(side, np.zeros(len(flags))), dtype=float)
        ax.plot(frames, h, color=c, lw=1.0, label=f"{side} foot height")
        ax.fill_between(frames, 0, np.where(flags, max(float(np.nanmax(h)), 1.0), 0),
                        step="mid", color=c, alpha=0.15, lw=0,
                        label=f"{side} contact ({100 * np.mean(flags):.0f} %)")
    if not contacts:
        ax.text(0.5, 0.5, note or "no foot points in this joint set", ha="center",
                va="center", transform=ax.transAxes)
    ax.axhline(0.0, color="black", lw=0.6)
    ax.set_xlabel("frame")
    ax.set_ylabel("lowest foot point above floor (mm)")
    ax.set_title("Foot contacts (shaded) and foot height", fontsize=10)
    if contacts:
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return _save(fig, path)


def plot_timings(path: str | Path, timings_s: dict[str, float]) -> Path:
    """Horizontal bars: seconds per pipeline stage, in run order."""
    names = list(timings_s)
    secs = np.array([timings_s[n] for n in names], dtype=float)
    fig = Figure(figsize=(7.0, 0.5 + 0.4 * max(len(names), 1)), layout="constrained")
    ax = fig.subplots()
    y = np.arange(len(names))
    ax.barh(y, secs, color="#e08a2c")
    ax.set_yticks(y, names)
    ax.invert_yaxis()
    for yi, s in zip(y, secs):
        ax.text(s, yi, f" {s:.2f} s", va="center", fontsize=8)
    ax.set_xlabel("seconds")
    ax.set_xlim(0, max(float(secs.max()) * 1.25 if secs.size else 1.0, 1e-3))
    ax.set_title(f"Time per stage (total {secs.sum():.2f} s)", fontsize=10)
    return _save(fig, path)
