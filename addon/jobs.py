"""Background jobs: core work in a thread, results applied on Blender's main thread.

The worker never touches Blender data. It reports ``progress(fraction, message)`` and checks
``cancel.is_set()`` (a ``threading.Event``); what it returns or raises travels through a queue.
:func:`pump` drains every job's queue on the main thread: it mirrors progress into
``scene.skelsplat``, calls the job's ``on_done(result)`` there, and turns errors into a panel
message plus a UI report. Blender calls :func:`pump` from a ``bpy.app.timers`` function; headless
bpy never fires timers, so scripts and tests call :func:`pump` (or :func:`wait`) themselves.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import bpy

from ..core.errors import Cancelled, SkelsplatError
from ..core.progress import ProgressFn

#: Seconds between timer pumps while a job runs.
PUMP_INTERVAL = 0.1

Work = Callable[[ProgressFn, threading.Event], Any]


@dataclass
class Job:
    """One background job (at most one per ``kind`` at a time).

    Attributes:
        kind: ``"fit"``, ``"detect"``, ...
        scene_name: scene whose ``skelsplat`` status mirrors this job.
        state: ``"running"``, ``"done"``, ``"cancelled"`` or ``"error"``.
        progress, message: the last progress report.
        error: the error message when ``state == "error"``.
        result: what ``on_done`` returned.
    """

    kind: str
    work: Work
    on_done: Callable[[Any], Any]
    scene_name: str = ""
    state: str = "running"
    progress: float = 0.0
    message: str = ""
    error: str = ""
    result: Any = None
    cancel_event: threading.Event = field(default_factory=threading.Event)
    _queue: queue.Queue = field(default_factory=queue.Queue)
    _thread: threading.Thread | None = None

    @property
    def finished(self) -> bool:
        return self.state != "running"

    def _progress(self, fraction: float, message: str = "") -> None:
        if self.cancel_event.is_set():
            raise Cancelled(f"{self.kind} cancelled")
        self._queue.put(("progress", float(fraction), str(message)))

    def _run(self) -> None:
        try:
            out = self.work(self._progress, self.cancel_event)
        except Cancelled:
            self._queue.put(("cancelled", None, ""))
        except SkelsplatError as exc:  # the field to fix is named on the main thread
            self._queue.put(("error", getattr(exc, "option", None), str(exc)))
        except Exception as exc:  # a bug: keep the traceback in the console too
            traceback.print_exc()
            self._queue.put(("error", None, f"{type(exc).__name__}: {exc}"))
        else:
            if self.cancel_event.is_set():
                self._queue.put(("cancelled", None, ""))
            else:
                self._queue.put(("done", out, ""))

    def start(self, threaded: bool = True) -> Job:
        """Run the work in a daemon thread (or right here when ``threaded`` is False)."""
        if threaded:
            self._thread = threading.Thread(target=self._run, name=f"skelsplat-{self.kind}",
                                            daemon=True)
            self._thread.start()
        else:
            self._run()
        return self

    def cancel(self) -> None:
        """Ask the worker to stop; the scene is left as it was (results are discarded)."""
        self.cancel_event.set()

    def drain(self) -> None:
        """Apply queued messages (main thread only)."""
        while True:
            try:
                kind, payload, text = self._queue.get_nowait()
            except queue.Empty:
                return
            if kind == "progress":
                self.progress, self.message = payload, text
            elif kind == "cancelled":
                self.state, self.message = "cancelled", f"{self.kind} cancelled"
            elif kind == "error":
                self.state, self.error = "error", text + field_hint(payload)
            elif self.cancel_event.is_set():
                self.state, self.message = "cancelled", f"{self.kind} cancelled"
            else:
                try:
                    self.result = self.on_done(payload)
                except SkelsplatError as exc:
                    self.state = "error"
                    self.error = str(exc) + field_hint(getattr(exc, "option", None))
                except Exception as exc:
                    traceback.print_exc()
                    self.state, self.error = "error", f"{type(exc).__name__}: {exc}"
                else:
                    self.state, self.progress = "done", 1.0
                    self.message = f"{self.kind} finished"


def field_hint(option: str | None) -> str:
    """`` (Field Name)``: the panel's field for the setting an error names (core speaks of
    the setting's meaning; the add-on names its own control)."""
    pointer = bpy.types.Scene.bl_rna.properties.get("skelsplat") if option else None
    if pointer is None:  # not registered
        return ""
    scene_rna = pointer.fixed_type
    owners = [scene_rna]
    if "calibration" in scene_rna.properties:
        owners.append(scene_rna.properties["calibration"].fixed_type)
    for rna in owners:
        prop = rna.properties.get(option)
        if prop is not None:
            return f" ({prop.name})"
    return ""


