"""Imports flow one way (DESIGN.md section 2): a package may import only the packages listed for it; only the
surfaces (``surfaces/``, and ``app.py`` that re-exports them) know Flask and click; nothing looks the running
hub up in ``current_app`` or ``app.extensions``: the services are passed."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROJECT = {"app", "config", "core", "connectors", "interceptor", "migrations", "surfaces"}
ALLOWED = {
    "core": {"core"},
    "config": {"config", "core"},
    "connectors": {"connectors", "core", "config"},
    "interceptor": {"interceptor", "core", "config", "connectors.base"},
    "migrations": {"migrations", "core"},
    "surfaces": {"surfaces", "core", "config", "connectors", "interceptor", "migrations"},
}
# The web and command-line frameworks, and the adapters that bind a library to them.
WEB_AND_CLI = {"flask", "click", "werkzeug", "waitress", "gunicorn", "slack_bolt.adapter"}
SURFACES = ("surfaces", "app.py")


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


def project_sources() -> list[Path]:
    """Every Python module of the shipped code (not tests, benchmarks or the virtualenv)."""
    paths = [ROOT / "app.py"]
    for package in ALLOWED:
        paths.extend(sorted((ROOT / package).rglob("*.py")))
    return paths


def framework_violations(paths: list[Path], root: Path = ROOT) -> list[str]:
    found = []
    for path in paths:
        relative = path.relative_to(root)
        if relative.parts[0] in SURFACES:
            continue
        found.extend(f"{relative} imports {name}" for name in sorted(imported_modules(path)) if allowed(name, WEB_AND_CLI))
    return found


def lookups_of_the_running_app(paths: list[Path], root: Path = ROOT) -> list[str]:
    """``current_app`` anywhere, or reading ``<app>.extensions[...]`` (the factory's one assignment is fine)."""
    found = []
    for path in paths:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        stores = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Subscript) and isinstance(n.ctx, ast.Store)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and node.id == "current_app" or (
                    isinstance(node, ast.alias) and node.name == "current_app"):
                found.append(f"{path.relative_to(root)}:{getattr(node, 'lineno', '?')} uses current_app")
            if isinstance(node, ast.Attribute) and node.attr == "extensions" and id(node) not in stores:
                found.append(f"{path.relative_to(root)}:{node.lineno} reads .extensions")
    return found


def test_imports_flow_one_way() -> None:
    assert violations() == []


def test_only_the_surfaces_know_flask_and_click() -> None:
    assert framework_violations(project_sources()) == []


def test_services_are_passed_not_looked_up() -> None:
    assert lookups_of_the_running_app(project_sources()) == []


def test_the_checker_catches_a_wrong_way_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from interceptor.types import Decision\nimport connectors.slack\n", encoding="utf-8")
    names = imported_modules(bad)
    assert not allowed("interceptor.types", ALLOWED["core"])
    assert not allowed("connectors.slack", ALLOWED["interceptor"])
    assert not allowed("surfaces.services", ALLOWED["core"]) and not allowed("surfaces.http", ALLOWED["connectors"])
    assert "connectors.slack" in names and "interceptor.types" in names


def test_the_checker_catches_flask_click_and_app_lookups_outside_the_surfaces(tmp_path: Path) -> None:
    (tmp_path / "core").mkdir()
    (tmp_path / "surfaces").mkdir()
    bad = tmp_path / "core" / "bad.py"
    bad.write_text("import click\nfrom flask import current_app\nfrom slack_bolt.adapter.flask import SlackRequestHandler\n"
                   "hub = current_app.extensions['hub']\n", encoding="utf-8")
    fine = tmp_path / "surfaces" / "fine.py"
    fine.write_text("import click\nfrom flask import Flask\napp = Flask('x')\napp.extensions['hub'] = object()\n", encoding="utf-8")
    assert framework_violations([bad, fine], tmp_path) == [
        "core/bad.py imports click", "core/bad.py imports flask", "core/bad.py imports flask.current_app",
        "core/bad.py imports slack_bolt.adapter.flask", "core/bad.py imports slack_bolt.adapter.flask.SlackRequestHandler",
    ]
    found = lookups_of_the_running_app([bad, fine], tmp_path)
    assert "core/bad.py:4 reads .extensions" in found and any("current_app" in f for f in found)
    assert not any(f.startswith("surfaces/") for f in found)
