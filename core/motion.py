"""3D motion of one actor: the hand-off format between the fitter, Blender and exporters."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .atomic import atomic_write
from .errors import ExportError, SkelsplatError


@dataclass
class Motion3D:
    """Per-frame 3D joints of one actor, in the world frame of the calibration.

    Attributes:
        joints3d: [F, J, 3] float64, metres; NaN where ``valid`` is False.
        joint_names: J names (canonical ``snake_case`` names for fit output).
        valid: [F, J] bool, True where the joint was determined.
        covariances: [F, J, 3, 3] float64, m^2 (the fitted Gaussians); NaN where invalid.
        fps: frames per second of the take, or None when unknown.
        frame_numbers: [F] int, the take's frame index of each row.
        reprojection_error_px: [F, V, J] float, NaN where a view had no detection.
        camera_names: V names for the reprojection error axis.
        raw_joints3d: [F, J, 3] before temporal smoothing (None when not smoothed).
        meta: free-form provenance (source files, options, timings).
        bone_names: names ``"parent-child"`` of the bones whose length is constant over the
            take (the fitted skeleton; empty when the fit had none).
        bone_lengths: [B] metres, the length of each of ``bone_names`` in every frame.
    """

    joints3d: np.ndarray
    joint_names: list[str]
    valid: np.ndarray
    covariances: np.ndarray | None = None
    fps: float | None = None
    frame_numbers: np.ndarray | None = None
    reprojection_error_px: np.ndarray | None = None
    camera_names: list[str] = field(default_factory=list)
    raw_joints3d: np.ndarray | None = None
    meta: dict = field(default_factory=dict)
    bone_names: list[str] = field(default_factory=list)
    bone_lengths: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.joints3d = np.asarray(self.joints3d, dtype=float)
        if self.joints3d.ndim != 3 or self.joints3d.shape[2] != 3:
            raise SkelsplatError(f"joints3d must be [F, J, 3], got {self.joints3d.shape}")
        F, J, _ = self.joints3d.shape
        self.joint_names = [str(n) for n in self.joint_names]
        if len(self.joint_names) != J:
            raise SkelsplatError(f"{len(self.joint_names)} joint names for {J} joints")
        self.valid = np.asarray(self.valid, dtype=bool)
        if self.valid.shape != (F, J):
            raise SkelsplatError(f"valid must be [{F}, {J}], got {self.valid.shape}")
        # Never let a NaN masquerade as valid, never keep numbers for invalid joints.
        self.valid &= np.all(np.isfinite(self.joints3d), axis=-1)
        self.joints3d[~self.valid] = np.nan
        if self.covariances is not None:
            self.covariances = np.asarray(self.covariances, dtype=float)
            if self.covariances.shape != (F, J, 3, 3):
                raise SkelsplatError(f"covariances must be [{F}, {J}, 3, 3], "
                                     f"got {self.covariances.shape}")
            self.covariances[~self.valid] = np.nan
        if self.frame_numbers is None:
            self.frame_numbers = np.arange(F)
        self.frame_numbers = np.asarray(self.frame_numbers, dtype=int)
        if self.frame_numbers.shape != (F,):
            raise SkelsplatError(f"frame_numbers must be [{F}], got {self.frame_numbers.shape}")

    @property
    def n_frames(self) -> int:
        return self.joints3d.shape[0]

    @property
    def n_joints(self) -> int:
        return self.joints3d.shape[1]

    def index(self, joint: str) -> int:
        return self.joint_names.index(joint)

    @property
    def coverage(self) -> float:
        """Fraction of (frame, joint) entries that are valid."""
        return float(self.valid.mean()) if self.valid.size else 0.0

    # ----------------------------------------------------------------------- NPZ
    def save_npz(self, path: str | Path, overwrite: bool = False) -> Path:
        """Write the NPZ layout documented in the README (refuses to clobber by default)."""
        path = Path(path)
        if path.exists() and not overwrite:
            raise ExportError(
                f"{path} exists; allow overwriting to replace it", option="overwrite")
        arrays: dict[str, np.ndarray] = {
            "joints3d": self.joints3d,
            "joint_names": np.array(self.joint_names),
            "valid": self.valid,
            "frame_numbers": self.frame_numbers,
            "camera_names": np.array(self.camera_names, dtype=str),
        }
        if self.covariances is not None:
            arrays["covariances"] = self.covariances
        if self.reprojection_error_px is not None:
            arrays["reprojection_error_px"] = self.reprojection_error_px
        if self.raw_joints3d is not None:
            arrays["raw_joints3d"] = self.raw_joints3d
        if self.fps is not None:
            arrays["fps"] = np.array(float(self.fps))
        if self.bone_lengths is not None:
            arrays["bone_names"] = np.array(self.bone_names, dtype=str)
            arrays["bone_lengths"] = np.asarray(self.bone_lengths, dtype=float)
        with atomic_write(path, "wb") as fh:
            np.savez_compressed(fh, **arrays)
        return path

    @classmethod
    def load_npz(cls, path: str | Path) -> Motion3D:
        """Read a file written by :meth:`save_npz`."""
        path = Path(path)
        try:
            data = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise SkelsplatError(f"{path}: not a readable NPZ file ({exc})") from None
        missing = [k for k in ("joints3d", "joint_names", "valid") if k not in data]
        if missing:
            raise SkelsplatError(f"{path}: missing arrays {missing} (expected a SkelSplat "
                                 "motion NPZ with joints3d, joint_names, valid)")

        def opt(key: str) -> np.ndarray | None:
            return data[key] if key in data.files else None

        fps = opt("fps")
        cams = opt("camera_names")
        return cls(
            joints3d=data["joints3d"], joint_names=[str(n) for n in data["joint_names"]],
            valid=data["valid"], covariances=opt("covariances"),
            fps=None if fps is None else float(fps), frame_numbers=opt("frame_numbers"),
            reprojection_error_px=opt("reprojection_error_px"),
            camera_names=[] if cams is None else [str(c) for c in cams],
            raw_joints3d=opt("raw_joints3d"),
            bone_names=[str(b) for b in opt("bone_names")] if "bone_names" in data.files
            else [],
            bone_lengths=opt("bone_lengths"),
        )
