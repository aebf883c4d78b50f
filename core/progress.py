"""The one progress-callback type of the project and small helpers around it.

Every long-running core function takes ``progress: ProgressFn | None`` and calls it with
the fraction done (0..1) and a short message; the CLI shows it as a bar
(``cli/progress.py``), the add-on's jobs mirror it into the status bar.
"""

from __future__ import annotations

from collections.abc import Callable

#: progress(fraction done in 0..1, short message)
ProgressFn = Callable[[float, str], None]
#: step(message): one more step of a known number of steps is done (benchmarks)
StepFn = Callable[[str], None]


def no_progress(fraction: float, message: str = "") -> None:
    """A :data:`ProgressFn` that shows nothing."""


def or_silent(progress: ProgressFn | None) -> ProgressFn:
    """``progress``, or :func:`no_progress` when it is None."""
    return progress if progress is not None else no_progress


def counting_steps(progress: ProgressFn, total: int) -> StepFn:
    """A :data:`StepFn` that reports ``steps done / total`` to ``progress`` per call."""
    done = [0]

    def step(message: str) -> None:
        done[0] += 1
        progress(min(done[0] / max(total, 1), 1.0), message)

    return step
