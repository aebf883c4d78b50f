"""``skelsplat blender``: build and validate the Blender extension zip.

Both use Blender's own extension tool (``blender_ext.py``) shipped inside the ``bpy`` wheel
(``bpy/<version>/scripts/addons_core/bl_pkg/cli/blender_ext.py``), run with this Python, so
no Blender installation is needed::

    skelsplat blender build-extension [--out DIR]   # -> DIR/skelsplat-<version>.zip
    skelsplat blender validate [PATH]               # the source tree (default) or a zip
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
from pathlib import Path

from ..core.errors import SkelsplatError

#: The extension root (this repository / the installed package folder).
SOURCE_DIR = Path(__file__).resolve().parents[1]


def find_extension_tool() -> Path:
    """Path of ``blender_ext.py`` inside the installed ``bpy`` wheel."""
    spec = importlib.util.find_spec("bpy")
    if spec is None or not spec.submodule_search_locations:
        raise SkelsplatError("the bpy wheel is not installed (pip install -r "
                             "requirements/blender.txt); it carries Blender's extension tool")
    for root in spec.submodule_search_locations:
        found = sorted(Path(root).glob("*/scripts/addons_core/bl_pkg/cli/blender_ext.py"))
        if found:
            return found[-1]
    raise SkelsplatError(f"blender_ext.py not found inside bpy at "
                         f"{list(spec.submodule_search_locations)}")


def _run_tool(args: list[str]) -> subprocess.CompletedProcess:
    cmd = [sys.executable, str(find_extension_tool()), *args]
    return subprocess.run(cmd, capture_output=True, text=True, check=False)


def build_extension(out_dir: str | Path, source_dir: str | Path = SOURCE_DIR,
                    overwrite: bool = True) -> Path:
    """Build ``<out_dir>/<id>-<version>.zip`` from ``source_dir``; returns the zip path.

    Raises:
        SkelsplatError: the manifest is invalid or the build failed (tool output attached).
    """
    import tomllib

    source_dir = Path(source_dir)
    manifest = source_dir / "blender_manifest.toml"
    if not manifest.is_file():
        raise SkelsplatError(f"{source_dir}: no blender_manifest.toml (not the extension root)")
    meta = tomllib.loads(manifest.read_text())
    out_dir = Path(out_dir).expanduser().resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{meta['id']}-{meta['version']}.zip"
    if target.exists():
        if not overwrite:
            raise SkelsplatError(f"{target} exists; pass --overwrite to replace it")
        target.unlink()
    proc = _run_tool(["build", "--source-dir", str(source_dir), "--output-filepath",
                      str(target)])
    if proc.returncode != 0 or not target.is_file():
        raise SkelsplatError(f"extension build failed:\n{(proc.stdout + proc.stderr).strip()}")
    return target


def validate_extension(path: str | Path = SOURCE_DIR) -> str:
    """Validate the source tree or a built zip; returns the tool's report.

    Raises:
        SkelsplatError: validation failed (the tool's messages are in the text).
    """
    path = Path(path)
    if not path.exists():
        raise SkelsplatError(f"{path}: no such file or folder")
    proc = _run_tool(["validate", str(path)])
    text = (proc.stdout + proc.stderr).strip()
    if proc.returncode != 0:
        raise SkelsplatError(f"{path}: extension validation failed:\n{text}")
    return text


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "blender", help="build / validate the Blender extension zip",
        description="Build or validate the Blender extension with Blender's own extension "
                    "tool (from the bpy wheel).")
    sub = parser.add_subparsers(dest="blender_command", metavar="ACTION", required=True)
    build = sub.add_parser("build-extension", help="build the installable extension zip")
    build.add_argument("--out", default="dist", help="output folder (default: dist)")
    build.add_argument("--no-overwrite", action="store_true",
                       help="fail when the zip already exists")
    validate = sub.add_parser("validate", help="validate the manifest / a built zip")
    validate.add_argument("path", nargs="?", default=str(SOURCE_DIR),
                          help="extension source folder or zip (default: this package)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.blender_command == "build-extension":
        path = build_extension(args.out, overwrite=not args.no_overwrite)
        print(f"built {path} ({path.stat().st_size / 1e3:.0f} kB)")
        print(validate_extension(path))
        return 0
    print(validate_extension(args.path) or "valid")
    return 0
