"""The one atomic writer: temporary file in the same folder, fsync, rename (issue 17)."""

from __future__ import annotations

import errno
import os

import pytest

from skelsplat.core import atomic
from skelsplat.core.atomic import atomic_write, os_error_message, write_text
from skelsplat.core.errors import ExportError


def test_interrupted_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "a.txt"
    target.write_text("old")
    os.chmod(target, 0o640)
    with pytest.raises(KeyboardInterrupt), atomic_write(target, "w") as fh:
        fh.write("new, half")
        raise KeyboardInterrupt
    assert target.read_text() == "old" and os.listdir(tmp_path) == ["a.txt"]
    write_text(target, "new")
    assert target.read_text() == "new" and os.listdir(tmp_path) == ["a.txt"]
    assert target.stat().st_mode & 0o777 == 0o640  # the old file's permissions kept


def test_refuses_to_clobber_and_names_os_errors(tmp_path, monkeypatch):
    target = tmp_path / "a.txt"
    target.write_text("old")
    with pytest.raises(ExportError, match="exists"):
        write_text(target, "new", overwrite=False)
    real = os.replace

    def replace(src, dst):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(atomic.os, "replace", replace)
    with pytest.raises(ExportError, match=f"cannot write {target}: the file system is read-only"):
        write_text(target, "new")
    monkeypatch.setattr(atomic.os, "replace", real)
    assert target.read_text() == "old" and os.listdir(tmp_path) == ["a.txt"]
    assert os_error_message(OSError(errno.ENOSPC, "x"), "/p") == "cannot write /p: the disk is full"
    with pytest.raises(ExportError, match="is a file, not a folder"):
        write_text(target / "b.txt", "x")
