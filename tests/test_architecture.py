"""Imports flow one way (DESIGN.md section 2): a package may import only the packages listed for it."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROJECT = {"app", "config", "core", "connectors", "interceptor", "migrations"}
ALLOWED = {
    "core": {"core"},
    "config": {"config", "core"},
    "connectors": {"connectors", "core", "config"},
    "interceptor": {"interceptor", "core", "config", "connectors.base"},
    "migrations": {"migrations", "core"},
}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def allowed(name: str, rules: set[str]) -> bool:
    return any(name == rule or name.startswith(rule + ".") for rule in rules)


def violations() -> list[str]:
    found = []
    for package, rules in ALLOWED.items():
        for path in sorted((ROOT / package).rglob("*.py")):
            for name in sorted(imported_modules(path)):
                top = name.split(".")[0]
                if top in PROJECT and not allowed(name, rules):
                    # `from connectors import base` is recorded as both "connectors" and "connectors.base"
                    if name == top and any(allowed(n, rules) for n in imported_modules(path) if n.startswith(top + ".")):
                        continue
                    found.append(f"{path.relative_to(ROOT)} imports {name}")
    return found


def test_imports_flow_one_way() -> None:
    assert violations() == []


def test_the_checker_catches_a_wrong_way_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from interceptor.types import Decision\nimport connectors.slack\n", encoding="utf-8")
    names = imported_modules(bad)
    assert not allowed("interceptor.types", ALLOWED["core"])
    assert not allowed("connectors.slack", ALLOWED["interceptor"])
    assert "connectors.slack" in names and "interceptor.types" in names
