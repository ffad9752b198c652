"""Tables in HTML, for the converter in ``core.html``: a data row's list items. Pure."""

from __future__ import annotations

import re

ITEM = "\ue000"  # where a list item starts inside a table cell (a private-use character, never in text)


def cell_items(row: str) -> str:
    """A row's list items separated by ``; `` ("SSO; Audit log"), not glued ("SSO Audit log"); nothing before
    a cell's first item or after a sentence's end or a colon."""
    row = re.sub(f"(^|[|.!?:])(\\s*){ITEM}\\s*", r"\1\2", row)
    return re.sub(f"\\s*{ITEM}\\s*", "; ", row)
