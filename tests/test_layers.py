"""The layering ARCHITECTURE.md describes, checked: the domain core never imports the shell, the
shell never touches storage, and no module grows past what one reader holds in their head."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
CORE = sorted((ROOT / "review").rglob("*.py"))
SHELL = sorted([ROOT / "app.py", *(ROOT / "ui").rglob("*.py")])
API = sorted((ROOT / "api").rglob("*.py"))
WEB_FRAMEWORKS = ("fastapi", "starlette", "uvicorn", "pydantic", "httpx")
MAX_LINES = 400


def _imports(path: Path) -> list[tuple[int, str, bool]]:
    """(line, imported module, inside `if TYPE_CHECKING:`) for every import in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            typing_only |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name, id(node) in typing_only) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.lineno, node.module, id(node) in typing_only))
    return out


def _rel(p: Path) -> str:
    return str(p.relative_to(ROOT))


def test_the_domain_core_never_imports_the_shell() -> None:
    bad = [f"{_rel(p)}:{ln} imports {mod}" for p in CORE for ln, mod, _ in _imports(p) if mod.split(".")[0] in ("streamlit", "ui", "app")]
    assert not bad, bad


def test_the_domain_core_never_imports_the_api_or_a_web_framework() -> None:
    """The API is a shell too: review/ works (CLI, app, workers) without FastAPI installed."""
    bad = [f"{_rel(p)}:{ln} imports {mod}" for p in CORE for ln, mod, _ in _imports(p) if mod.split(".")[0] in ("api", *WEB_FRAMEWORKS)]
    assert not bad, bad


def test_the_api_is_a_shell_that_calls_services() -> None:
    """api/ never imports Streamlit or the app's pages, and only api/deps.py (its unit-of-work
    helper, like ui/common.py) opens sessions; routes call services through it."""
    assert API, "the api package is missing"

    def forbidden(p: Path, mod: str, typing_only: bool) -> bool:
        if mod.split(".")[0] in ("streamlit", "ui", "app"):
            return True
        storage = mod.startswith(("sqlmodel", "sqlalchemy", "review.db", "review.locks"))
        return storage and not typing_only and p != ROOT / "api" / "deps.py"

    bad = [f"{_rel(p)}:{ln} imports {mod}" for p in API for ln, mod, typing_only in _imports(p) if forbidden(p, mod, typing_only)]
    assert not bad, bad


def test_the_shell_never_touches_storage() -> None:
    """Pages call services; only ui/common.py (the one unit-of-work helper) opens sessions."""
    storage = ("sqlmodel", "sqlalchemy", "review.db", "review.locks")
    bad = []
    for p in SHELL:
        for ln, mod, typing_only in _imports(p):
            if typing_only or not mod.startswith(storage):
                continue
            if p == ROOT / "ui" / "common.py" and mod == "review.db":
                continue
            bad.append(f"{_rel(p)}:{ln} imports {mod}")
    assert not bad, bad


@pytest.mark.parametrize("path", CORE + SHELL + API, ids=_rel)
def test_no_module_outgrows_one_reader(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{_rel(path)} has {lines} lines; split it by concern (see ARCHITECTURE.md)"
