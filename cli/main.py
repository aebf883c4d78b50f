"""Entry point of the ``skelsplat`` command: a sub-command per module.

Each sub-command module defines ``add_parser(subparsers)`` (registers its parser and
sets ``func``) and keeps heavy imports (torch, bpy, av) inside the function it runs.
User mistakes (:class:`~skelsplat.core.errors.SkelsplatError`) print one clear line and
exit with status 2; cancellation (Ctrl-C) exits with 130.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from .. import __version__
from ..core.errors import SkelsplatError

#: Sub-command modules in the order ``--help`` lists them.
SUBCOMMANDS = ("calibration_cmd", "calibrate_cmd", "detect_cmd", "fit_cmd", "run_cmd",
               "bench_cmd", "blender_cmd")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="skelsplat",
        description="Multi-view markerless motion capture with Gaussian-skeleton fitting.",
    )
    parser.add_argument("--version", action="version", version=f"skelsplat {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        try:
            module = importlib.import_module(f"{__package__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"{__package__}.{name}":
                continue  # sub-command not part of this build
            raise
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except SkelsplatError as exc:
        print(f"skelsplat {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"skelsplat {args.command}: cancelled", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
