"""Entry point of the ``skelsplat`` command: a sub-command per module.

Each sub-command module defines ``add_parser(subparsers)`` (registers its parser and
sets ``func``) and keeps heavy imports (torch, bpy, av) inside the function it runs.
User mistakes (:class:`~skelsplat.core.errors.SkelsplatError`) and operating-system
errors (permission, disk full, missing folder: ``OSError``, naming the path) print one
clear line and exit with status 2; cancellation (Ctrl-C) exits with 130.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from .. import __version__
from ..core.atomic import os_error_message
from ..core.errors import SkelsplatError

#: Sub-command modules in the order ``--help`` lists them.
SUBCOMMANDS = ("calibration_cmd", "calibrate_cmd", "detect_cmd", "fit_cmd", "run_cmd",
               "bench_cmd", "blender_cmd", "retarget_cmd")


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
        message = _one_line(str(exc)) + _flag_hint(parser, args, getattr(exc, "option", None))
        print(f"skelsplat {args.command}: error: {message}", file=sys.stderr)
        return 2
    except OSError as exc:  # permission, disk full, missing folder: the user's machine
        print(f"skelsplat {args.command}: error: {os_error_message(exc, action='access')}",
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"skelsplat {args.command}: cancelled", file=sys.stderr)
        return 130


def _flag_hint(parser: argparse.ArgumentParser, args: argparse.Namespace,
               option: str | None) -> str:
    """`` (--flag)``: the command's flag for the setting an error names, when it has one."""
    if not option:
        return ""
    action = None
    for sub in parser._subparsers._group_actions if parser._subparsers else ():
        command = sub.choices.get(args.command)
        while command is not None:
            action = next((a for a in command._actions if a.dest == option and a.option_strings),
                          action)
            inner = next((a for a in command._actions
                          if isinstance(a, argparse._SubParsersAction)), None)
            command = inner.choices.get(getattr(args, inner.dest, None)) if inner else None
    return f" ({action.option_strings[0]})" if action is not None else ""


def _one_line(message: str) -> str:
    """The message on one line (a tool's multi-line output keeps its first lines)."""
    lines = [ln.strip() for ln in message.splitlines() if ln.strip()]
    return " | ".join(lines[:4]) + (" ..." if len(lines) > 4 else "")


if __name__ == "__main__":
    sys.exit(main())
