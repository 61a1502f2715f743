"""The layers of DESIGN.md §3 hold, read from the source with ``ast``.

* ``leadqueue/rules/`` is pure: it imports neither the store, the shared
  database code, sync, SQLAlchemy nor psycopg.
* Nothing in ``leadqueue/`` imports Qt or ``ui``. One exception, by design:
  ``leadqueue.cli.launch_gui`` hands the ``leadqueue`` command over to
  ``ui.app`` when a window is wanted (the CLI sits beside ``ui/`` at the top
  of the layers), inside the function, so the CLI and the worker still run
  where Qt is not installed (``test_core_without_qt``).
* ``ui/`` holds no SQL: no sqlalchemy, sqlite3 or psycopg import, and nothing
  the pre-stop hook's pattern finds; only ``ui/qt.py`` imports PySide6.

Every import counts, at the top of a module or inside a function.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORE = ROOT / "leadqueue"
UI = ROOT / "ui"

RULES_MAY_NOT = ("leadqueue.store", "leadqueue.shared", "leadqueue.sync", "sqlalchemy",
                 "psycopg")
QT = ("PySide6", "shiboken6")
UI_MAY_NOT = ("sqlalchemy", "sqlite3", "psycopg")
#: The pre-stop hook's check of ui/, as it runs it.
HOOK_SQL = re.compile(r"^\s*(from|import) (sqlalchemy|sqlite3|psycopg)|session\.execute\(|"
                      r"\bSELECT [a-z*]", re.MULTILINE)
#: (file, function, module): imports of a higher layer that are there by design.
ALLOWED = {("leadqueue/cli.py", "launch_gui", "ui.app")}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, source: str | None = None) -> Iterator[tuple[str, str | None, int]]:
    """(absolute module, enclosing function or None, line) for every import in ``path``."""
    tree = ast.parse(source if source is not None else path.read_text(encoding="utf-8"))
    package = _module_name(path)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]

    def walk(node: ast.AST, function: str | None) -> Iterator[tuple[str, str | None, int]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                for alias in child.names:
                    yield alias.name, function, child.lineno
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")
                    base = base[:len(base) - child.level + 1]
                    module = ".".join(base + ([child.module] if child.module else []))
                else:
                    module = child.module or ""
                yield module, function, child.lineno
                # ``from .. import store`` imports leadqueue.store itself.
                for alias in child.names:
                    yield f"{module}.{alias.name}", function, child.lineno
            inner = child.name if isinstance(child, (ast.FunctionDef,
                                                     ast.AsyncFunctionDef)) else function
            yield from walk(child, inner)

    yield from walk(tree, None)


def _under(module: str, packages: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def _files(folder: Path) -> list[Path]:
    found = sorted(folder.rglob("*.py"))
    assert found, folder
    return found


def violations(files: list[Path], forbidden: tuple[str, ...]) -> list[str]:
    out = []
    for path in files:
        rel = path.relative_to(ROOT).as_posix()
        for module, function, line in imports(path):
            if _under(module, forbidden) and not any(
                    (rel, function) == (f, fn) and _under(module, (m,)) for f, fn, m in ALLOWED):
                out.append(f"{rel}:{line} imports {module}")
    return sorted(set(out))


def test_rules_are_pure() -> None:
    assert violations(_files(CORE / "rules"), RULES_MAY_NOT) == []


def test_the_core_imports_neither_qt_nor_the_ui() -> None:
    assert violations(_files(CORE), (*QT, "ui")) == []


def test_the_one_core_to_ui_handoff_stays_inside_launch_gui() -> None:
    """The allowed import is still where ALLOWED says (so the exception cannot
    quietly grow into a module-level import of the UI)."""
    found = {(module, function) for module, function, _line in imports(CORE / "cli.py")
             if _under(module, ("ui",))}
    assert found == {("ui.app", "launch_gui"), ("ui.app.run_app", "launch_gui")}


def test_the_ui_holds_no_sql() -> None:
    assert violations(_files(UI), UI_MAY_NOT) == []
    hits = [f"{p.relative_to(ROOT)}:{m.group(0).strip()!r}" for p in _files(UI)
            for m in HOOK_SQL.finditer(p.read_text(encoding="utf-8"))]
    assert hits == []


def test_only_ui_qt_imports_pyside6() -> None:
    others = [p for p in _files(UI) if p != UI / "qt.py"]
    assert violations(others, QT) == []
    assert any(_under(m, QT) for m, _f, _l in imports(UI / "qt.py"))


@pytest.mark.parametrize(("where", "source", "forbidden", "expected"), [
    (CORE / "rules" / "x.py", "from ..store import session_scope\n", RULES_MAY_NOT,
     "leadqueue.store"),
    (CORE / "rules" / "x.py", "def f():\n    from .. import shared\n", RULES_MAY_NOT,
     "leadqueue.shared"),
    (CORE / "rules" / "x.py", "import sqlalchemy.orm\n", RULES_MAY_NOT, "sqlalchemy.orm"),
    (CORE / "queue.py", "def f():\n    from PySide6 import QtCore\n", QT, "PySide6"),
    (UI / "x.py", "import sqlite3\n", UI_MAY_NOT, "sqlite3"),
])
def test_the_checks_can_fail(where: Path, source: str, forbidden: tuple[str, ...],
                             expected: str) -> None:
    """Each kind of violation is seen, at the top of a module or in a function."""
    found = [m for m, _f, _l in imports(where, source) if _under(m, forbidden)]
    assert expected in found
    assert HOOK_SQL.search('rows = session.execute(text("SELECT id FROM leads"))')
