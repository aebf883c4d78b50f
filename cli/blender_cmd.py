"""``skelsplat blender``: build and validate the Blender extension zip.

Both use Blender's own extension tool (``blender_ext.py``) shipped inside the ``bpy`` wheel
(``bpy/<version>/scripts/addons_core/bl_pkg/cli/blender_ext.py``), run with this Python, so
no Blender installation is needed::

    skelsplat blender build-extension [--out DIR] [--source DIR]  # -> DIR/skelsplat-<version>.zip
    skelsplat blender validate [PATH]               # the source tree (default) or a zip

The zip holds an explicit list (:func:`extension_files`): the manifest, the root
``__init__.py`` and the Python files of the package folders Blender needs
(:data:`EXTENSION_FOLDERS`, without :data:`EXCLUDED_FOLDERS`). They are copied into a
temporary tree that the tool packs, so nothing else in the checkout (``skelsplat_out/``
from a demo run, caches, ``cli/``, benchmarks) can end up in it. The source is the checkout
the command runs in (the nearest folder upwards from the working directory holding this
extension's manifest), else the installed package.
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from ..core.errors import SkelsplatError

#: The extension root of the installed package (this repository for an editable install).
SOURCE_DIR = Path(__file__).resolve().parents[1]
#: Package folders Blender needs (their ``.py`` files go into the zip).
EXTENSION_FOLDERS = ("addon", "core", "operators", "panels")
#: Files at the extension root that go into the zip.
EXTENSION_ROOT_FILES = ("blender_manifest.toml", "__init__.py")
#: Folders inside EXTENSION_FOLDERS that never go into the zip (headless-only code).
EXCLUDED_FOLDERS = ("core/bench",)


def extension_files(source_dir: str | Path) -> list[str]:
    """Paths (relative, ``/``-separated) of every file the extension zip holds."""
    source_dir = Path(source_dir)
    files = [name for name in EXTENSION_ROOT_FILES if (source_dir / name).is_file()]
    for folder in EXTENSION_FOLDERS:
        for path in sorted((source_dir / folder).rglob("*.py")):
            rel = path.relative_to(source_dir).as_posix()
            if "__pycache__" in rel or any(rel.startswith(f"{x}/") for x in EXCLUDED_FOLDERS):
                continue
            files.append(rel)
    return files


def checkout_source_dir(start: str | Path | None = None) -> Path:
    """The extension root of the checkout the command runs in: the nearest folder from
    ``start`` (default: the working directory) upwards whose manifest has this extension's
    id; else the installed package (:data:`SOURCE_DIR`)."""
    import tomllib

    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        manifest = folder / "blender_manifest.toml"
        if manifest.is_file():
            try:
                if tomllib.loads(manifest.read_text()).get("id") == "skelsplat":
                    return folder
            except (tomllib.TOMLDecodeError, OSError, UnicodeDecodeError):
                continue
    return SOURCE_DIR


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


def build_extension(out_dir: str | Path, source_dir: str | Path | None = None,
                    overwrite: bool = True) -> Path:
    """Build ``<out_dir>/<id>-<version>.zip`` from the files of :func:`extension_files` in
    ``source_dir`` (default: :func:`checkout_source_dir`); returns the zip path.

    Raises:
        SkelsplatError: the manifest is invalid or the build failed (tool output attached).
    """
    import tomllib

    source_dir = Path(source_dir) if source_dir is not None else checkout_source_dir()
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
    with tempfile.TemporaryDirectory(prefix="skelsplat-extension-") as tree:
        for rel in extension_files(source_dir):
            dest = Path(tree, rel)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source_dir / rel, dest)
        proc = _run_tool(["build", "--source-dir", tree, "--output-filepath", str(target)])
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
    build.add_argument("--source", metavar="DIR",
                       help="extension source folder (default: the checkout the command runs "
                            "in, else the installed package)")
    validate = sub.add_parser("validate", help="validate the manifest / a built zip")
    validate.add_argument("path", nargs="?", default=str(SOURCE_DIR),
                          help="extension source folder or zip (default: this package)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.blender_command == "build-extension":
        path = build_extension(args.out, source_dir=args.source,
                               overwrite=not args.no_overwrite)
        print(f"built {path} ({path.stat().st_size / 1e3:.0f} kB)")
        print(validate_extension(path))
        return 0
    print(validate_extension(args.path) or "valid")
    return 0
