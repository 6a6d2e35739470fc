"""The driver stays behind the storage package: nothing above it imports sqlite3."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STORAGE = ROOT / "services" / "common" / "storage"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    return names


def test_only_the_storage_package_imports_the_driver() -> None:
    above = [
        p
        for folder in ("services", "gateway")
        for p in sorted((ROOT / folder).rglob("*.py"))
        if STORAGE not in p.parents
    ]
    assert above
    offenders = [str(p.relative_to(ROOT)) for p in above if {"sqlite3", "aiosqlite"} & _imports(p)]
    assert offenders == []


def test_the_runtime_has_one_module_per_storage_layer() -> None:
    common = ROOT / "services" / "common"
    assert not (common / "db.py").exists() and not (common / "bulk.py").exists()
    layers = {p.stem for p in STORAGE.glob("*.py")}
    assert {"migrations", "writer", "sql", "keys"} <= layers
