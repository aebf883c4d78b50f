"""Making torch / gsplat / mediapipe available inside Blender, without admin rights.

Two documented ways (docs/blender.md, "Dependencies inside Blender"):

1. Install into the extension's own user folder: :func:`site_packages_dir` is
   ``bpy.utils.extension_path_user(<package>, path="site-packages", create=True)``;
   :func:`pip_install` runs ``<Blender's python> -m pip install --target <that folder> ...``
   with progress lines, cancel, and an error carrying pip's last output lines.
2. Point at an existing Python 3.11 environment's ``site-packages``: :func:`add_site_packages`
   checks the folder and appends it to ``sys.path`` (after Blender's own paths, so Blender's
   numpy stays first).

Both folders are added again at every registration (:func:`activate_saved_paths`).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import re
import subprocess
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..core.errors import Cancelled, SkelsplatError
from ..core.progress import ProgressFn, or_silent

#: Distributions the fitter and detectors use, with their import names.
DEPENDENCIES = {"torch": "torch", "gsplat": "gsplat", "mediapipe": "mediapipe"}

#: What the Install button installs by default (torch pinned: a loose spec pulls CUDA builds).
DEFAULT_REQUIREMENTS = "torch==2.13.0 mediapipe==0.10.21"


class DependencyError(SkelsplatError):
    """A dependency folder or installation problem, with what to do about it."""


@dataclass(frozen=True)
class DependencyStatus:
    """Whether one dependency can be used.

    Attributes:
        name: distribution name.
        importable: found on ``sys.path``.
        version: installed version or "".
        detail: extra facts (torch: CUDA availability; where it was found).
    """

    name: str
    importable: bool
    version: str
    detail: str


def dependency_status(names: Sequence[str] = tuple(DEPENDENCIES), check_cuda: bool = True
                      ) -> list[DependencyStatus]:
    """Status of each dependency; ``check_cuda`` imports torch to ask about CUDA."""
    out = []
    for name in names:
        module = DEPENDENCIES.get(name, name)
        spec = importlib.util.find_spec(module)
        if spec is None:
            out.append(DependencyStatus(name, False, "", "not installed"))
            continue
        try:
            version = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            version = ""
        where = str(Path(spec.origin).parent.parent) if spec.origin else ""
        detail = f"from {where}" if where else ""
        if name == "torch" and check_cuda:
            try:
                torch = importlib.import_module("torch")
                cuda = torch.cuda.is_available()
                detail = (f"CUDA {torch.version.cuda}, {torch.cuda.get_device_name(0)}" if cuda
                          else "CPU only (no CUDA device or CPU build)") + f"; {detail}"
            except Exception as exc:  # a broken install must show, not crash the panel
                out.append(DependencyStatus(name, False, version, f"import failed: {exc}"))
                continue
        out.append(DependencyStatus(name, True, version, detail))
    return out


def site_packages_dir(package: str, create: bool = True) -> Path:
    """The extension's private ``site-packages`` folder in the user's Blender folders.

    ``package`` is the extension's package (``bl_ext.<repo>.skelsplat``). Outside an
    extension repository (development add-on, tests) a ``skelsplat/site-packages`` folder
    under Blender's user ``extensions/.user`` area is used instead.
    """
    import bpy

    try:
        return Path(bpy.utils.extension_path_user(package, path="site-packages", create=create))
    except ValueError:  # not an extension package (legacy add-on / headless import)
        base = Path(bpy.utils.user_resource("EXTENSIONS", path=".user"))
        path = base / "skelsplat" / "site-packages"
        if create:
            path.mkdir(parents=True, exist_ok=True)
        return path


def add_site_packages(path: str | Path) -> bool:
    """Append an existing environment's ``site-packages`` to ``sys.path``.

    Returns:
        True when added, False when it was already there.

    Raises:
        DependencyError: the folder does not exist, or belongs to another Python version.
    """
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise DependencyError(f"{folder}: not a folder; choose the site-packages folder of a "
                              "Python environment (e.g. .venv/lib/python3.11/site-packages)")
    match = re.search(r"python(\d+)\.(\d+)", str(folder.resolve()))
    if match and (int(match[1]), int(match[2])) != sys.version_info[:2]:
        raise DependencyError(
            f"{folder}: packages for Python {match[1]}.{match[2]}, but Blender runs Python "
            f"{sys.version_info[0]}.{sys.version_info[1]}; use an environment of that version")
    key = str(folder.resolve())
    if key in (str(Path(p).resolve()) for p in sys.path if p):
        return False
    sys.path.append(key)
    importlib.invalidate_caches()
    return True


def remove_site_packages(path: str | Path) -> bool:
    """Undo :func:`add_site_packages`; True when something was removed."""
    key = str(Path(path).expanduser().resolve())
    before = len(sys.path)
    sys.path[:] = [p for p in sys.path if not p or str(Path(p).resolve()) != key]
    return len(sys.path) != before


def pip_command(requirements: Sequence[str], target: str | Path,
                python: str | None = None) -> list[str]:
    """The pip command line :func:`pip_install` runs."""
    if not requirements:
        raise DependencyError("nothing to install: give at least one requirement")
    return [python or sys.executable, "-m", "pip", "install", "--disable-pip-version-check",
            "--no-input", "--upgrade", "--target", str(target), *requirements]


def pip_install(requirements: Sequence[str], target: str | Path, *, python: str | None = None,
                progress: ProgressFn | None = None,
                cancel: threading.Event | None = None,
                extra_args: Sequence[str] = ()) -> Path:
    """Install ``requirements`` into ``target`` with pip, streaming its output as progress.

    Progress fractions are coarse (pip gives no totals): each "Collecting" / "Installing" line
    advances towards 0.95; 1.0 on success.

    Raises:
        DependencyError: pip is missing or failed (message ends with pip's last lines).
        Cancelled: ``cancel`` was set (pip is stopped).
    """
    progress = or_silent(progress)
    target = Path(target).expanduser()
    target.mkdir(parents=True, exist_ok=True)
    cmd = [*pip_command(requirements, target, python), *extra_args]
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, bufsize=1)
    except OSError as exc:
        raise DependencyError(f"could not run {cmd[0]!r}: {exc}") from None
    lines: list[str] = []
    fraction = 0.0
    assert proc.stdout is not None
    for line in proc.stdout:
        line = line.rstrip()
        lines.append(line)
        if cancel is not None and cancel.is_set():
            proc.kill()
            proc.wait()
            raise Cancelled("installation cancelled")
        if line.startswith(("Collecting", "Downloading", "Installing", "Successfully")):
            fraction = min(0.95, fraction + (0.95 - fraction) * 0.2)
        progress(fraction, line[:120])
    code = proc.wait()
    if code != 0:
        tail = "\n".join(lines[-6:]) or "(no output)"
        hint = " (pip is missing: run Blender's python -m ensurepip)" if "No module named pip" \
            in tail else ""
        raise DependencyError(f"pip failed with exit code {code}{hint}:\n{tail}")
    progress(1.0, f"installed {' '.join(requirements)} into {target}")
    importlib.invalidate_caches()
    return target


def activate_saved_paths(package: str, extra_path: str = "") -> list[str]:
    """Put the private site-packages (when it has content) and ``extra_path`` on ``sys.path``.

    Returns:
        Problems as messages (never raises: called while the extension registers).
    """
    problems = []
    private = site_packages_dir(package, create=False)
    if private.is_dir() and any(private.iterdir()):
        add_site_packages(private)
    if extra_path:
        try:
            add_site_packages(extra_path)
        except DependencyError as exc:
            problems.append(str(exc))
    return problems
