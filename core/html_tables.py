"""Tables in HTML, for the converter in ``core.html``: which tables hold data (read row by row, ``cell | cell``)
and which only lay a page out (read as the blocks their cells hold), and a data row's list items. Pure.

A table lays a page out when no row has two cells with text (a one-column table: a boxed note, steps one per
row), or when it has no header cell (``<th>``, ``<thead>``) and a cell holds what a data cell does not: a
heading, numbered steps (``<ol>``), preformatted text, a table, or two paragraphs. A bulleted list in a cell
keeps its table a data table (a plan's features, ``SSO; Audit log``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from core.html_feed import LinearParser, read

ITEM = "\ue000"  # where a list item starts inside a table cell (a private-use character, never in text)
_BLOCKY = frozenset("h1 h2 h3 h4 h5 h6 ol pre table".split())  # a cell holding one of these is a page's layout
_PARAGRAPH = frozenset("p div section article blockquote figure dl dt dd details summary".split())


def cell_items(row: str) -> str:
    """A row's list items separated by ``; `` ("SSO; Audit log"), not glued ("SSO Audit log"); nothing before
    a cell's first item or after a sentence's end or a colon."""
    row = re.sub(f"(^|[|.!?:])(\\s*){ITEM}\\s*", r"\1\2", row)
    return re.sub(f"\\s*{ITEM}\\s*", "; ", row)


@dataclass
class _Cell:
    text: bool = False  # the cell has text
    paragraphs: int = 0  # runs of text between paragraph boundaries, outside bulleted lists
    boundary: bool = True  # the next text starts a new paragraph
    bullets: int = 0  # open <ul> inside the cell


@dataclass
class _Table:
    index: int
    header: bool = False  # a <th> or <thead>
    columns: int = 0  # the most cells with text in one row
    blocks: bool = False  # a cell holds a heading, numbered steps, preformatted text, a table or two paragraphs
    row: int = 0  # cells with text in the current row
    cell: _Cell | None = field(default=None)

    def end_cell(self) -> None:
        if self.cell is not None and self.cell.text:
            self.row += 1
        self.cell = None

    def end_row(self) -> None:
        self.end_cell()
        self.columns, self.row = max(self.columns, self.row), 0

    def is_layout(self) -> bool:
        self.end_row()
        return self.columns <= 1 or (not self.header and self.blocks)


class _TableScan(LinearParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.layout: list[bool] = []  # per <table> start tag, in document order
        self._open: list[_Table] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        table = self._open[-1] if self._open else None
        if tag == "table":
            self._open.append(_Table(len(self.layout)))
            self.layout.append(False)
        if table is None:
            return
        cell = table.cell
        if tag in ("th", "thead"):
            table.header = True
        if tag == "tr":
            table.end_row()
        elif tag in ("td", "th"):
            table.end_cell()
            table.cell = _Cell()
        elif cell is not None and tag in _BLOCKY:
            table.blocks = True
        elif cell is not None and tag == "ul":
            cell.bullets += 1
        elif cell is not None and tag in _PARAGRAPH:
            cell.boundary = True

    def handle_endtag(self, tag: str) -> None:
        if not self._open:
            return
        table = self._open[-1]
        if tag == "table":
            self._open.pop()
            self.layout[table.index] = table.is_layout()
        elif tag == "tr":
            table.end_row()
        elif tag in ("td", "th"):
            table.end_cell()
        elif table.cell is not None and tag == "ul":
            table.cell.bullets = max(table.cell.bullets - 1, 0)
        elif table.cell is not None and tag in _PARAGRAPH:
            table.cell.boundary = True

    def close(self) -> None:
        super().close()
        for table in self._open:  # tables left open count as they stand at the end
            self.layout[table.index] = table.is_layout()

    def handle_data(self, data: str) -> None:
        cell = self._open[-1].cell if self._open else None
        if cell is None or not data.strip():
            return
        cell.text = True
        if cell.boundary and not cell.bullets:
            cell.paragraphs += 1
            self._open[-1].blocks |= cell.paragraphs > 1
        cell.boundary = False


def layout_tables(html: str) -> list[bool]:
    """Whether each ``<table>`` of ``html``, in the order its start tags appear, lays the page out (see the
    module docstring); a table left open counts as it stands at the end."""
    scan = _TableScan()
    read(scan, html)
    return scan.layout