#: Running and just-finished jobs by kind.
JOBS: dict[str, Job] = {}

#: (level, message) of every report a job produced, newest last (for scripts and tests).
REPORTS: list[tuple[str, str]] = []


def start(kind: str, work: Work, on_done: Callable[[Any], Any], *,
          scene: bpy.types.Scene | None = None, synchronous: bool = False) -> Job:
    """Start a job; ``synchronous`` runs it to completion (and pumps) before returning."""
    current = JOBS.get(kind)
    if current is not None and not current.finished:
        raise SkelsplatError(f"a {kind} job is already running; cancel it first")
    scene = scene or bpy.context.scene
    job = Job(kind, work, on_done, scene_name=scene.name)
    JOBS[kind] = job
    _mirror(job)
    if synchronous:
        job.start(threaded=False)
        pump()
    else:
        job.start()
        if not bpy.app.timers.is_registered(_timer):
            bpy.app.timers.register(_timer, first_interval=PUMP_INTERVAL, persistent=True)
    return job


def cancel(kind: str) -> bool:
    """Cancel the running job of ``kind``; False when none runs."""
    job = JOBS.get(kind)
    if job is None or job.finished:
        return False
    job.cancel()
    return True


def running(kind: str | None = None) -> bool:
    """Whether a job (of ``kind``, or any) is running."""
    jobs = [JOBS[kind]] if kind in JOBS else ([] if kind else list(JOBS.values()))
    return any(not j.finished for j in jobs)


def pump() -> bool:
    """Drain every job's queue and apply results (main thread). True while any job runs."""
    for kind, job in list(JOBS.items()):
        was_running = not job.finished
        job.drain()
        _mirror(job)
        if was_running and job.finished:
            _announce(job)
            if JOBS.get(kind) is job:
                del JOBS[kind]
    _redraw()
    return running()


def wait(kind: str, timeout: float = 60.0) -> Job:
    """Pump until the job of ``kind`` finishes (scripts and tests; timers do not fire there)."""
    job = JOBS.get(kind)
    if job is None:
        raise KeyError(f"no {kind} job")
    deadline = time.monotonic() + timeout
    while not job.finished:
        pump()
        if job.finished:
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"{kind} job still running after {timeout} s")
        time.sleep(0.01)
    return job


def _timer() -> float | None:
    return PUMP_INTERVAL if pump() else None


def _scene_settings(job: Job):
    scene = bpy.data.scenes.get(job.scene_name)
    return getattr(scene, "skelsplat", None) if scene is not None else None


def _mirror(job: Job) -> None:
    """Copy the job status into ``scene.skelsplat`` (what panels and the status bar draw)."""
    props = _scene_settings(job)
    if props is None:
        return
    props.job_kind = "" if job.finished else job.kind
    props.job_progress = min(max(job.progress, 0.0), 1.0)
    props.job_message = job.error or job.message
    if job.state == "error":
        props.last_error = job.error
    elif job.state == "running" and job.progress == 0.0:
        props.last_error = ""


def _announce(job: Job) -> None:
    """Report a finished job in the UI (status bar / info log) and in :data:`REPORTS`."""
    if job.state == "error":
        level, text = "ERROR", f"SkelSplat {job.kind} failed: {job.error}"
    elif job.state == "cancelled":
        level, text = "WARNING", f"SkelSplat {job.kind} cancelled"
    else:
        level, text = "INFO", f"SkelSplat {job.kind} finished"
    REPORTS.append((level, text))
    if hasattr(bpy.types, "SKELSPLAT_OT_report"):
        # An ERROR report raises RuntimeError when called from Python; it is still reported.
        with contextlib.suppress(RuntimeError):
            bpy.ops.skelsplat.report(level=level, message=text)
    else:
        print(f"{level}: {text}")


def _redraw() -> None:
    wm = getattr(bpy.context, "window_manager", None)
    for window in getattr(wm, "windows", ()):
        for area in window.screen.areas:
            if area.type in {"VIEW_3D", "STATUSBAR"}:
                area.tag_redraw()


def clear() -> None:
    """Cancel every job and forget them (unregister, tests)."""
    for job in JOBS.values():
        job.cancel()
    JOBS.clear()
    if bpy.app.timers.is_registered(_timer):
        bpy.app.timers.unregister(_timer)
