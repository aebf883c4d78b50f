"""The extension zip: built and validated with Blender's own tool from the bpy wheel, then
installed into a temporary user repository, enabled, checked and uninstalled."""

from __future__ import annotations

import zipfile

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
