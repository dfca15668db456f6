"""The package's shape, checked on its source with ``ast``:

- the module import graph (top-level AND function-level imports, relative ones resolved;
  ``if TYPE_CHECKING:`` imports left out) has no cycle;
- no module imports another module's private names (``from x import _y``, ``x._y``);
- function-level imports of the package's own modules are only the deliberate lazy ones;
- the seams: the mock is imported only by its provider (and ``digest mock-llm``), the batch
  ledger knows no stage, no stage imports the batch orchestrator, and no module but
  ``store/layout.py`` spells an artifact's file name;
- modules stay small.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.paths import ROOT

PACKAGE = ROOT / "pipeline"
MAX_LINES = 360

# Function-level imports of the package's own modules that are lazy on purpose: the
# target (or what it imports) is slow to load and often not needed.  "pipeline.cli.*"
# commands import their stage when run, so `digest --help` stays fast.
LAZY_TARGETS = {
    "pipeline.llm.client": "the openai SDK (~2 s to import); ask and intros need it only to call",
    "pipeline.retrieval.embeddings": "chromadb (0.5-1.4 s to import); a search over the vector copy never needs it",
}
LAZY_IMPORTERS_PREFIX = "pipeline.cli."


@dataclass(frozen=True)
class Import:
    importer: str
    target: str  # a module of the package
    names: tuple[str, ...]  # names imported from it ("" for `import x`)
    lazy: bool  # inside a function
    line: int


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


MODULES = modules()


def _is_package(name: str) -> bool:
    return MODULES.get(name, Path()).name == "__init__.py"


def _resolve(importer: str, level: int, module: str | None) -> str:
    if level == 0:
        return module or ""
    base = importer.split(".")
    if not _is_package(importer):
        base = base[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([module] if module else []))


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(name: str, path: Path) -> list[Import]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[Import] = []

    def visit(node: ast.AST, lazy: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _type_checking(child):
                for sub in child.orelse:
                    visit(sub, lazy)
                continue
            inner = lazy or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            if isinstance(child, ast.Import):
                for alias in child.names:
                    if alias.name.startswith("pipeline"):
                        found.append(Import(name, alias.name, ("",), lazy, child.lineno))
            elif isinstance(child, ast.ImportFrom):
                target = _resolve(name, child.level, child.module)
                if not target.startswith("pipeline"):
                    continue
                for alias in child.names:
                    sub = f"{target}.{alias.name}"
                    if sub in MODULES:  # `from pkg import module`
                        found.append(Import(name, sub, ("",), lazy, child.lineno))
                    else:
                        found.append(Import(name, target, (alias.name,), lazy, child.lineno))
            visit(child, inner)

    visit(tree, False)
    return found


ALL_IMPORTS = [imp for name, path in MODULES.items() for imp in imports_of(name, path)]


def test_every_import_of_the_package_resolves_to_a_module() -> None:
    missing = sorted({f"{i.importer}:{i.line} -> {i.target}" for i in ALL_IMPORTS if i.target not in MODULES})
    assert not missing, missing


def test_the_import_graph_has_no_cycle() -> None:
    graph: dict[str, set[str]] = {name: set() for name in MODULES}
    for imp in ALL_IMPORTS:
        if imp.target != imp.importer:
            graph[imp.importer].add(imp.target)
    state: dict[str, int] = {}  # 1: on the stack, 2: done
    stack: list[str] = []
    cycles: list[list[str]] = []

    def dfs(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt) :] + [nxt])
            elif nxt not in state:
                dfs(nxt)
        stack.pop()
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            dfs(name)
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles)


def test_no_module_imports_another_modules_private_names() -> None:
    bad = [
        f"{i.importer}:{i.line} imports {i.target}.{n}"
        for i in ALL_IMPORTS
        for n in i.names
        if n.startswith("_") and not n.startswith("__") and i.target != i.importer
    ]
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        aliases = {}  # local name -> imported module of the package
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    if a.name.startswith("pipeline") and a.asname:
                        aliases[a.asname] = a.name
            elif isinstance(node, ast.ImportFrom):
                target = _resolve(name, node.level, node.module)
                for a in node.names:
                    if f"{target}.{a.name}" in MODULES:
                        aliases[a.asname or a.name] = f"{target}.{a.name}"
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in aliases
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
            ):
                bad.append(f"{name}:{node.lineno} uses {aliases[node.value.id]}.{node.attr}")
    assert not bad, bad


def test_function_level_imports_are_the_deliberate_lazy_ones() -> None:
    unexpected = sorted(
        f"{i.importer}:{i.line} -> {i.target}"
        for i in ALL_IMPORTS
        if i.lazy
        and not i.importer.startswith(LAZY_IMPORTERS_PREFIX)
        and i.target not in LAZY_TARGETS
        and not i.target.startswith("pipeline.llm.mock")
    )
    assert not unexpected, unexpected


def test_the_mock_is_imported_only_by_its_provider_and_the_mock_llm_command() -> None:
    allowed = {"pipeline.llm.providers.mock", "pipeline.cli.llm"}
    users = {
        i.importer
        for i in ALL_IMPORTS
        if i.target.startswith("pipeline.llm.mock") and not i.importer.startswith("pipeline.llm.mock")
    }
    assert users <= allowed, users - allowed


def test_batch_seams() -> None:
    ledger = {i.target for i in ALL_IMPORTS if i.importer == "pipeline.batch.ledger"}
    assert not {t for t in ledger if t.startswith(("pipeline.stages", "pipeline.batch.orchestrator"))}
    stage_users = {
        i.importer
        for i in ALL_IMPORTS
        if i.target.startswith("pipeline.batch.orchestrator") and i.importer.startswith("pipeline.stages")
    }
    assert not stage_users
    # the orchestrator reaches the stages only through their adapters (and the contract)
    reached = {
        i.target
        for i in ALL_IMPORTS
        if i.importer == "pipeline.batch.orchestrator" and i.target.startswith("pipeline.stages")
    }
    assert reached == {
        "pipeline.stages.base",
        "pipeline.stages.translate.batch",
        "pipeline.stages.enrich.batch",
    }


ARTIFACT_FILES = {
    "entries.jsonl",
    "parse_issues.jsonl",
    "translations.jsonl",
    "glossary.tsv",
    "metadata.jsonl",
    "index.sqlite",
    "bm25/lexicon.sqlite",
    "batches.jsonl",
    ".mock-llm",
    ".digest.lock",
    "capabilities.json",
}
ARTIFACT_DIRS = {"chroma", "bm25", "cache", "newsletter", "batches"}


def test_only_the_layout_spells_artifact_file_names() -> None:
    bad = []
    for name, path in MODULES.items():
        if name == "pipeline.store.layout":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and node.value in ARTIFACT_FILES:
                bad.append(f"{name}:{node.lineno} {node.value!r}")
            if (
                isinstance(node, ast.BinOp)
                and isinstance(node.op, ast.Div)
                and isinstance(node.right, ast.Constant)
                and node.right.value in ARTIFACT_FILES | ARTIFACT_DIRS
            ):
                bad.append(f"{name}:{node.lineno} / {node.right.value!r}")
    assert not bad, bad


@pytest.mark.parametrize("name", sorted(MODULES))
def test_modules_stay_small(name: str) -> None:
    lines = len(MODULES[name].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{name}: {lines} lines"
