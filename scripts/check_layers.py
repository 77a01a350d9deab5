#!/usr/bin/env python3
"""The layering of examnet, written down and checked (`make lint` runs this).

Every import in monitor/, probes/ and alerts/ is read from the source (ast),
at any depth: module level, inside functions, under `if TYPE_CHECKING:`.
A deferred import is still a dependency; it must not hide a cycle.

The layers, lowest first (docs/architecture.md). A module may import its own
layer and any layer of a LOWER rank; layers of the same rank sit side by side
and import nothing of each other:

    7  entry       the composition root (app) and the command line (cli)
    5  interface   HTTP (web, API), status and on-call commands, console output
    4  runtime     scheduler, pipelines, metrics, self-watch, the alerting loop
    3  config      the loader: sites.toml into the model
    2  evaluation | storage | alerts
    1  probes
    0  model       imports nothing of examnet

Config sits above the plug-ins: the loader takes the allowed kinds and their
checks from their registries (a bad receiver is a load error: each notifier
kind's validate() runs at load), while what it builds is the model. The app
is above the HTTP port it wires (a composition root imports what it builds),
so it shares the top with the command line that starts it. The namespace lab
is not in the product (lab/examlab, its own distribution): the product keeps
its guard (monitor.labguard, runtime) and its address plan (model.labplan),
and the command line loads the lab at the point of use (a plug-in boundary).

It also fails on any import cycle among modules. What cannot be fixed yet is
in ALLOWED below, one line per import with why: an entry that no longer
matches an import fails the check too, so the list can only shrink.

Exit status 0 when clean, 1 with one line per problem.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

ROOTS: Final = ("monitor", "probes", "alerts")

# (layer, rank) by module name prefix; the longest matching prefix wins.
LAYERS: Final[dict[str, tuple[str, int]]] = {
    "monitor.model": ("model", 0),
    "probes": ("probes", 1),
    "monitor.evaluation": ("evaluation", 2),
    "monitor.storage": ("storage", 2),
    "monitor.migrations": ("storage", 2),
    "alerts": ("alerts", 2),
    "monitor.config": ("config", 3),
    "monitor.scheduler": ("runtime", 4),
    "monitor.pipeline": ("runtime", 4),
    "monitor.journal": ("runtime", 4),
    "monitor.polls": ("runtime", 4),
    "monitor.probing": ("runtime", 4),  # the kinds of probe and their one registry
    "monitor.metrics": ("runtime", 4),
    "monitor.device_metrics": ("runtime", 4),
    "monitor.target_metrics": ("runtime", 4),
    "monitor.snapshot": ("runtime", 4),
    "monitor.selfwatch": ("runtime", 4),
    "monitor.clockwatch": ("runtime", 4),
    "monitor.alerting": ("runtime", 4),
    "monitor.operations": ("runtime", 4),
    "monitor.reporting": ("runtime", 4),  # scheduled reports: due on the calendar tick, outbox
    "monitor.labguard": ("runtime", 4),  # lab addresses only while the lab is up: wraps probing
    "monitor": ("interface", 5),  # oncall_cli, status, console, api, web
    "monitor.report": ("interface", 5),  # the plan's report: reads availability, renders pages
    "monitor.app": ("entry", 7),
    "monitor.cli": ("entry", 7),
    "monitor.__main__": ("entry", 7),
}

# Imports that break the layering today, each with why; remove a line when
# its import goes. (importer, imported) -> reason.
ALLOWED: Final[dict[tuple[str, str], str]] = {}

# Import cycles that remain, as the sorted tuple of their modules -> reason.
ALLOWED_CYCLES: Final[dict[tuple[str, ...], str]] = {}


@dataclass(frozen=True, slots=True)
class Import:
    importer: str
    imported: str
    path: Path
    line: int


def module_names(base: Path) -> dict[str, Path]:
    """Every module of the checked packages, by dotted name."""
    found: dict[str, Path] = {}
    for root in ROOTS:
        for path in sorted((base / root).rglob("*.py")):
            parts = list(path.relative_to(base).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The module `name` refers to: itself, else its nearest enclosing module of ours."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def _absolute(module: str, path: Path, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for _ in range(node.level - 1):
        package = package.rpartition(".")[0]
    return f"{package}.{node.module}" if node.module else package


def imports_of(module: str, path: Path, modules: dict[str, Path]) -> Iterator[Import]:
    """The imports of one module, wherever they stand in it."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            source = _absolute(module, path, node)
            # `from pkg import mod` imports the module pkg.mod; `from mod import name` mod
            names = [f"{source}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            target = _resolve(name, modules)
            if target is not None and target != module:
                yield Import(module, target, path, node.lineno)


def layer_of(module: str) -> tuple[str, int]:
    best = max((p for p in LAYERS if module == p or module.startswith(p + ".")), key=len)
    return LAYERS[best]


def breaks_layers(found: Import) -> bool:
    (mine, my_rank), (theirs, their_rank) = layer_of(found.importer), layer_of(found.imported)
    return theirs != mine and their_rank >= my_rank


class _Tarjan:
    """Strongly connected components (Tarjan's algorithm, iterative: no recursion limit)."""

    def __init__(self, edges: dict[str, set[str]]) -> None:
        self.edges = edges
        self.index: dict[str, int] = {}
        self.low: dict[str, int] = {}
        self.stack: list[str] = []
        self.on_stack: set[str] = set()
        self.found: list[tuple[str, ...]] = []

    def _enter(self, node: str, work: list[tuple[str, Iterator[str]]]) -> None:
        self.index[node] = self.low[node] = len(self.index)
        self.stack.append(node)
        self.on_stack.add(node)
        work.append((node, iter(sorted(self.edges.get(node, ())))))

    def _leave(self, node: str) -> None:
        if self.low[node] != self.index[node]:
            return
        component = []
        while True:
            member = self.stack.pop()
            self.on_stack.discard(member)
            component.append(member)
            if member == node:
                break
        if len(component) > 1:
            self.found.append(tuple(sorted(component)))

    def visit(self, start: str) -> None:
        work: list[tuple[str, Iterator[str]]] = []
        self._enter(start, work)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    parent = work[-1][0]
                    self.low[parent] = min(self.low[parent], self.low[node])
                self._leave(node)
            elif child not in self.index:
                self._enter(child, work)
            elif child in self.on_stack:
                self.low[node] = min(self.low[node], self.index[child])


def cycles(edges: dict[str, set[str]]) -> list[tuple[str, ...]]:
    """The import cycles: strongly connected components of more than one module."""
    tarjan = _Tarjan(edges)
    for start in sorted(edges):
        if start not in tarjan.index:
            tarjan.visit(start)
    return tarjan.found


def problems(
    base: Path,
    allowed: dict[tuple[str, str], str] = ALLOWED,
    allowed_cycles: dict[tuple[str, ...], str] = ALLOWED_CYCLES,
) -> list[str]:
    """Every layering violation and cycle not allowed, and every allowance not used."""
    modules = module_names(base)
    found = list(dict.fromkeys(i for m, p in modules.items() for i in imports_of(m, p, modules)))
    out: list[str] = []
    used: set[tuple[str, str]] = set()
    for imp in found:
        if not breaks_layers(imp):
            continue
        pair = (imp.importer, imp.imported)
        if pair in allowed:
            used.add(pair)
            continue
        (mine, _), (theirs, _) = layer_of(imp.importer), layer_of(imp.imported)
        where = imp.path.relative_to(base)
        out.append(f"{where}:{imp.line}: {imp.importer} ({mine}) imports {imp.imported} ({theirs})")
    out.extend(f"ALLOWED has a stale entry: {a} -> {b}" for a, b in sorted(set(allowed) - used))
    edges: dict[str, set[str]] = {m: set() for m in modules}
    for imp in found:
        edges[imp.importer].add(imp.imported)
    seen = set(cycles(edges))
    out.extend(f"import cycle: {' <-> '.join(c)}" for c in sorted(seen - set(allowed_cycles)))
    out.extend(f"ALLOWED_CYCLES has a stale entry: {c}" for c in sorted(set(allowed_cycles) - seen))
    return out


def main(argv: Iterable[str] = ()) -> int:
    args = list(argv)
    base = Path(args[0]) if args else Path(__file__).resolve().parent.parent
    found = problems(base)
    for line in found:
        print(line)
    if found:
        print(f"{len(found)} layering problem(s); the layers are in {__file__}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
