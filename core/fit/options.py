"""Options of the SkelSplat fitter."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from ..errors import FitError

MODES = ("fast", "reference")
DEVICES = ("auto", "cpu", "cuda")
RENDERERS = ("auto", "window", "exact", "full", "gsplat")
SMOOTHERS = ("auto", "off", "whittaker", "butterworth", "robust")
SKELETONS = ("auto", "off", "rigid")
INITS = ("consensus", "robust")


def resolved_smooth(smooth: str, mode: str) -> str:
    """The temporal prior ``smooth`` stands for in ``mode``: ``"auto"`` is ``"whittaker"``
    in fast mode (with or without a frame rate) and ``"off"`` in reference mode."""
    if smooth != "auto":
        return smooth
    return "off" if mode == "reference" else "whittaker"


@dataclass(frozen=True)
class FitOptions:
    """How to fit a take. ``None`` fields take the value of the mode (see :meth:`resolved`).

    Modes:
        ``"reference"``: the authors' settings: every frame on its own at full image
        resolution, ``renders_per_frame`` = 500 renders (125 Adam steps with 4 views, the
        gradient averaged over the views before each step), their learning rates, no
        early stopping, no bone-length term.
        ``"fast"``: sparse windows around the detections, all frames of a chunk optimised
        together, warm start of the Gaussian shapes from the previous chunk, fewer steps
        with early stopping, the whole-take bone-length term and bone check, and robust
        temporal smoothing when the take's frame rate is known.

    Attributes (units: mm for lengths inside the optimiser, px for images):
        smooth: ``"auto"`` (fast mode: ``"whittaker"``, also for a take without a frame
            rate: it acts on frames and chooses its weight from the data; reference mode:
            ``"off"``), ``"off"`` (frames independent),
            ``"whittaker"`` (whole-take acceleration penalty with a data-chosen, deliberately
            weak weight and robust reweighting, ``core.smoothing.whittaker_smooth``),
            ``"butterworth"`` (zero-phase low-pass at ``smooth_cutoff_hz``) or ``"robust"``
            (single-frame spikes replaced first, ``core.smoothing.robust_smooth``). Smoothing
            acts on the free per-frame fit; the skeleton (below) is posed on the smoothed
            points, so bone lengths stay constant. The unsmoothed joints are kept
            (``FitResult.raw_joints3d``).
        smooth_cutoff_hz: cut-off; None (default) chooses it per joint from the data
            (generalised cross-validation). For ``"whittaker"`` it sets the penalty weight
            whose gain is 1/2 at that frequency.
        skeleton: ``"auto"`` (fast: ``"rigid"``, reference: ``"off"``), ``"off"`` or
            ``"rigid"``: one set of bone lengths for the take, estimated from its
            best-supported frames, and every frame posed under it (``core.fit.skeleton``;
            ``FitResult.skeleton``). Bone lengths are then constant in the output.
        sigma_mm: initial isotropic sigma of every joint Gaussian (20 mm).
        heavy_occlusion: use 42.5 mm for wrists, elbows and ankles (authors' setting for
            heavily occluded views).
        lr_mean_factor: mean learning rate = factor x rig size (median baseline) in mm;
            the authors use 5e-4 (5e-3 on wide rigs). Decays log-linearly to
            ``lr_final_fraction`` of itself over the steps.
        lr_scale / lr_rotation: Adam learning rates of the log-scales and quaternions.
        symmetry_weight: lambda of the forearm/shin symmetry term (mm units).
        bone_length_weight: weight of the bone-length term sum_bones rho(|a - b| - L_b)
            (mm), L_b = median bone length of the initial guess over the whole take, rho the
            Cauchy loss c^2 log(1 + r^2 / c^2) with c = ``bone_length_scale_mm`` (quadratic
            for small r, bounded pull from a joint that is far off).
        use_confidence: weight each heatmap channel by the detection confidence.
        drop_outlier_views: give no weight to views the robust triangulation excluded.
        occlusion_targets: dim each target heatmap by the rendered transmittance of the
            joints in front (fast default; the authors' loss, used in reference mode, pushes
            partly hidden joints away from their occluders by a few mm).
        tolerance_mm: a frame stops once its largest mean update is below this (fast).
        chunk_frames: frames optimised together (memory stays flat with take length;
            fast default 256 on CPU, 2048 on CUDA).
        workers: chunks fitted in parallel on CPU, each single-threaded (None: torch's
            thread count); chunks of one wave warm-start from the previous wave.
        points_per_sigma / window_sigmas / max_window: fast windows (see
            ``core.render.lattice_windows``).
        init: ``"consensus"`` (RANSAC over view pairs) or ``"robust"`` (Pose2Sim's greedy
            camera exclusion) initial triangulation (``core.triangulation``).
        threshold_px / min_views / min_confidence / bridge_max_gap: its reprojection
            threshold, views, confidence floor, and the longest gap bridged (frames).
        swap_correction: undo left/right swaps of the detections before the initial
            triangulation (``core.swaps.correct_swaps``: per frame, view and limb group,
            checked against the other views); fast default on, off in reference mode.
        bias_correction: estimate each camera's constant detector bias per joint from the
            take's robust triangulation and subtract it before the fit
            (``core.fit.view_bias``); fast default on, off in reference mode.
        swap_ratio: flip a group when its exchanged error < ratio x the error as detected.
        bone_check: reject initial points whose bones disagree with the take's typical
            bone lengths, or that lie beyond their limbs' reach of other joints
            (``core.bone_check``; then bridged like missing joints); fast default on.
        bone_tolerance / bone_tolerance_m: a bone is off when its length differs from the
            typical one by more than ``max(bone_tolerance x L, bone_tolerance_m)``.
        temporal_outlier_m: initial points with weak view support (2 views, or a used
            view above ``threshold_px``) farther than this (m) from a robust interpolation
            of their +-3 frame neighbours are dropped (then bridged); 0 = off.
    """

    mode: str = "fast"
    device: str = "auto"
    renderer: str = "auto"
    smooth: str = "auto"
    smooth_cutoff_hz: float | None = None
    skeleton: str = "auto"
    sigma_mm: float = 20.0
    heavy_occlusion: bool = False
    lr_mean_factor: float = 5e-4
    lr_final_fraction: float | None = None
    lr_scale: float = 5e-3
    lr_rotation: float = 1e-3
    adam_eps: float = 1e-15
    symmetry_weight: float = 1e-5
    bone_length_weight: float | None = None
    bone_length_scale_mm: float = 15.0
    use_confidence: bool = True
    drop_outlier_views: bool = True
    occlusion_targets: bool | None = None
    renders_per_frame: int | None = None
    iterations: int | None = None
    min_iterations: int | None = None
    tolerance_mm: float | None = None
    chunk_frames: int | None = None
    workers: int | None = None
    points_per_sigma: float = 1.0
    window_sigmas: float = 3.0
    max_window: int = 15
    init: str = "robust"
    threshold_px: float = 15.0
    min_views: int = 2
    min_confidence: float = 0.0
    bridge_max_gap: int = 5
    temporal_outlier_m: float = 0.15
    swap_correction: bool | None = None
    bias_correction: bool | None = None
    swap_ratio: float = 0.5
    bone_check: bool | None = None
    bone_tolerance: float = 0.25
    bone_tolerance_m: float = 0.04
    dtype: str | None = None

    def __post_init__(self) -> None:
        for name, allowed in (("mode", MODES), ("device", DEVICES), ("renderer", RENDERERS),
                              ("smooth", SMOOTHERS), ("init", INITS),
                              ("skeleton", SKELETONS)):
            if getattr(self, name) not in allowed:
                raise FitError(f"fit option {name}={getattr(self, name)!r}; expected one of "
                               f"{allowed}")
        if self.sigma_mm <= 0 or (self.smooth_cutoff_hz is not None
                                  and self.smooth_cutoff_hz <= 0):
            raise FitError("fit options: sigma_mm and smooth_cutoff_hz must be positive")
        if self.bone_tolerance <= 0 or self.bone_tolerance_m <= 0:
            raise FitError("fit options: bone_tolerance and bone_tolerance_m must be positive")
        if not 0 < self.swap_ratio <= 1:
            raise FitError(f"fit options: swap_ratio must be in (0, 1], got {self.swap_ratio}")
        if self.min_views < 2:
            raise FitError(f"fit options: min_views must be >= 2, got {self.min_views}")
        for name in ("iterations", "chunk_frames", "renders_per_frame"):
            val = getattr(self, name)
            if val is not None and val < 1:
                raise FitError(f"fit options: {name} must be >= 1, got {val}")

    def resolved(self, n_views: int, cuda: bool) -> FitOptions:
        """A copy with every ``None`` / ``"auto"`` replaced by the mode's value."""
        ref = self.mode == "reference"
        smooth = resolved_smooth(self.smooth, self.mode)
        skeleton = self.skeleton if self.skeleton != "auto" else ("off" if ref else "rigid")
        renders = self.renders_per_frame or 500
        steps = self.iterations or (max(1, renders // max(n_views, 1)) if ref else 30)
        renderer = self.renderer
        if renderer == "auto":
            renderer = ("gsplat" if cuda else "full") if ref else "window"
        device = "cuda" if (self.device == "auto" and cuda) else \
            ("cpu" if self.device == "auto" else self.device)
        return replace(
            self,
            smooth=smooth,
            skeleton=skeleton,
            device=device,
            renderer=renderer,
            iterations=steps,
            renders_per_frame=renders,
            min_iterations=self.min_iterations if self.min_iterations is not None
            else (steps if ref else 10),
            lr_final_fraction=self.lr_final_fraction if self.lr_final_fraction is not None
            else (0.01 if ref else 0.1),
            bone_length_weight=self.bone_length_weight if self.bone_length_weight is not None
            else (0.0 if ref else 1e-5),
            tolerance_mm=self.tolerance_mm if self.tolerance_mm is not None
            else (0.0 if ref else 0.1),
            chunk_frames=self.chunk_frames or (1 if ref else (2048 if device == "cuda" else 256)),
            occlusion_targets=self.occlusion_targets if self.occlusion_targets is not None
            else not ref,
            dtype=self.dtype or ("float64" if ref else "float32"),
            swap_correction=self.swap_correction if self.swap_correction is not None
            else not ref,
            bias_correction=self.bias_correction if self.bias_correction is not None
            else not ref,
            bone_check=self.bone_check if self.bone_check is not None else not ref,
        )

    def as_dict(self) -> dict:
        return asdict(self)
