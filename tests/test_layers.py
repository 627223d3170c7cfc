"""The layers of DESIGN.md, checked: imports only point down.

``.importlinter`` holds the contracts; this test runs them, and counts the import
edges that point upward outside engine.app (there must be none)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: rank of each layer: an import may only go to the same or a lower rank
RANK = {"engine.app": 3, "cases": 2, "surrogates": 2, "physics": 1, "engine": 0}


def layer(module: str) -> str | None:
    if module == "engine.app" or module.startswith("engine.app."):
        return "engine.app"
    top = module.split(".")[0]
    return top if top in RANK else None


def import_edges():
    """(importing module, imported module) for every import statement in the
    packages, including imports inside functions."""
    for path in ROOT.glob("*/**/*.py"):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        if layer(module) is None:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                yield from ((module, alias.name) for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                yield module, node.module


def test_no_import_points_upward():
    upward = [(a, b) for a, b in import_edges()
              if layer(b) is not None and RANK[layer(b)] > RANK[layer(a)]]
    assert upward == []
    # and the scan does see the edges it should: the applications import everything
    assert any(layer(a) == "engine.app" and layer(b) == "physics" for a, b in import_edges())


def test_import_linter_contracts_are_kept():
    run = subprocess.run([sys.executable, "-c",
                          "import sys; from importlinter.cli import lint_imports_command; "
                          "sys.exit(lint_imports_command())", "--no-cache"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "4 kept, 0 broken" in run.stdout


def test_the_core_imports_neither_torch_nor_flopy():
    code = ("import sys, pkgutil, importlib, engine\n"
            "for m in pkgutil.iter_modules(engine.__path__):\n"
            "    if m.name != 'app': importlib.import_module('engine.' + m.name)\n"
            "print(sorted(k for k in ('torch', 'flopy', 'physics', 'surrogates', 'cases') "
            "if k in sys.modules))")
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"
