"""HTML to plain text and sections: the one converter behind Zendesk comments, Help Center articles and
HTML files imported into the KB.

Pure functions of their argument. The text keeps what a person needs to follow it: paragraphs separated by
a blank line, list items on their own lines (``- `` or ``1. ``, nested ones indented; an ``<ol start="3">``
numbered from 3), table rows as ``cell | cell`` (one line per row: a ``<br>`` in a cell is a space, a list in
it ``a; b``; a table that only lays the page out, one column or a cell of steps or paragraphs, reads as the
blocks it holds: ``core.html_tables``), preformatted text as it was, links as ``label (url)`` (``mailto:``
as ``label (address)``; a relative link resolved against ``base_url``, else the page's ``<base href>`` or
``<link rel="canonical">``, and without any left as its label; none in a heading), an image inside a line of
text as its alt text (an image alone in its block, a screenshot, is left out). Scripts, styles, ``<head>``,
navigation, footers and forms are dropped, and so is an ``<aside>`` that is a sidebar (related articles,
contents: ``core.html_page``); an ``<aside>`` callout (a note, a warning) is read where it stands, its
heading a line of its text rather than a section. Entities are decoded. Sloppy HTML (unclosed ``<p>``,
``<li>``, ``<tr>``) reads as a browser would show it. A whole page (``<html>``/``<body>``) with one ``.article-body``
(Help Center themes), else one ``<article>``, else one ``<main>`` is read from that element alone; its
``<title>``, ``<h1>`` and canonical link are still read from the page.

Sections: ``h1``..``h4`` open a section whose heading path is the chain of enclosing headings. A paragraph
that is nothing but one short bold phrase (``<p><strong>Refund policy</strong></p>``, how many Help Center
articles are written) opens a section one level below every real heading; a ``<details>`` accordion's
``<summary>`` (an FAQ's question) opens one below that, which ends with the ``</details>``. ``h5``/``h6``
stay in the text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urldefrag, urljoin

from core.html_feed import LinearParser, read
from core.html_page import Aside, Root, content_root, matches
from core.html_tables import ITEM, cell_items, layout_tables

_SKIP = frozenset("script style head template noscript nav footer form svg button select iframe".split())
_BLOCK = frozenset(
    "p div br h1 h2 h3 h4 h5 h6 ul ol li table thead tbody tr blockquote pre section article header main "
    "hr dl dt dd figure figcaption details summary aside".split()
)
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4}
_BOLD = frozenset(("strong", "b"))
PSEUDO_LEVEL = 5  # a bold-only paragraph's heading level: below h1..h4
SUMMARY_LEVEL = 6  # a <details> accordion's <summary> (an FAQ's question): below those, until </details>
PSEUDO_MAX_WORDS = 12
MAX_INDENT = 10  # list levels indented; deeper ones as the tenth (10,000 open <ul> once made 200 MB of spaces)
_TABLE_PARTS = frozenset("table thead tbody tfoot tr td th".split())
_TIGHT = frozenset(("li", "tr", "pre"))  # consecutive blocks of these kinds are joined by one line break


@dataclass(frozen=True)
class TextSection:
    """A part of a document under one heading path (outermost heading first; ``()`` before any heading),
    as plain text; ``section_id`` where the source names its sections (a bench pack), else ``None``."""

    heading_path: tuple[str, ...]
    text: str
    section_id: str | None = None


@dataclass(frozen=True)
class HtmlDocument:
    """An HTML document as plain data: its ``<title>``, first ``<h1>``, sections, the whole text, and its
    canonical address."""

    title: str
    h1: str
    sections: tuple[TextSection, ...]
    text: str  # every block in order, headings on their own lines
    h1_count: int = 0
    canonical: str = ""  # the page's <link rel="canonical"> (its public address), when it names one
    h1_is_title: bool = False  # the page's only h1 opens it, or stands outside its content root (its title)


@dataclass
class _Block:
    kind: str  # "p", "li", "tr", "pre", or "h" for a heading
    text: str
    level: int = 0  # heading level (1..4, PSEUDO_LEVEL)


class _Parser(LinearParser):
    def __init__(self, base_url: str | None = None, root: Root | None = None,
                 layouts: list[bool] | None = None) -> None:
        super().__init__(convert_charrefs=True)
        self._root, self._root_depth = root, 0  # only the content root is read, when the page has one
        self._layouts, self._table_count = layouts or [], 0  # per <table> in the page: does it lay the page out?
        self._open_tables: list[bool] = []  # the open tables, innermost last: layout (True) or data
        self.blocks: list[_Block] = []
        self.title = ""
        self.base_url = base_url
        self.page_urls: dict[str, str] = {}  # the page's own <base href> and <link rel="canonical">
        self._buf: list[str] = []
        self._bold_chars = 0  # visible characters of the current block inside <b>/<strong>
        self._alt_chars = 0  # visible characters of the current block that are images' alt text
        self._skip = self._bold = self._pre = self._row = self._level = self._in_title = 0
        self._outside = root is not None  # outside the content root: read nothing
        self._lists: list[list[int]] = []  # per open list: [is_ordered, next number]
        self._items: list[list[Any]] = []  # per open list item: [marker not yet written, or ""; indent; list depth]
        self._href: list[str | None] = []
        self._asides: list[Aside] = []  # the open <aside>s: callouts are read, sidebars dropped at their end

    def _kind(self) -> str:
        return "pre" if self._pre else "tr" if self._row else "li" if self._items else "p"

    def _flush(self) -> None:
        raw, kind = "".join(self._buf), self._kind()
        self._buf = []
        bold, self._bold_chars = self._bold_chars, 0
        alt, self._alt_chars = self._alt_chars, 0
        if kind == "pre":
            lines = [line.rstrip() for line in raw.strip("\n").split("\n")]
            self.blocks.extend(_Block("pre", line) for line in lines if any(lines))
            return
        text = cell_items(re.sub(r"[ \t\r\f\v\u00a0]+", " ", raw)) if kind == "tr" else raw
        text = re.sub(r"[ \t\r\f\v\u00a0]+", " ", text)
        text = re.sub(r"\n{3,}", "\n\n", "\n".join(line.strip() for line in text.split("\n")).strip())
        if not text or (alt and alt >= len(re.sub(r"\s", "", text))):  # empty, or images alone (screenshots)
            return
        if self._level and self._asides:  # a callout's title ("Warning") is its first line, not a section
            self._asides[-1].heading = self._asides[-1].heading or text
            self.blocks.append(_Block("p", " ".join(text.split())))
        elif self._level:
            self.blocks.append(_Block("h", " ".join(text.split()), self._level))
        elif (not self._asides and kind == "p" and bold >= len(re.sub(r"\s", "", text)) and "\n" not in text
              and len(text.split()) <= PSEUDO_MAX_WORDS and not text.endswith((".", ",", ";"))):
            self.blocks.append(_Block("h", text.rstrip(":").strip(), PSEUDO_LEVEL))
        elif kind == "li":
            marker, indent, _ = self._items[-1]
            self._items[-1][0] = ""
            text = (marker or indent + "  ") + text.replace("\n", "\n" + indent + "  ")
            self.blocks.append(_Block("li", text))
        else:
            self.blocks.append(_Block(kind, text))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title += 1
        if tag == "base" or (tag == "link" and (dict(attrs).get("rel") or "").lower() == "canonical"):
            self.page_urls.setdefault(tag, (dict(attrs).get("href") or "").strip())  # in <head>: skipped below
        if self._root and (self._root_depth or matches(self._root, tag, attrs)) and tag == self._root[1]:
            self._root_depth += 1
            if self._root_depth == 1:  # entering the content root
                self._outside, self._skip = False, 0
        if tag == "table":
            self._open_tables.append(self._table_count < len(self._layouts) and self._layouts[self._table_count])
            self._table_count += 1
        if tag in _SKIP:
            self._skip += 1
        if self._skip or self._outside:
            return
        if tag in _TABLE_PARTS and self._layout():  # a layout table's rows and cells: the blocks they hold
            self._flush()
        elif tag == "br":
            self._buf.append(" " if self._row else "\n")
        elif tag == "img":
            self._image(dict(attrs).get("alt"))
        elif tag == "tr":  # a row ends the previous one, closed or not
            self._flush()
            self._row = 1
        elif tag in ("td", "th"):
            if "".join(self._buf).strip():
                self._buf.append(" | ")
        elif tag in _BLOCK and self._row:  # paragraphs inside a table cell stay in the row
            self._buf.append(ITEM if tag == "li" else " ")
        elif tag in _BLOCK:
            self._flush()
            self._open_block(tag, attrs)
        elif tag in _BOLD:
            self._bold += 1
        elif tag == "a":
            self._href.append(dict(attrs).get("href"))

    def _image(self, alt: str | None) -> None:
        alt = " ".join((alt or "").split())
        if alt and not self._level:  # an icon in a heading is not part of its heading path
            self._buf.append(f" {alt} ")
            self._alt_chars += len(re.sub(r"\s", "", alt))
            if self._bold:
                self._bold_chars += len(re.sub(r"\s", "", alt))

    def _open_block(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("ul", "ol"):
            self._lists.append([tag == "ol", _start(attrs) if tag == "ol" else 1])
        elif tag == "li":
            depth = len(self._lists)
            while self._items and self._items[-1][2] >= depth:  # an item left open ends at the next one
                self._items.pop()
            indent = "  " * min(max(depth - 1, 0), MAX_INDENT)
            if self._lists and self._lists[-1][0]:
                marker = f"{indent}{self._lists[-1][1]}. "
                self._lists[-1][1] += 1
            else:
                marker = f"{indent}- "
            self._items.append([marker, indent, depth])
        elif tag == "pre":
            self._pre += 1
        elif tag in _HEADINGS:
            self._level = _HEADINGS[tag]
        elif tag == "summary":
            self._level = SUMMARY_LEVEL
        elif tag == "aside":
            self._asides.append(Aside(len(self.blocks), attrs))

    def _layout(self) -> bool:
        """Inside a table that lays the page out (see ``core.html_tables``), outside any data row."""
        return bool(self._open_tables) and self._open_tables[-1] and not self._row

    def handle_endtag(self, tag: str) -> None:
        layout = self._layout()
        if tag == "table" and self._open_tables:
            self._open_tables.pop()
        if tag == "title":
            self._in_title = max(self._in_title - 1, 0)
        if self._root and self._root_depth and tag == self._root[1]:
            self._root_depth -= 1
            if not self._root_depth:  # leaving the content root: the rest of the page is chrome
                self._flush()
                self._outside, self._root = True, None
                return
        if tag in _SKIP:
            self._skip = max(self._skip - 1, 0)
            return
        if self._skip or self._outside:
            return
        if tag in _BOLD:
            self._bold = max(self._bold - 1, 0)
        elif tag in _TABLE_PARTS and layout:
            self._flush()
        elif tag == "a" and self._href:
            base = self.base_url or self.page_urls.get("base") or self.page_urls.get("link")
            target = link_target(self._href.pop(), base)
            if target and not self._level and not "".join(self._buf).strip().endswith(target):  # not in a heading
                self._buf.append(f" ({target})")
        elif tag == "tr" or (tag in ("table", "thead", "tbody", "tfoot") and self._row):
            self._flush()
            self._row = 0
        elif tag in ("td", "th") or (tag in _BLOCK and self._row):
            self._buf.append(" ")
        elif tag in _BLOCK and tag != "br":
            self._flush()
            self._close_block(tag)

    def _close_block(self, tag: str) -> None:
        if tag in ("ul", "ol") and self._lists:
            while self._items and self._items[-1][2] >= len(self._lists):  # items left open end with their list
                self._items.pop()
            self._lists.pop()
        elif tag == "li" and self._items:
            self._items.pop()
        elif tag == "pre":
            self._pre = max(self._pre - 1, 0)
        elif tag in _HEADINGS or tag == "summary":
            self._level = 0
        elif tag == "details":  # the accordion's section ends with it
            self.blocks.append(_Block("end", ""))
        elif tag == "aside" and self._asides:
            aside = self._asides.pop()
            if aside.is_chrome():
                del self.blocks[aside.start:]

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
            return
        if self._skip or self._outside:
            return
        if not self._pre:
            data = re.sub(r"\s+", " ", data)
        self._buf.append(data)
        visible = len(re.sub(r"\s", "", data))
        if self._bold:
            self._bold_chars += visible
        for aside in self._asides if not self._level else ():
            aside.chars += visible
            aside.link_chars += visible if self._href else 0

    def close(self) -> None:
        super().close()
        self._flush()


def _start(attrs: list[tuple[str, str | None]]) -> int:
    """The first number of an ``<ol>``: its ``start`` (a list continued after a screenshot), else 1.

    NOTE(html): a browser reads ``start`` as ASCII digits only; ``"²".isdigit()`` is true and ``int("²")`` raises, as
    ``int()`` of more than 4,300 digits does: such a list is numbered from 1, as a browser numbers it.
    """
    start = (dict(attrs).get("start") or "").strip()
    return int(start) if start.isascii() and start.isdigit() and len(start) <= 9 else 1


def link_target(href: str | None, base_url: str | None) -> str:
    """What a reader can follow of a link: an absolute http(s) URL (a relative one resolved against
    ``base_url``), or a ``mailto:`` address; ``""`` for an anchor on the page (``#limits``, or the page's own
    address with one) or a relative link without base."""
    href = (href or "").strip()
    scheme = href.split(":", 1)[0].lower() if ":" in href else ""
    if scheme == "mailto":
        return href[len("mailto:"):].split("?", 1)[0]
    if scheme in ("http", "https"):
        return href
    if scheme or not href or href.startswith("#") or not base_url:  # javascript:, tel:, an anchor, no base
        return ""
    resolved = urljoin(base_url, href)
    if urldefrag(resolved).url == urldefrag(base_url).url:  # the page itself: an anchor on it
        return ""
    return resolved if resolved.startswith(("http://", "https://")) else ""


def _join(blocks: list[_Block]) -> str:
    out: list[str] = []
    previous = ""
    for block in blocks:
        if out:
            out.append("\n" if block.kind == previous and block.kind in _TIGHT else "\n\n")
        out.append(block.text)
        previous = block.kind
    return "".join(out)


def parse_html(html: str | None, base_url: str | None = None) -> HtmlDocument:
    """Parse an HTML document or fragment into its title, sections and text.

    Args:
        html: the HTML (``None`` is treated as empty).
        base_url: the page's address, against which relative links are resolved (else the page's
            ``<base href>`` or ``<link rel="canonical">``; without any a relative link is left as its label).

    Returns:
        The document; sections without text (a heading followed directly by a sub-heading) are left out.
    """
    parser, page = _parsed(html or "", base_url, content_root(html or ""))
    blocks = _heading_something(parser.blocks)
    sections: list[TextSection] = []
    path: list[tuple[int, str]] = []
    current: list[_Block] = []

    def close_section() -> None:
        if current:
            sections.append(TextSection(tuple(h for _, h in path), _join(current)))

    for block in blocks:
        if block.kind in ("h", "end"):
            close_section()
            current = []
            path = [p for p in path if p[0] < (block.level if block.kind == "h" else SUMMARY_LEVEL)]
            path += [(block.level, block.text)] if block.kind == "h" else []
        else:
            current.append(block)
    close_section()
    blocks = [b for b in blocks if b.kind != "end"]
    h1s = [b.text for b in page.blocks if b.kind == "h" and b.level == 1]
    inside = any(b.kind == "h" and b.level == 1 for b in blocks)
    opens = bool(blocks) and blocks[0].kind == "h" and blocks[0].level == 1
    text = _join([_Block("p", b.text) if b.kind == "h" else b for b in blocks])
    canonical = parser.page_urls.get("link", "")
    return HtmlDocument(" ".join(parser.title.split()), h1s[0] if h1s else "", tuple(sections), text, len(h1s),
                        canonical if canonical.startswith(("http://", "https://")) else "",
                        len(h1s) == 1 and (opens or not inside))


def _heading_something(blocks: list[_Block]) -> list[_Block]:
    """``blocks``, with a bold-only paragraph that heads no text (the page's last block, or one right before a
    heading or the end of an accordion: ``<p><strong>Call us on 555 1234</strong></p>`` closing a page) read as
    the paragraph it is: as a heading over nothing, its text was in no section, so no answer could quote it."""
    out = list(blocks)
    for i, block in enumerate(out):
        after = out[i + 1] if i + 1 < len(out) else _Block("end", "")
        if block.kind == "h" and block.level == PSEUDO_LEVEL and (after.kind == "end" or after.kind == "h" and after.level <= PSEUDO_LEVEL):
            out[i] = _Block("p", block.text)
    return out


def _parsed(html: str, base_url: str | None, root: Root | None) -> tuple[_Parser, _Parser]:
    """The parse of the content root (the whole page without one), and of the whole page (for its h1)."""
    layouts = layout_tables(html)
    parsers = [_Parser(base_url, root, layouts)] + ([_Parser(base_url, None, layouts)] if root else [])
    for parser in parsers:
        read(parser, html)
    return parsers[0], parsers[-1]


def html_to_text(html: str | None, base_url: str | None = None) -> str:
    """Turn HTML into plain text (see the module docstring for what is kept).

    Args:
        html: the HTML (``None`` is treated as empty).
        base_url: as for :func:`parse_html`.

    Returns:
        The text, headings on their own lines, at most one blank line between blocks.
    """
    return parse_html(html, base_url).text
