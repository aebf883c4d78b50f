"""Time one method on one synthetic take in a fresh process and report its peak memory.

``python -m skelsplat.core.bench.speed_probe --method skelsplat_fast --frames 3000``
prints one JSON line: frames, seconds, frames_per_s, rss_before_mb (resident after
setup: interpreter, libraries and the synthetic take), peak_rss_mb (``VmHWM``: this
process's peak resident set size while the method runs; the peak of the setup is cleared
first where Linux allows) and peak_above_before_mb (their difference: what the method
itself adds) and, with ``--save``, writes the result [F, J, 3] to an ``.npy`` file. The
take is the realistic-noise ``ring<views>`` scenario (seeded), the CMU clip looped to the
requested length.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from pathlib import Path

import numpy as np


def _status_mb(field: str) -> float:
    """A ``/proc/self/status`` memory field (``VmRSS``, ``VmHWM``) in MB."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    # Not Linux: ru_maxrss (note: on Linux it is inherited from the parent across exec).
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _reset_peak() -> None:
    """Restart ``VmHWM`` from the current resident size (Linux >= 4.0; else a no-op)."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        pass


def probe_case(frames: int, views: int, seed: int, data_dir: Path):
    from .corruption import Corruption
    from .scenarios import Scenario, make_case

    return make_case(Scenario(f"speed ring{views}", rig=f"ring{views}", corruption=Corruption(),
                              frames=frames, seed=seed, clip="02_05", group="speed"), data_dir)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--method", default="skelsplat_fast")
    p.add_argument("--frames", type=int, default=300)
    p.add_argument("--first", type=int, default=None, help="only the first N frames")
    p.add_argument("--views", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--save", type=Path, default=None)
    p.add_argument("--options", default="{}", help="JSON FitOptions overrides (fitter only)")
    a = p.parse_args(argv)
    from .methods import baseline, fitter

    case = probe_case(a.frames, a.views, a.seed, a.data)
    kp = case.keypoints if a.first is None else case.keypoints.frames(0, a.first)
    if a.method.startswith("skelsplat_"):
        method = fitter(a.method.split("_", 1)[1], a.device, **json.loads(a.options))
    else:
        method = baseline(a.method)
    _reset_peak()  # the method's peak, not case generation's
    before = _status_mb("VmRSS")
    t0 = time.perf_counter()
    X = method(kp, case.rig)
    dt = time.perf_counter() - t0
    peak = _status_mb("VmHWM")
    if a.save:
        np.save(a.save, X)
    F = kp.data.shape[0]
    print(json.dumps({"method": a.method, "frames": F, "seconds": dt, "frames_per_s": F / dt,
                      "rss_before_mb": before, "peak_rss_mb": peak,
                      "peak_above_before_mb": peak - before,
                      "load_avg": os.getloadavg()[0]}))  # the machine's 1-min load
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
