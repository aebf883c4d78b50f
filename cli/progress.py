"""Progress of one stage on stderr: a bar on a terminal, a few plain lines elsewhere.

On a terminal a tqdm bar redraws in place. In a log file, a CI job or a pipe every redraw
would be a new line, so there the stage prints one line when it starts, one when it ends,
and in between at most one line every :data:`LINE_INTERVAL_S` seconds.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import TextIO

#: Seconds between two progress lines in a non-terminal.
LINE_INTERVAL_S = 5.0


def is_terminal(stream: TextIO) -> bool:
    """True when ``stream`` is an interactive terminal."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def add_verbose_argument(parser: argparse.ArgumentParser) -> None:
    """``--verbose`` (applied with :func:`set_verbose`)."""
    parser.add_argument("--verbose", action="store_true",
                        help="show the detector's own log messages (silenced by default)")


def set_verbose(verbose: bool) -> None:
    """Let the detector's native logging through (``--verbose``); inherited by worker
    processes through the environment."""
    from ..core.detect.mediapipe_pose import VERBOSE_ENV

    if verbose:
        os.environ[VERBOSE_ENV] = "1"
    else:
        os.environ.pop(VERBOSE_ENV, None)


class StageProgress:
    """Progress of one stage (fraction 0..1 with a short message).

    Args:
        stage: the stage's name, shown first on every line.
        stream: where to write (default stderr).
        enabled: False shows nothing (``--quiet``).
        interactive: force the bar (True) or the plain lines (False); default: whether
            ``stream`` is a terminal.
    """

    def __init__(self, stage: str, stream: TextIO | None = None, enabled: bool = True,
                 interactive: bool | None = None, label: str = "") -> None:
        self.stage = stage
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.interactive = is_terminal(self.stream) if interactive is None else interactive
        self.fraction = 0.0
        self.message = label
        self.start = time.perf_counter()
        self.last_line = self.start
        self.bar = None
        if not enabled:
            return
        if self.interactive:
            from tqdm import tqdm

            self.bar = tqdm(total=1000, desc=f"{stage:<11}", file=self.stream, leave=True,
                            bar_format="{desc} {percentage:3.0f}%|{bar}| {elapsed}{postfix}",
                            dynamic_ncols=True)
            if label:
                self.bar.set_postfix_str(label, refresh=False)
        else:
            self._line(f"{label}..." if label else "started")

    def _line(self, text: str) -> None:
        print(f"{self.stage:<11} {text}", file=self.stream, flush=True)

    def update(self, fraction: float, message: str = "") -> None:
        self.fraction = min(max(float(fraction), 0.0), 1.0)
        if message:
            self.message = message
        if not self.enabled:
            return
        if self.bar is not None:
            target = round(1000 * self.fraction)
            if target > self.bar.n:
                self.bar.update(target - self.bar.n)
            if message:
                self.bar.set_postfix_str(message)
            return
        now = time.perf_counter()
        if now - self.last_line >= LINE_INTERVAL_S:
            self.last_line = now
            self._line(f"{100 * self.fraction:3.0f}% {self.message}".rstrip())

    def write(self, text: str) -> None:
        """Print ``text`` on its own line, above the bar on a terminal (shown even when the
        progress itself is disabled)."""
        if self.bar is not None:
            from tqdm import tqdm

            tqdm.write(text, file=self.stream)
        else:
            print(text, file=self.stream, flush=True)

    def close(self) -> None:
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.update(1000 - self.bar.n)
            self.bar.close()
            self.bar = None
            return
        self._line(f"done in {time.perf_counter() - self.start:.1f} s")
        self.enabled = False

    def __enter__(self) -> StageProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            self.close()
        elif self.bar is not None:
            self.bar.close()
            self.bar = None
