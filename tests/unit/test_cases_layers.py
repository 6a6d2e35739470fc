"""The cases service's layers as drawn: the servicer and its conversions only convert, the
use cases know no gRPC or generated code, the domain knows neither nor storage."""

from __future__ import annotations

import ast
from pathlib import Path

CASES = Path(__file__).resolve().parents[2] / "services" / "cases"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    for n in ast.walk(tree):
        if isinstance(n, ast.ImportFrom) and n.module:
            found.add(n.module)
            found |= {f"{n.module}.{a.name}" for a in n.names}
    return found


def _offending(paths: list[Path], banned: tuple[str, ...]) -> dict[str, list[str]]:
    out = {}
    for p in paths:
        bad = sorted(i for i in _imports(p) if any(i == b or i.startswith(b + ".") for b in banned))
        if bad:
            out[p.name] = bad
    return out


def test_the_edge_reaches_no_store_storage_or_rollups() -> None:
    edge = [CASES / "servicer.py", CASES / "convert.py"]
    banned = ("services.cases.store", "services.common.storage", "services.common.rollups")
    assert _offending(edge, banned) == {}


def test_use_cases_know_no_grpc_or_generated_code() -> None:
    use_cases = sorted((CASES / "operations").glob("*.py"))
    assert {p.stem for p in use_cases} >= {
        "campaigns",
        "cases",
        "parties",
        "typical",
        "clues",
        "visibility",
    }
    banned = ("grpc", "google.protobuf", "netnet", "services.common.standard")
    assert _offending(use_cases, banned) == {}


def test_the_domain_knows_no_grpc_storage_or_generated_code() -> None:
    banned = (
        "grpc",
        "google.protobuf",
        "netnet",
        "services.common.storage",
        "services.common.rollups",
        "services.cases.store",
    )
    assert _offending([CASES / "domain.py"], banned) == {}
