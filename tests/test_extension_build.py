"""The extension zip: built and validated with Blender's own tool from the bpy wheel, then
installed into a temporary user repository, enabled, checked and uninstalled."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest

from skelsplat.cli.blender_cmd import build_extension, find_extension_tool, validate_extension
from skelsplat.cli.main import main


@pytest.fixture(scope="module")
def built_zip(tmp_path_factory):
    pytest.importorskip("bpy")
    return build_extension(tmp_path_factory.mktemp("dist"))


@pytest.mark.bpy
def test_zip_is_small_and_holds_only_the_extension(built_zip) -> None:
    assert find_extension_tool().name == "blender_ext.py"
    assert built_zip.name == "skelsplat-0.1.0.zip"
    names = zipfile.ZipFile(built_zip).namelist()
    tops = {n.split("/")[0] for n in names}
    assert {"blender_manifest.toml", "__init__.py", "addon", "core", "operators",
            "panels"} <= tops
    assert not tops & {"tests", "docs", "demo", ".venv", "scripts", "requirements", ".git"}
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
    assert built_zip.stat().st_size < 2_000_000


@pytest.mark.bpy
def test_validate_cli_accepts_source_and_zip(built_zip, capsys) -> None:
    assert "Success" in validate_extension(built_zip)
    assert main(["blender", "validate"]) == 0
    assert main(["blender", "validate", str(built_zip.parent / "missing.zip")]) == 2
    assert "no such file" in capsys.readouterr().err


@pytest.mark.bpy
def test_install_enable_check_uninstall(built_zip, tmp_path) -> None:
    import addon_utils
    import bpy

    repos = bpy.context.preferences.extensions.repos
    repo = repos.new(name="skelsplat_test", module="skelsplat_test",
                     custom_directory=str(tmp_path / "repo"), source="USER")
    package = "bl_ext.skelsplat_test.skelsplat"
    try:
        assert bpy.ops.extensions.package_install_files(
            filepath=str(built_zip), repo=repo.module, enable_on_install=True) == {"FINISHED"}
        assert (tmp_path / "repo" / "skelsplat" / "blender_manifest.toml").is_file()
        assert addon_utils.check(package) == (True, True)
        for op in ("import_capture", "detect", "fit", "bake", "export"):
            assert getattr(bpy.ops.skelsplat, op).idname() == f"SKELSPLAT_OT_{op}"
        assert bpy.context.scene.skelsplat.device == "auto"
        prefs = bpy.context.preferences.addons[package].preferences
        assert prefs.default_device == "auto"
        from importlib import import_module

        deps = import_module(f"{package}.addon.deps")
        private = deps.site_packages_dir(package)
        assert private.is_dir() and "skelsplat" in str(private)
        repo_index = list(repos).index(repo)
        assert bpy.ops.extensions.package_uninstall(repo_index=repo_index,
                                                    pkg_id="skelsplat") == {"FINISHED"}
        assert not (tmp_path / "repo" / "skelsplat").exists()
        assert not hasattr(bpy.types.Scene, "skelsplat")
        assert not hasattr(bpy.types, "SKELSPLAT_OT_fit")
    finally:
        repos.remove(repo)


@pytest.mark.bpy
def test_zip_after_a_demo_run_holds_only_the_listed_files(tmp_path, monkeypatch) -> None:
    """Newcomer path (README order: demo, then tests): a demo run leaves skelsplat_out/
    (take.blend, PNGs, FBX) and caches in the checkout; the zip built from that checkout
    (found from the working directory) holds none of it."""
    import shutil

    from skelsplat.cli.blender_cmd import extension_files

    pytest.importorskip("bpy")
    root = Path(__file__).resolve().parents[1]
    checkout = tmp_path / "checkout"
    shutil.copytree(root, checkout, ignore=shutil.ignore_patterns(
        ".venv", ".git", "tests", "docs", "demo", "__pycache__", "skelsplat_out", "dist",
        ".skelsplat_cache", "*.pyc", ".ruff_cache", ".pytest_cache"))
    demo_out = checkout / "skelsplat_out" / "demo"
    demo_out.mkdir(parents=True)
    for name in ("take.blend", "take.fbx", "overlay_cam01.png"):
        (demo_out / name).write_bytes(os.urandom(1_500_000))
    (checkout / "skelsplat_out" / ".demo.staging-x").mkdir()
    (checkout / "core" / ".skelsplat_cache").mkdir()
    (checkout / "core" / ".skelsplat_cache" / "cam01-0.npz").write_bytes(os.urandom(500_000))
    (checkout / "addon" / "take.blend1").write_bytes(os.urandom(500_000))
    monkeypatch.chdir(checkout / "addon")  # the command runs somewhere inside the checkout
    built = build_extension(tmp_path / "dist")
    names = zipfile.ZipFile(built).namelist()
    assert sorted(n for n in names if not n.endswith("/")) == sorted(extension_files(checkout))
    assert {n.split("/")[0] for n in names} == {"blender_manifest.toml", "__init__.py", "addon",
                                                 "core", "operators", "panels"}
    assert not [n for n in names if n.startswith(("cli/", "core/bench/"))]
    assert all(n.endswith((".py", ".toml", "/")) for n in names)
    assert built.stat().st_size < 400_000  # 4.9 MB when skelsplat_out/ was packed


def test_readme_states_the_newcomer_order() -> None:
    """README: demo first, then tests; the demo's output folder is ignored by git and never
    packed (test above)."""
    root = Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text()
    setup = readme.split("## Set-up", 1)[1].split("\n## ", 1)[0]
    assert setup.index("bash scripts/demo.sh") < setup.index("bash scripts/test.sh")
    assert "demo first, then" in setup
    assert "skelsplat_out/" in (root / ".gitignore").read_text().splitlines()
