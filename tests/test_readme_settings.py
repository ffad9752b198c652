"""The README's configuration table against the settings the code reads: a newcomer sets what the table names,
with the defaults it gives, so every setting has a row, every row names settings, and each default is the
code's (``config/settings.py`` and each vendor's ``connectors/<vendor>/settings.py``)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from config.settings import _schemas, vendor_specs

README = Path(__file__).resolve().parent.parent / "README.md"
ENVIRONMENT_ONLY = {"HUB_PORT", "HUB_HOST", "HUB_URL", "PROMETHEUS_MULTIPROC_DIR"}  # read by the commands, not the schema
# Defaults the code works out when the setting is unset, which the table describes in words.
WORKED_OUT = {"HUB_JOB_WORKERS": "`1` on SQLite (else `2`)", "HUB_RATE_LIMIT_STORAGE": "`memory://`"}


def _table() -> dict[str, str]:
    """Each setting the README's configuration table names, to its cell of the default column."""
    text = README.read_text(encoding="utf-8")
    section = text.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, str] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        if len(cells) < 3 or not cells[0].startswith("`"):
            continue
        names = re.findall(r"`([A-Z][A-Z0-9_]+)`", cells[0])
        defaults = re.split(r" / |, (?=[`—])", cells[1]) if len(names) > 1 else [cells[1]]
        defaults = defaults * len(names) if defaults == ["—"] else defaults  # one dash: none has a default
        assert len(defaults) == len(names), f"{cells[0]}: {len(names)} settings, defaults {defaults}"
        rows |= dict(zip(names, defaults))
    return rows


def _shown(value: Any) -> str:
    """A default as the table writes it."""
    if callable(value):
        value = value()
    if value is None or value == ():
        return "—"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, tuple):
        value = ",".join(value)
    return f"`{value}`"


def _same(cell: str, shown: str) -> bool:
    """Whether the table's cell starts with the default ``shown`` (numbers compared as numbers: 0.10 is 0.1)."""
    if cell == shown:
        return True
    if shown == "—":
        return cell.startswith(shown)
    written = re.match(r"`([^`]*)`", cell)
    if written is None:
        return False
    try:
        return float(written.group(1)) == float(shown.strip("`"))
    except ValueError:
        return written.group(1) == shown.strip("`")


def test_every_setting_has_a_row_with_the_codes_default() -> None:
    table, wrong = _table(), []
    keys: set[str] = set()
    for _, schema in _schemas(vendor_specs()):
        for key, field in schema.fields.items():
            keys.add(key)
            shown = WORKED_OUT.get(key) or _shown(field.load_default)
            if key not in table:
                wrong.append(f"{key}: no row in the README's configuration table")
            elif not _same(table[key], shown):
                wrong.append(f"{key}: the README says {table[key]}, the code's default is {shown}")
    assert not wrong, wrong
    assert not set(table) - keys - ENVIRONMENT_ONLY, "rows naming no setting the hub reads"
