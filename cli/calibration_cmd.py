"""``skelsplat calibration``: inspect and convert calibration files.

- ``skelsplat calibration show FILE [--from FORMAT] [--cameras A B ...]``: one row per
  camera (size, focal lengths, principal point, distortion, centre in metres), then the
  pairwise baselines in metres.
- ``skelsplat calibration convert IN OUT.toml [--from FORMAT] [--cameras ...]
  [--overwrite]``: write the Pose2Sim/anipose TOML (metres).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from ..core.calibration import CALIBRATION_FORMATS

    p = subparsers.add_parser(
        "calibration", help="show or convert a camera calibration",
        description="Inspect a calibration file or convert it to the Pose2Sim/anipose TOML.")
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)

    def common(q: argparse.ArgumentParser) -> None:
        q.add_argument("--from", dest="fmt", default="auto",
                       choices=["auto", *CALIBRATION_FORMATS],
                       help="input format (default: detected from the content)")
        q.add_argument("--cameras", nargs="+", metavar="NAME",
                       help="keep only these cameras, in this order")
        q.add_argument("--units", default="auto", choices=("auto", "m", "cm", "mm"),
                       help="translation units of TOML/OpenCV files (default: detected)")

    show = sub.add_parser("show", help="print cameras and baselines",
                          description="Print one row per camera and the pairwise baselines.")
    show.add_argument("file", metavar="FILE", help="calibration file (or EasyMocap folder)")
    common(show)
    show.set_defaults(func=run_show)

    conv = sub.add_parser("convert", help="convert to Pose2Sim/anipose TOML",
                          description="Convert any supported calibration to a Pose2Sim/"
                                      "anipose TOML file in metres.")
    conv.add_argument("input", metavar="IN", help="calibration file (or EasyMocap folder)")
    conv.add_argument("output", metavar="OUT.toml", help="TOML file to write")
    conv.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    common(conv)
    conv.set_defaults(func=run_convert)
    return p


def _read(path: str, args: argparse.Namespace):
    from ..core.calibration import read_calibration

    return read_calibration(path, fmt=args.fmt, cameras=args.cameras, units=args.units)


def format_rig_table(rig) -> str:
    """The text of ``calibration show`` for a :class:`Rig`."""
    rows = [("camera", "model", "size", "fx / fy (px)", "cx / cy (px)", "distortion",
             "centre (m)")]
    for c in rig:
        rows.append((c.name, c.model, f"{c.size[0]}x{c.size[1]}", f"{c.fx:.2f} / {c.fy:.2f}",
                     f"{c.cx:.2f} / {c.cy:.2f}", " ".join(f"{d:+.4g}" for d in c.dist),
                     " ".join(f"{x:+.3f}" for x in c.center)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [f"{rig.source}: {len(rig)} camera(s)"]
    lines += ["  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in rows]
    if len(rig) > 1:
        b = rig.baselines()
        name_w = max(len(n) for n in rig.names)
        col_w = max(name_w, 7)
        lines += ["", "baselines (m)",
                  " " * name_w + "  " + "  ".join(n.rjust(col_w) for n in rig.names)]
        for i, n in enumerate(rig.names):
            lines.append(n.ljust(name_w) + "  "
                         + "  ".join(f"{b[i, j]:{col_w}.3f}" for j in range(len(rig))))
        lines.append(f"median baseline {rig.scale:.3f} m")
    problems = rig_warnings(rig)
    if problems:
        lines += ["", *(f"warning: {w}" for w in problems)]
    return "\n".join(lines)


def rig_warnings(rig) -> list[str]:
    """What the fit would warn about or refuse (coinciding cameras, absurd distortion)."""
    from ..core.errors import CalibrationError
    from ..core.sanity import check_baselines, check_distortion

    try:
        found = check_baselines(rig)
    except CalibrationError as exc:
        found = [f"{exc} (fit and run refuse this calibration)"]
    return [*found, *check_distortion(rig)]


def run_show(args: argparse.Namespace) -> int:
    print(format_rig_table(_read(args.file, args)))
    return 0


def run_convert(args: argparse.Namespace) -> int:
    from ..core.calibration import write_calibration_toml
    from ..core.errors import CalibrationError

    out = Path(args.output)
    if out.suffix.lower() != ".toml":
        raise CalibrationError(f"{out}: the output must be a .toml file")
    rig = _read(args.input, args)
    for w in rig_warnings(rig):
        print(f"warning: {w}", file=sys.stderr)
    write_calibration_toml(rig, out, overwrite=args.overwrite)
    print(f"wrote {out} ({len(rig)} cameras: {', '.join(rig.names)})")
    return 0
