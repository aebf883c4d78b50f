"""Benchmark scenarios: CMU motion in a rig, detections corrupted reproducibly.

A :class:`Scenario` names a rig, a CMU clip, a length, a corruption and a seed; its
:func:`make_case` output depends on nothing else (bit-identical on regeneration, see
:func:`case_digest`).
"""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ..camera import Rig
from ..keypoints.multiview import Keypoints2D
from .cmu import load_cmu_clip
from .corruption import Corruption, synthesize_detections
from .noise_calibration import load_noise_model
from .rigs import Stage, panoptic_rig, place_motion, ring_rig, shelf_rig

#: Clips used (CMU index: walk, run/jog, punch/strike, bend over and lift, swordplay,
#: wash self, uneven terrain, playground jumps).
CLIPS = ("02_01", "02_03", "02_05", "02_06", "02_07", "02_10", "03_02", "01_01")


@dataclass(frozen=True)
class Scenario:
    """One benchmark case description."""

    name: str
    rig: str = "ring4"              # ring<N> | shelf | panoptic4 | panoptic8
    corruption: Corruption = field(default_factory=Corruption)
    frames: int = 200
    fps: float = 30.0
    seed: int = 0
    clip: str | None = None         # None: chosen from CLIPS by the seed
    joint_set: str = "body_25"
    group: str = "accuracy"

    def with_frames(self, frames: int) -> Scenario:
        return replace(self, frames=frames)


@dataclass
class Case:
    """A generated case: ground truth [F, J, 3] (metres), detections and the rig."""

    scenario: Scenario
    rig: Rig
    gt: np.ndarray
    keypoints: Keypoints2D
    clip: str
    yaw: float


def _seed(s: Scenario) -> list[int]:
    return [s.seed, zlib.crc32(s.name.encode())]


def rig_for(name: str, data_dir: Path, seed: int) -> tuple[Rig, Stage]:
    """Rig + stage by name (``ring4`` uses ``seed`` for its random layout)."""
    if name.startswith("ring"):
        return ring_rig(int(name[4:]), seed)
    if name == "shelf":
        return shelf_rig(data_dir)
    if name.startswith("panoptic"):
        return panoptic_rig(data_dir, name)
    raise ValueError(f"unknown benchmark rig {name!r}")


def make_case(s: Scenario, data_dir: Path, model: dict | None = None) -> Case:
    """Generate the case of scenario ``s`` from the shared data folder ``data_dir``."""
    rng = np.random.default_rng(_seed(s))
    clip = s.clip or CLIPS[int(rng.integers(len(CLIPS)))]
    yaw = float(rng.uniform(0, 2 * np.pi))
    rig, stage = rig_for(s.rig, data_dir, s.seed)
    motion = load_cmu_clip(data_dir / "cmu_mocap_amc", clip, s.fps, s.joint_set)
    if len(motion) < s.frames:  # loop the clip forwards/backwards to the wanted length
        reps = int(np.ceil(s.frames / len(motion)))
        motion = np.concatenate([motion if k % 2 == 0 else motion[::-1] for k in range(reps)])
    start = int(rng.integers(0, len(motion) - s.frames + 1))
    gt = place_motion(motion[start:start + s.frames], stage, yaw)
    kp = synthesize_detections(gt, rig, s.joint_set, model or load_noise_model(), s.corruption,
                               rng)
    keypoints = Keypoints2D(kp, rig.names, s.joint_set, fps=s.fps,
                            source=f"bench:{s.name}", meta={"clip": clip, "seed": s.seed})
    return Case(s, rig, gt, keypoints, clip, yaw)


def case_digest(case: Case) -> str:
    """SHA-256 of the case's ground truth and detections (bit-identity check)."""
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(case.gt, dtype="<f8").tobytes())
    h.update(np.ascontiguousarray(case.keypoints.data, dtype="<f8").tobytes())
    return h.hexdigest()


REALISTIC = Corruption()
HEAVY = Corruption(occlusion=0.30, outliers=0.15, swaps=0.05)
#: Fast-motion clips of the clip set (CMU index: run/jog, punch/strike, swordplay,
#: playground jumps; the set has no dance clip).
FAST_CLIPS = {"run": "02_03", "punch": "02_05", "swordplay": "02_08", "jumps": "01_01"}


def accuracy_scenarios(frames: int = 200) -> list[Scenario]:
    """The accuracy table: every scenario of the report. All draw detector errors with
    time in them (bias per camera/joint, correlated over frames) except the one labelled
    i.i.d."""
    S = Scenario
    return [
        S("clean", corruption=Corruption(noise=0.0), frames=frames, seed=1),
        S("noisy", corruption=REALISTIC, frames=frames, seed=2),
        S("noisy i.i.d. (reference: no time correlation)",
          corruption=Corruption(temporal=False), frames=frames, seed=2),
        S("occluded 30%", corruption=Corruption(occlusion=0.3), frames=frames, seed=3),
        S("outliers 15%", corruption=Corruption(outliers=0.15), frames=frames, seed=4),
        S("swaps 5%", corruption=Corruption(swaps=0.05), frames=frames, seed=5),
        S("heavy (30% occ, 15% out, 5% swap)", corruption=HEAVY, frames=frames, seed=6),
        S("views missing 25%", corruption=Corruption(view_missing=0.25), frames=frames, seed=7),
        S("out of frame 30%", corruption=Corruption(out_of_frame=0.3), frames=frames, seed=8),
        S("2 cameras", rig="ring2", corruption=REALISTIC, frames=frames, seed=9),
        S("3 cameras", rig="ring3", corruption=REALISTIC, frames=frames, seed=10),
        S("8 cameras", rig="ring8", corruption=REALISTIC, frames=frames, seed=11),
        S("8 cameras heavy", rig="ring8", corruption=HEAVY, frames=frames, seed=12),
        S("Panoptic 4 HD (distortion)", rig="panoptic4", corruption=REALISTIC, frames=frames,
          seed=13),
        S("Panoptic 8 HD heavy", rig="panoptic8", corruption=HEAVY, frames=frames, seed=14),
        S("Shelf rig", rig="shelf", corruption=REALISTIC, frames=frames, seed=15),
        S("Shelf rig heavy", rig="shelf", corruption=HEAVY, frames=frames, seed=16),
        *(S(f"fast motion: {name}", corruption=REALISTIC, frames=frames, seed=20 + i,
            clip=clip) for i, (name, clip) in enumerate(FAST_CLIPS.items())),
    ]


def occlusion_sweep(frames: int = 120, rates: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)
                    ) -> list[Scenario]:
    """Same take and rig, increasing occlusion (for the error-vs-occlusion plot)."""
    return [Scenario(f"occlusion {r:.0%}", corruption=Corruption(occlusion=r), frames=frames,
                     seed=100, clip="02_05", group="sweep") for r in rates]
