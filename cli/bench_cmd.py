"""``skelsplat bench accuracy|speed|shelf|all [--quick] [--out docs/benchmarks.md]``.

``skelsplat bench animation`` (not part of ``all``) scores the baked animation (foot skate,
penetration, rigidity, MPJPE locked vs unlocked) and writes ``docs/benchmarks_animation.md``
(``core.bench.animation``).

Runs the benchmark suite (``skelsplat.core.bench``) and writes the markdown report, its
PNG plots and the raw results (``bench/results.json`` beside the report; running one
section keeps the others' previous results).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import time
from pathlib import Path

SECTIONS = ("accuracy", "speed", "shelf", "all", "animation")
#: Frames of the fast-vs-reference comparison (reference mode with the exact renderer costs
#: ~20-40 CPU-s a frame on the `noisy` take, two frames at a time on 2 cores: ~2 min).
FVR_FRAMES = 6
FVR_FRAMES_QUICK = 2


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    from ..core.fit.options import DEVICES

    p = subparsers.add_parser("bench", help="run the accuracy / speed / Shelf benchmarks",
                              description="Run the benchmark suite and write the markdown "
                                          "report, its PNG plots and bench/results.json.")
    p.add_argument("section", choices=SECTIONS, help="which benchmark to run")
    p.add_argument("--quick", action="store_true", help="small sizes (a smoke run, minutes)")
    p.add_argument("--out", type=Path, default=Path("docs/benchmarks.md"),
                   help="markdown report to write (default: docs/benchmarks.md)")
    p.add_argument("--data", type=Path, default=None,
                   help="shared data folder (default: $SKELSPLAT_SHARED_DATA or ../shared/data)")
    p.add_argument("--device", default="auto", choices=DEVICES,
                   help="device of the SkelSplat fitter")
    p.add_argument("--no-fitter", action="store_true", help="baselines only")
    p.add_argument("--fast-vs-reference", type=int, default=None, metavar="N",
                   help="speed section: fit an N-frame take of the `noisy` scenario in "
                        "reference mode (exact renderer, authors' settings) and in fast mode, "
                        f"and compare the results (default {FVR_FRAMES}, --quick "
                        f"{FVR_FRAMES_QUICK}; 0 = skip; ~0.5 CPU-min per frame)")
    p.add_argument("--fast-vs-reference-heavy", action="store_true",
                   help="also compare on the `heavy` scenario (~10 CPU-min per frame)")
    p.add_argument("--reference-accuracy", type=int, default=0, metavar="N",
                   help="also fit N frames of the speed take in reference mode with the real "
                        "full-image renderer (500 renders; very slow on a CPU)")
    p.add_argument("--frames", type=int, default=None,
                   help="frames per accuracy scenario (default 120, --quick 40)")
    p.add_argument("--fitter-timeout", type=float, default=300.0, metavar="S",
                   help="time limit of each fitter speed run in seconds (default 300)")
    p.add_argument("--methods", default=None,
                   help="comma-separated subset of methods (default: all baselines + fitter)")
    p.set_defaults(func=run)


def find_data_dir(explicit: Path | None) -> Path:
    from ..core.errors import SkelsplatError

    cands = [explicit] if explicit else []
    if os.environ.get("SKELSPLAT_SHARED_DATA"):
        cands.append(Path(os.environ["SKELSPLAT_SHARED_DATA"]))
    cands += [Path.cwd().parent / "shared" / "data",
              Path(__file__).resolve().parents[2] / "shared" / "data"]
    for c in cands:
        if c and (c / "cmu_mocap_amc").is_dir():
            return c
    raise SkelsplatError("benchmark data not found: pass --data DIR (a folder with "
                         "cmu_mocap_amc/, shelf_4dassoc/, mmpose_testdata/) or set "
                         "SKELSPLAT_SHARED_DATA")


def run(args: argparse.Namespace) -> int:
    if args.section == "animation":
        return run_animation(args)
    import tempfile

    from ..core.bench import runner
    from ..core.bench.methods import all_methods, fitter_available
    from ..core.bench.report import write_report
    from ..core.bench.scenarios import CLIPS, accuracy_scenarios, occlusion_sweep
    from ..core.errors import SkelsplatError
    from ..core.progress import counting_steps
    from .progress import StageProgress

    data = find_data_dir(args.data)
    q = args.quick
    frames = args.frames or (40 if q else 120)
    sweep_frames = max(10, frames // 2)
    lengths = (100, 300) if q else (300, 1000, 3000)
    methods = all_methods(args.device, include_fitter=not args.no_fitter)
    if args.methods:
        wanted = [m.strip() for m in args.methods.split(",") if m.strip()]
        unknown = [m for m in wanted if m not in methods]
        if unknown:
            raise SkelsplatError(f"unknown or unavailable benchmark methods {unknown}; "
                                 f"available: {list(methods)}")
        methods = {m: methods[m] for m in wanted}
    why = fitter_available()
    fitter_note = ("`skelsplat.core.fit.fit_take` (fast mode), device " + args.device
                   if why is None and not args.no_fitter else (why or "excluded (--no-fitter)"))
    sections = ("accuracy", "shelf", "speed") if args.section == "all" else (args.section,)
    total = 0
    if "accuracy" in sections:
        total += len(accuracy_scenarios(frames)) + len(occlusion_sweep(sweep_frames))
    if "shelf" in sections:
        total += len(methods)
    fvr = args.fast_vs_reference
    if fvr is None:
        fvr = FVR_FRAMES_QUICK if q else FVR_FRAMES
    fvr_takes = runner.REFERENCE_TAKES + ((runner.HEAVY_TAKE,)
                                          if args.fast_vs_reference_heavy else ())
    if "speed" in sections:
        fit = "skelsplat_fast" in methods
        total += (3 + fit) * len(lengths) + (2 + (args.reference_accuracy > 0)) * fit
        total += len(fvr_takes) * fit * (fvr > 0)
    res_path = args.out.parent / "bench" / "results.json"
    results = json.loads(res_path.read_text()) if res_path.exists() else {}
    t0 = time.time()
    with StageProgress("bench") as bar:
        progress = counting_steps(bar.update, total)
        if "accuracy" in sections:
            results["accuracy"] = runner.run_accuracy(data, frames, sweep_frames, methods,
                                                      progress)
        if "shelf" in sections:
            results["shelf"] = runner.run_shelf(data, methods, progress)
        if "speed" in sections:
            with tempfile.TemporaryDirectory() as tmp:
                results["speed"] = runner.run_speed(
                    data, lengths, args.device, Path(tmp),
                    reference_accuracy=args.reference_accuracy,
                    fitter_timeout=args.fitter_timeout, fast_vs_reference=fvr,
                    reference_takes=fvr_takes,
                    include_fitter="skelsplat_fast" in methods, progress=progress)
    date = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    before = results.get("meta", {})
    runs = dict(before.get("sections") or {})
    if not runs and before.get("command"):  # results written before sections were recorded
        done = SECTIONS[:-1] if before["command"] == "all" else (before["command"],)
        runs = {sec: {"command": before["command"], "date": before.get("date", "?"),
                      "quick": before.get("quick", False)} for sec in done}
    for sec in sections:
        runs[sec] = {"command": args.section, "date": date, "quick": q}
    results["meta"] = {
        "command": args.section, "quick": q, "date": date,
        "wall_s": time.time() - t0, "fitter": fitter_note, "clips": ", ".join(CLIPS),
        "sections": runs}
    res_path.parent.mkdir(parents=True, exist_ok=True)
    res_path.write_text(json.dumps(results, indent=1, default=float) + "\n")
    out = write_report(results, args.out)
    print(f"wrote {out} ({(time.time() - t0) / 60:.1f} min)")
    return 0


def run_animation(args: argparse.Namespace) -> int:
    """``skelsplat bench animation``: see ``core.bench.animation``."""
    from ..core.bench.animation import run_animation_bench, write_animation_report

    data = find_data_dir(args.data)
    frames = args.frames or (60 if args.quick else 120)
    seeds = (1,) if args.quick else (1, 2)
    out = args.out
    if out == Path("docs/benchmarks.md"):
        out = out.with_name("benchmarks_animation.md")
    t0 = time.time()
    results = run_animation_bench(data, frames, seeds, args.device)
    res_path = out.parent / "bench" / "animation_results.json"
    res_path.parent.mkdir(parents=True, exist_ok=True)
    res_path.write_text(json.dumps(results, indent=1, default=float) + "\n")
    command = f"skelsplat bench animation{' --quick' if args.quick else ''}"
    path = write_animation_report(results, out, command)
    print(f"wrote {path} ({(time.time() - t0) / 60:.1f} min)")
    return 0
