"""Writes that never leave a half file: the one way this project puts bytes on disk.

Every writer goes through :func:`atomic_write`: the data go to a temporary file in the
target's own folder (same file system), are flushed to disk (``fsync``) and only then
renamed over the target (``os.replace``, atomic on POSIX and Windows). A failure at any
point (disk full, permission, Ctrl-C) removes the temporary file and leaves the earlier
file, if any, byte for byte as it was.

Operating-system errors become :class:`~skelsplat.core.errors.ExportError` with one line
naming the path (:func:`os_error_message`), so front ends show them like any user mistake.
"""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO

from .errors import ExportError

_REASONS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is exhausted",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EROFS: "the file system is read-only",
    errno.ENOENT: "the folder does not exist",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.EISDIR: "it is a folder",
    errno.ENAMETOOLONG: "the name is too long",
}


def os_error_message(exc: OSError, path: str | Path | None = None, action: str = "write") -> str:
    """One line: ``cannot write PATH: reason`` (the reason in words where we know it)."""
    where = path if path is not None else (exc.filename or "?")
    reason = _REASONS.get(exc.errno or -1) or exc.strerror or str(exc)
    return f"cannot {action} {where}: {reason}"


def ensure_folder(folder: str | Path) -> Path:
    """Create ``folder`` (and its parents); ExportError naming it when that fails."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise ExportError(f"cannot write into {folder}: it is a file, not a folder") from None
    except OSError as exc:
        raise ExportError(os_error_message(exc, folder, "create folder")) from None
    return folder


def check_writable(folder: str | Path) -> Path:
    """Create ``folder`` when missing and prove a file can be created in it (then removed),
    so a run fails before its work, not after; ExportError naming the folder otherwise."""
    folder = ensure_folder(folder)
    try:
        fd, name = tempfile.mkstemp(prefix=".skelsplat-write-test.", dir=folder)
        os.close(fd)
        os.unlink(name)
    except OSError as exc:
        raise ExportError(os_error_message(exc, folder, "write into")) from None
    return folder


@contextmanager
def atomic_write(path: str | Path, mode: str = "wb", overwrite: bool = True,
                 encoding: str | None = None) -> Iterator[IO]:
    """Open a temporary file beside ``path``; on a clean exit it replaces ``path``.

    Args:
        path: the target file; its folder is created.
        mode: ``"wb"`` or ``"w"`` (text, ``encoding`` default utf-8).
        overwrite: replace an existing ``path`` (otherwise ExportError before writing).
    Raises:
        ExportError: the target exists (without ``overwrite``) or an OS error (disk full,
            permission, read-only) happened; the target is unchanged and no temporary file
            is left behind.
    """
    path = Path(path)
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_write: mode must be 'wb' or 'w', got {mode!r}")
    if path.exists() and not overwrite:
        raise ExportError(f"{path} exists; allow overwriting to replace it", option="overwrite")
    if path.is_dir():
        raise ExportError(f"cannot write {path}: it is a folder")
    ensure_folder(path.parent)
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise ExportError(os_error_message(exc, path)) from None
    tmp = Path(tmp_name)
    try:
        try:
            text = mode == "w"
            with os.fdopen(fd, mode, encoding=(encoding or "utf-8") if text else None,
                           newline="" if text else None) as fh:
                yield fh
                fh.flush()
                os.fsync(fh.fileno())
            _keep_permissions(path, tmp)
            os.replace(tmp, path)
        except OSError as exc:
            raise ExportError(os_error_message(exc, path)) from None
    except BaseException:
        with suppress(OSError):
            tmp.unlink()
        raise


def _read_umask() -> int:
    """The process's umask (read once, at import: setting it to read it is not thread-safe)."""
    umask = os.umask(0o022)
    os.umask(umask)
    return umask


_UMASK = _read_umask()


def _keep_permissions(path: Path, tmp: Path) -> None:
    """mkstemp creates 0600 files: give the new file the old one's mode, else the mode a
    plain ``open`` would have given it (0666 less the umask)."""
    try:
        mode = path.stat().st_mode & 0o777
    except OSError:
        mode = 0o666 & ~_UMASK
    os.chmod(tmp, mode)


def write_bytes(path: str | Path, data: bytes, overwrite: bool = True) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_write`)."""
    with atomic_write(path, "wb", overwrite=overwrite) as fh:
        fh.write(data)
    return Path(path)


def write_text(path: str | Path, text: str, overwrite: bool = True) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically (see :func:`atomic_write`)."""
    with atomic_write(path, "w", overwrite=overwrite) as fh:
        fh.write(text)
    return Path(path)
