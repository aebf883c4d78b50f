"""The package layout promises: core/ never imports bpy, the CLI lists its sub-commands."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]

_WALK_CORE = """
import importlib, json, pkgutil, sys
import skelsplat, skelsplat.core, skelsplat.cli.main
names = []
for info in pkgutil.walk_packages(skelsplat.core.__path__, "skelsplat.core."):
    importlib.import_module(info.name)
    names.append(info.name)
skelsplat.cli.main.build_parser()
print(json.dumps({"modules": names, "bpy": "bpy" in sys.modules,
                  "mathutils": "mathutils" in sys.modules}))
"""


def _python(code: str, *pre: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "\n".join(pre) + code], capture_output=True,
                          text=True, cwd=REPO_ROOT.parent, timeout=240)


def test_core_and_cli_import_without_bpy() -> None:
    proc = _python(_WALK_CORE)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert not out["bpy"], "importing skelsplat.core or the CLI pulled in bpy"
    assert not out["mathutils"]
    assert "skelsplat.core.camera" in out["modules"]
    assert len(out["modules"]) >= 5


def test_core_modules_import_when_bpy_is_blocked() -> None:
    # sys.modules["bpy"] = None makes any `import bpy` raise ImportError.
    proc = _python(_WALK_CORE, "import sys", "sys.modules['bpy'] = None",
                   "sys.modules['mathutils'] = None")
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("argv", [["-m", "skelsplat", "--help"]])
def test_cli_help_lists_subcommands(argv: list[str]) -> None:
    proc = subprocess.run([sys.executable, *argv], capture_output=True, text=True,
                          cwd=REPO_ROOT.parent, timeout=120)
    assert proc.returncode == 0, proc.stderr
    for command in ("calibration", "fit", "detect", "run", "bench"):
        assert command in proc.stdout, f"`skelsplat --help` does not list {command!r}"


def test_console_script_help() -> None:
    exe = REPO_ROOT / ".venv" / "bin" / "skelsplat"
    if not exe.exists():
        pytest.skip("console script is installed by scripts/ensure_venv.sh")
    proc = subprocess.run([str(exe), "--help"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "usage: skelsplat" in proc.stdout


def test_user_error_is_one_line_with_exit_code_2(monkeypatch, capsys) -> None:
    import argparse

    from skelsplat.cli import main as main_mod
    from skelsplat.core.errors import SkelsplatError

    def fail(args: argparse.Namespace) -> int:
        raise SkelsplatError("calibration.toml: camera 'cam03' has no 'matrix' key")

    parser = argparse.ArgumentParser()
    parser.add_subparsers(dest="command").add_parser("boom").set_defaults(func=fail)
    monkeypatch.setattr(main_mod, "build_parser", lambda: parser)
    assert main_mod.main(["boom"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["skelsplat boom: error: calibration.toml: camera 'cam03' has no 'matrix' key"]
