"""The rule of the house: stages import only from stages above them, no cycles, small modules.

Every module of ``hotspots/`` is read with ``ast`` (imports inside functions and under
``TYPE_CHECKING`` count too); the stage order is ``hotspots.STAGES``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import hotspots

PACKAGE = Path(hotspots.__file__).parent
MAX_LINES = 1000


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _resolve(module: str, name: str | None) -> str:
    """The hotspots module an import statement loads (``from a.b import c`` may load a.b.c)."""
    if name is not None and f"{module}.{name}" in MODULES:
        return f"{module}.{name}"
    return module


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = (
        _module_name(path) if path.name == "__init__.py" else _module_name(path).rsplit(".", 1)[0]
    )
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "hotspots")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            if module.split(".")[0] != "hotspots":
                continue
            found.update(_resolve(module, a.name) for a in node.names)
    return found


GRAPH = {name: _imports(path) for name, path in MODULES.items()}


def _stage(module: str) -> int | None:
    parts = module.split(".")
    if len(parts) < 2:
        return None  # the package itself: the public API, may import every stage
    if parts[1] == "__main__":
        return len(hotspots.STAGES)
    return hotspots.STAGES.index(parts[1])


def test_every_module_belongs_to_a_stage():
    strays = [
        m
        for m in MODULES
        if m.count(".") >= 1 and m.split(".")[1] not in (*hotspots.STAGES, "__main__")
    ]
    assert not strays, f"modules outside every stage: {strays}; add them to a stage folder"


def test_imports_follow_the_stage_order():
    wrong = []
    for module, targets in GRAPH.items():
        mine = _stage(module)
        if mine is None:
            continue
        for target in targets:
            theirs = _stage(target)
            if theirs is None:
                wrong.append(f"{module} imports the whole package ({target})")
            elif theirs > mine:
                wrong.append(
                    f"{module} ({hotspots.STAGES[mine]}) imports {target} "
                    f"({hotspots.STAGES[theirs]}, a later stage)"
                )
    assert not wrong, "\n".join(wrong)


def test_no_import_cycles():
    seen: dict[str, int] = {}  # 1 = on the path, 2 = done
    cycles: list[list[str]] = []

    def visit(module: str, path: list[str]) -> None:
        seen[module] = 1
        for target in sorted(GRAPH.get(module, ())):
            if target not in GRAPH or target == module:
                continue
            if seen.get(target) == 1:
                cycles.append([*path[path.index(target) :], target])
            elif target not in seen:
                visit(target, [*path, target])
        seen[module] = 2

    for module in sorted(GRAPH):
        if module not in seen:
            visit(module, [module])
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_modules_are_small(module):
    lines = MODULES[module].read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_LINES, (
        f"{module} has {lines} lines (at most {MAX_LINES}); split it by idea"
    )


def test_the_checker_sees_a_cycle_and_a_backward_import(monkeypatch):
    """The checks above can fail: a planted backward import is reported."""
    planted = {"hotspots.core.a": {"hotspots.cli.main"}, "hotspots.cli.main": {"hotspots.core.a"}}
    assert _stage("hotspots.core.a") < _stage("hotspots.cli.main")
    monkeypatch.setitem(globals(), "GRAPH", planted)
    with pytest.raises(AssertionError, match="later stage"):
        test_imports_follow_the_stage_order()
    with pytest.raises(AssertionError, match="import cycles"):
        test_no_import_cycles()
