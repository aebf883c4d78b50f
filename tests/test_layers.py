"""Imports point down the layers (the README's layer map), checked on every module's source.

    panels/ ─┐
             ├─> addon/ ─> core/          cli/ ─> core/ (addon/ and bpy inside functions)
    operators/┘

- ``core/`` never imports ``bpy``, ``mathutils``, ``bpy_extras`` (not even inside a
  function), ``addon/``, ``operators/``, ``panels/`` or ``cli/``.
- ``addon/`` never imports ``operators/``, ``panels/`` or ``cli/``.
- ``operators/`` never import ``panels/`` or ``cli/``.
- ``panels/`` never import ``operators/`` (they name operators by their ``bl_idname``
  string, e.g. ``layout.operator("skelsplat.fit")``) or ``cli/``.
- ``cli/`` imports ``bpy``, ``mathutils`` and ``addon/`` only inside functions, so the
  command line starts without Blender.
The root ``__init__.py`` is the registration root and imports the Blender layers lazily.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ("core", "addon", "operators", "panels", "cli")
BLENDER = ("bpy", "mathutils", "bpy_extras")

#: layer -> what it must never import (anywhere in the module).
FORBIDDEN = {
    "core": {*BLENDER, "addon", "operators", "panels", "cli"},
    "addon": {"operators", "panels", "cli"},
    "operators": {"panels", "cli"},
    "panels": {"operators", "cli"},
    "cli": set(),
}
#: layer -> what it may import only inside a function (never when the module loads).
LAZY_ONLY = {"cli": {*BLENDER, "addon", "operators", "panels"}}


def _imports(tree: ast.Module, package: list[str]) -> list[tuple[str, int, bool]]:
    """(imported target, line, at module level) for every import in ``tree``; a target is
    a layer name for our own modules (relative or ``skelsplat.``) and the top-level package
    name otherwise. ``package`` is the importing module's package path, e.g. ['addon']."""
    found: list[tuple[str, int, bool]] = []

    def target(parts: list[str]) -> str:
        if parts and parts[0] == "skelsplat":
            parts = parts[1:]
        return parts[0] if parts else ""

    def visit(node: ast.AST, top: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                found.extend((target(a.name.split(".")), child.lineno, top) for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                module = (child.module or "").split(".") if child.module else []
                if child.level:  # relative: resolve against this module's package
                    base = package[:len(package) - (child.level - 1)]
                    parts = base + module
                    if not module:  # ``from .. import addon``: the names are modules
                        found.extend((target([*parts, a.name]), child.lineno, top)
                                     for a in child.names)
                        continue
                    found.append((target(parts), child.lineno, top))
                else:
                    found.append((target(module), child.lineno, top))
            visit(child, top and not isinstance(
                child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))

    visit(tree, True)
    return found


def violations(relative_path: str, source: str) -> list[str]:
    """The layer rules ``relative_path`` (e.g. ``core/x.py``) breaks with ``source``."""
    parts = Path(relative_path).with_suffix("").parts
    layer = parts[0]
    package = list(parts[:-1])  # the package a relative import starts from
    out = []
    for name, line, top in _imports(ast.parse(source), package):
        if name in FORBIDDEN.get(layer, ()):
            out.append(f"{relative_path}:{line}: {layer}/ imports {name}")
        elif top and name in LAZY_ONLY.get(layer, ()):
            out.append(f"{relative_path}:{line}: {layer}/ imports {name} when it loads "
                       "(only inside a function)")
    return out


def _modules() -> list[Path]:
    return sorted(p for layer in LAYERS for p in (ROOT / layer).rglob("*.py"))


def test_every_layer_imports_only_downwards() -> None:
    modules = _modules()
    assert len(modules) > 100  # every layer's modules were found
    assert {p.relative_to(ROOT).parts[0] for p in modules} == set(LAYERS)
    found = [v for p in modules
             for v in violations(p.relative_to(ROOT).as_posix(), p.read_text())]
    assert found == []


@pytest.mark.parametrize(("path", "source", "expected"), [
    ("core/x.py", "def f():\n    import bpy\n", "core/x.py:2: core/ imports bpy"),
    ("core/sub/x.py", "from ...addon import bake\n", "core/sub/x.py:1: core/ imports addon"),
    ("core/x.py", "from skelsplat.cli import main\n", "core/x.py:1: core/ imports cli"),
    ("addon/x.py", "from .. import operators\n", "addon/x.py:1: addon/ imports operators"),
    ("addon/x.py", "from ..panels.main_panel import _Sub\n", "addon/x.py:1: addon/ imports panels"),
    ("operators/x.py", "from ..panels import main_panel\n",
     "operators/x.py:1: operators/ imports panels"),
    ("panels/x.py", "from ..operators.job_ops import SKELSPLAT_OT_fit\n",
     "panels/x.py:1: panels/ imports operators"),
    ("cli/x.py", "import bpy\n", "cli/x.py:1: cli/ imports bpy when it loads (only inside a "
                                 "function)"),
    ("cli/x.py", "class A:\n    from ..addon import bake\n",
     "cli/x.py:2: cli/ imports addon when it loads (only inside a function)"),
])
def test_a_violation_is_reported(path: str, source: str, expected: str) -> None:
    assert violations(path, source) == [expected]


@pytest.mark.parametrize(("path", "source"), [
    ("cli/x.py", "def run():\n    import bpy\n    from ..addon import bake\n"),
    ("addon/x.py", "from ..core import metrics\nfrom . import jobs\nimport numpy\n"),
    ("operators/x.py", "from ..addon import session\nfrom ._common import run_action\n"),
    ("panels/x.py", "from .main_panel import _Sub\nimport bpy\n"),
    ("core/x.py", "from .metrics import nanmean\nfrom . import errors\n"),
])
def test_allowed_imports_pass(path: str, source: str) -> None:
    assert violations(path, source) == []
