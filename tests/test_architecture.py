"""The house rules that a reader of the tree relies on: imports run down the layers only, the
command line starts without torch or Dagster, and no module grows past a room's size."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

# package (folder) -> modules it must never import (a name or a dotted prefix)
FORBIDDEN = {
    "registry": (
        "models",
        "assets",
        "ui",
        "molvis",
        "torch",
        "dgl",
        "dgllife",
        "dagster",
        "streamlit",
    ),
    "models": ("assets", "ui", "molvis", "dagster", "streamlit", "dgl", "dgllife"),
    "molvis/workflows": ("assets", "ui", "molvis.cli", "dagster", "streamlit"),
    "molvis/cli": ("assets", "ui", "dagster", "streamlit"),
    "assets": ("ui", "molvis.cli", "streamlit"),
    "ui": ("assets", "molvis.cli", "dagster"),
}
MAX_LINES = 300


def imported_modules(path: Path) -> set[str]:
    """Every absolute module name a file imports, at top level or inside functions."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _hits(name: str, forbidden: tuple[str, ...]) -> bool:
    return any(name == f or name.startswith(f + ".") for f in forbidden)


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_imports_run_down_the_layers(package):
    arrows = [
        f"{path.relative_to(REPO)} imports {name}"
        for path in sorted((REPO / package).rglob("*.py"))
        for name in sorted(imported_modules(path))
        if _hits(name, FORBIDDEN[package])
    ]
    assert arrows == []


def test_the_import_check_sees_an_arrow_up(tmp_path):
    """The check above can fail: a registry-style module importing torch in a function."""
    module = tmp_path / "bad.py"
    module.write_text("def f():\n    from models.train import train\n    import torch\n")
    names = imported_modules(module)
    assert _hits("models.train", FORBIDDEN["registry"]) and "torch" in names


PROBE = """
import json, sys
from molvis.cli.main import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "dagster", "dgl"))
print(json.dumps(heavy))
"""


@pytest.mark.parametrize("args", [["--help"], ["db", "url"]])
def test_light_commands_load_neither_torch_nor_dagster(args):
    env = {**os.environ, "MOLVIS_DATABASE_URL": "postgresql://probe@localhost:1/probe"}
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


def test_no_module_is_larger_than_a_room():
    """Product code only: migrations hold whole SQL functions, tests and bench scripts are
    exempt (see docs/ARCHITECTURE.md)."""
    large = [
        f"{path.relative_to(REPO)}: {n} lines"
        for package in ("registry", "models", "molvis", "assets", "ui")
        for path in sorted((REPO / package).rglob("*.py"))
        if (n := len(path.read_text().splitlines())) > MAX_LINES
    ]
    assert large == []


def test_importing_assets_builds_no_definitions():
    code = "import sys, assets; print(sorted(m for m in sys.modules if m.startswith('dagster')))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_training_and_embedding_load_no_dgl():
    """DGL is the tests' reference only: the product runs where torch runs (no DGL build)."""
    code = (
        "import sys, models.train, models.embed, models.finetune; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dgl', 'dgllife')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
