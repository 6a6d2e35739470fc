"""The layers of each service, checked on the source: what a servicer, the domain and the
use cases may import (docs/ARCHITECTURE.md, "Who imports what")."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("accounts", "sites", "cases")

# Layer -> the modules of a service it covers (globs under services/<service>/), and the
# modules it must not import: patterns over dotted names, "{svc}" standing for the service.
STORAGE = [
    r"services\.common\.storage(\..*)?",
    r"services\.common\.rollups",
    r"services\.{svc}\.store",
]
GENERATED = [r"grpc(\..*)?", r"google\.protobuf(\..*)?", r"netnet\.\w+\.v1(\..*)?"]
LAYERS: dict[str, tuple[tuple[str, ...], list[str]]] = {
    # protobuf in, one use case call, protobuf out: no SQL, no counters
    "servicer": (("servicer.py", "convert.py"), STORAGE),
    # rules: neither transport nor storage nor generated code
    "domain": (("domain.py", "domain/*.py"), STORAGE + GENERATED),
    # use cases: domain objects in and out, no protobuf or gRPC
    "operations": (("operations.py", "operations/*.py"), GENERATED),
}

# Imports still there, by (service, layer) -> the modules imported: each is work to do.
KNOWN: dict[tuple[str, str], set[str]] = {}


def imported(path: Path) -> set[str]:
    """The dotted names a module imports: each module, and each name taken from one (which
    may be a submodule: `from services.common import rollups`)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def violations(service: str, layer: str) -> set[str]:
    globs, forbidden = LAYERS[layer]
    patterns = [re.compile(p.replace("{svc}", service)) for p in forbidden]
    folder = ROOT / "services" / service
    found: set[str] = set()
    for pattern in globs:
        for path in folder.glob(pattern):
            found.update(_module_of(n) for n in imported(path))
    return {n for n in found if any(p.fullmatch(n) for p in patterns)}


def _module_of(name: str) -> str:
    """The module a name is: itself, or (a name taken from a module of ours, such as
    `services.common.storage.Conn`) the module it is taken from."""
    parent = name.rpartition(".")[0]
    return parent if parent and _ours(parent) and not _ours(name) else name


def _ours(name: str) -> bool:
    path = ROOT / Path(*name.split("."))
    return path.is_dir() or path.with_suffix(".py").exists()


@pytest.mark.parametrize("layer", LAYERS)
@pytest.mark.parametrize("service", SERVICES)
def test_layer_imports_only_what_it_may(service: str, layer: str) -> None:
    globs, _ = LAYERS[layer]
    assert any((ROOT / "services" / service).glob(g) for g in globs), f"no {layer} in {service}"
    assert violations(service, layer) <= KNOWN.get((service, layer), set())


def test_imports_are_read_from_the_source(tmp_path: Path) -> None:
    """Every form of import is seen: plain, dotted, from a package, of a submodule."""
    source = tmp_path / "m.py"
    source.write_text(
        "import grpc\nimport netnet.sites.v1.sites_pb2 as pb\n"
        "from services.common import rollups\nfrom services.common.storage import Conn\n"
        "from . import sibling\n"
    )
    assert imported(source) == {
        "grpc",
        "netnet.sites.v1.sites_pb2",
        "services.common",
        "services.common.rollups",
        "services.common.storage",
        "services.common.storage.Conn",
    }
