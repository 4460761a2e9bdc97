"""The layers point one way and nothing imports in a circle (README, "Architecture").

Every import statement in the product packages counts, including imports inside
functions and under TYPE_CHECKING: a lazy or type-only import is still an arrow a
reader has to follow.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("qnum", "controller", "southbound", "adapters", "simulators")

#: Module prefix → layer (the longest matching prefix wins).
LAYER_OF: dict[str, str] = {
    "qnum": "qnum",
    "controller": "foundation",            # the package marker itself (exact match only)
    "controller.paths": "foundation",
    "controller.errors": "foundation",
    "controller.xmlutil": "foundation",
    "controller.periodic": "foundation",
    "controller.datastore": "engine",
    "controller.netconf": "server-core",
    "southbound": "southbound",
    # The device-kind table (standard library only) is read by every device-side layer:
    # renderers (service layer), emulators (simulators) and adapter defaults.
    "southbound.kinds": "foundation",
    "adapters": "adapters",
    "simulators": "simulators",
    "controller.service": "service",
    "controller.restconf": "northbound",
    "controller.grpc_api": "northbound",
    "controller.metrics": "northbound",
    "controller.console": "northbound",
    "controller.settings": "application",
    "controller.logs": "application",
    "controller.daemon": "application",
    "controller.cli": "application",
    "controller.lazy_commands": "application",
    "controller.demo": "application",
    "controller.clients": "application",
    "controller.app": "application",
    "controller.bench": "application",
}

_BASE = {"qnum", "foundation"}
#: Layer → the layers it may import (besides itself).
MAY_IMPORT: dict[str, set[str]] = {
    "qnum": set(),
    "foundation": set(),
    "engine": _BASE,
    "server-core": _BASE | {"engine"},
    "southbound": _BASE | {"engine", "server-core"},
    "adapters": _BASE | {"engine", "server-core", "southbound"},
    "simulators": _BASE | {"engine", "server-core"},
    "service": _BASE | {"engine", "server-core", "southbound", "adapters"},
    "northbound": _BASE | {"engine", "server-core", "southbound", "adapters", "service"},
    "application": set(LAYER_OF.values()),
}

#: Only the CLI registers the benches; no other module may import them.
BENCH = "controller.bench"


def product_modules() -> dict[str, Path]:
    modules: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            modules[name] = path
    return modules


#: Keys that name one module, not a package of them.
EXACT = {"controller"}


def layer(module: str) -> str | None:
    best = max((prefix for prefix in LAYER_OF
                if module == prefix
                or (prefix not in EXACT and module.startswith(prefix + "."))),
               key=len, default=None)
    return None if best is None else LAYER_OF[best]


def imports(module: str, path: Path, known: dict[str, Path]) -> Iterator[tuple[str, int]]:
    """(imported product module, line) for every import statement of `module`."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = module.split(".")
                parts = parts if is_package else parts[:-1]
                parts = parts[:len(parts) - (node.level - 1)]
                base = ".".join([*parts, base] if base else parts)
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                       for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != module:
                yield target, node.lineno


@pytest.fixture(scope="module")
def graph() -> nx.DiGraph:
    known = product_modules()
    g = nx.DiGraph()
    for module, path in known.items():
        g.add_node(module)
        for target, line in imports(module, path, known):
            g.add_edge(module, target, line=line)
    return g


def test_every_module_has_a_layer(graph: nx.DiGraph) -> None:
    assert [m for m in graph if layer(m) is None] == []


def upward_imports(graph: nx.DiGraph) -> list[str]:
    wrong = []
    for source, target, data in graph.edges(data=True):
        src, dst = layer(source), layer(target)
        if src is not None and dst is not None and src != dst \
                and dst not in MAY_IMPORT[src]:
            wrong.append(f"{source}:{data['line']} ({src}) imports {target} ({dst})")
    return wrong


def test_no_upward_import(graph: nx.DiGraph) -> None:
    assert upward_imports(graph) == []


def test_no_import_circle(graph: nx.DiGraph) -> None:
    assert list(nx.simple_cycles(graph)) == []


def test_only_the_cli_imports_the_benches(graph: nx.DiGraph) -> None:
    users = sorted(source for source, target in graph.edges
                   if (target == BENCH or target.startswith(BENCH + "."))
                   and not (source == BENCH or source.startswith(BENCH + ".")))
    assert set(users) <= {"controller.cli"}


def test_the_check_sees_a_wrong_arrow(graph: nx.DiGraph) -> None:
    """The rules are not vacuous: arrows that were once there would be caught."""
    wrong = graph.copy()
    wrong.add_edge("controller.datastore.schema", "controller.settings", line=1)
    wrong.add_edge("simulators.launcher", "controller.logs", line=2)
    wrong.add_edge("southbound.pool", "controller.service.manager", line=3)
    assert len(upward_imports(wrong)) == 3
    wrong.add_edge("controller.netconf.core", "controller.netconf.session", line=4)
    assert list(nx.simple_cycles(wrong)) != []
