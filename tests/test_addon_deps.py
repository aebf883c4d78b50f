"""Dependencies inside Blender: status, the private site-packages, an existing environment,
pip errors (no downloads: pip is only run offline, with a package that cannot exist)."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest

pytestmark = pytest.mark.bpy


@pytest.fixture
def clean_sys_path():
    saved = list(sys.path)
    yield
    sys.path[:] = saved


def test_status_reports_installed_and_missing_packages() -> None:
    from skelsplat.addon.deps import dependency_status

    status = {s.name: s for s in dependency_status(("torch", "gsplat", "no_such_pkg_xyz"),
                                                   check_cuda=True)}
    assert status["torch"].importable and status["torch"].version.startswith("2.13.0")
    assert "CUDA" in status["torch"].detail or "CPU only" in status["torch"].detail
    assert status["gsplat"].importable and status["gsplat"].version == "1.5.3"
    assert not status["no_such_pkg_xyz"].importable
    assert status["no_such_pkg_xyz"].detail == "not installed"


def test_add_site_packages_appends_once_and_makes_modules_importable(tmp_path,
                                                                     clean_sys_path) -> None:
    from skelsplat.addon.deps import add_site_packages, remove_site_packages

    site = tmp_path / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site"
    site.mkdir(parents=True)
    (site / "skelsplat_probe_mod.py").write_text("VALUE = 42\n")
    first = sys.path[0]
    assert add_site_packages(site) is True
    assert add_site_packages(site) is False
    assert sys.path[0] == first and sys.path[-1] == str(site.resolve())  # Blender's first
    import skelsplat_probe_mod

    assert skelsplat_probe_mod.VALUE == 42
    assert remove_site_packages(site) and str(site.resolve()) not in sys.path
    sys.modules.pop("skelsplat_probe_mod")


def test_add_site_packages_rejects_bad_folders(tmp_path, clean_sys_path) -> None:
    from skelsplat.addon.deps import DependencyError, add_site_packages

    with pytest.raises(DependencyError, match="not a folder"):
        add_site_packages(tmp_path / "missing")
    other = tmp_path / "lib" / "python3.8" / "site-packages"
    other.mkdir(parents=True)
    with pytest.raises(DependencyError, match=r"Python 3\.8"):
        add_site_packages(other)


def test_private_site_packages_is_in_the_user_extension_area(empty_scene) -> None:
    import os

    from skelsplat.addon.deps import site_packages_dir

    path = site_packages_dir("skelsplat")
    assert path.is_dir() and path.name == "site-packages"
    assert str(path).startswith(os.environ["BLENDER_USER_RESOURCES"])


def test_pip_failure_is_a_clear_error_with_pips_output(tmp_path) -> None:
    from skelsplat.addon.deps import DependencyError, pip_command, pip_install

    cmd = pip_command(["no-such-dist-skelsplat-xyz==0.0.1"], tmp_path / "target")
    assert cmd[1:4] == ["-m", "pip", "install"] and "--target" in cmd
    lines = []
    with pytest.raises(DependencyError, match="pip failed with exit code 1") as info:
        pip_install(["no-such-dist-skelsplat-xyz==0.0.1"], tmp_path / "target",
                    progress=lambda f, m: lines.append((f, m)), extra_args=["--no-index"])
    assert "no-such-dist-skelsplat-xyz" in str(info.value)  # pip's own words are kept
    assert lines and all(0.0 <= f <= 1.0 for f, _ in lines)


def test_pip_missing_interpreter_and_cancel(tmp_path) -> None:
    from skelsplat.addon.deps import DependencyError, pip_install
    from skelsplat.core.errors import Cancelled

    with pytest.raises(DependencyError, match="could not run"):
        pip_install(["x"], tmp_path, python=str(tmp_path / "no-python"))
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        pip_install(["no-such-dist-skelsplat-xyz"], tmp_path, cancel=cancel,
                    extra_args=["--no-index"])


def test_install_operator_reports_pip_failure(empty_scene, tmp_path, clean_sys_path) -> None:
    """The preferences' Install button runs pip as a job; its failure reaches the panel."""
    import bpy

    import skelsplat
    from skelsplat.addon import jobs

    skelsplat.register()
    try:
        fake = tmp_path / "python"
        fake.write_text("#!/bin/sh\necho 'ERROR: no network here' >&2\nexit 3\n")
        fake.chmod(0o755)
        bpy.ops.skelsplat.install_dependencies(requirements="torch==2.13.0",
                                               python=str(fake), synchronous=True)
        assert "exit code 3" in empty_scene.skelsplat.last_error
        assert "no network here" in empty_scene.skelsplat.last_error
        assert jobs.REPORTS[-1][0] == "ERROR"
    finally:
        skelsplat.unregister()


def test_activate_saved_paths_reports_instead_of_raising(tmp_path, clean_sys_path) -> None:
    from skelsplat.addon.deps import activate_saved_paths, site_packages_dir

    private = site_packages_dir("skelsplat")
    (private / "marker_pkg").mkdir(exist_ok=True)
    problems = activate_saved_paths("skelsplat", str(tmp_path / "gone"))
    assert str(private.resolve()) in sys.path
    assert len(problems) == 1 and "not a folder" in problems[0]
    (private / "marker_pkg").rmdir()
    assert Path(private).is_dir()
