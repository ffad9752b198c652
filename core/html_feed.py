"""Feeding untrusted HTML to Python's :class:`html.parser.HTMLParser` in time linear in its length: the base of
the three parsers behind ``core.html`` (the text, the page's content root, its tables). Pure.

NOTE(python): before CPython 3.11.13 / 3.12.11 / 3.13.4 (CVE-2025-6069; 3.11.7 on this machine), the parser
looks for the end of a comment or a marked section from where it starts to the end of the text, and when there
is none reads only up to the next ``>`` as text and looks again from the next one: quadratic (100 KB of
``<!--x>``, a comment never closed, took 2.6 s; 1 MB of it, or of ``<![CDATA[x>``, minutes), as a run of ``<``
after the text's last ``>`` was (:func:`feedable`). https://github.com/python/cpython/issues/135462
What it shows stays exactly what that parser shows; only the same search is not made twice. A marked section
it cannot name (``<![x>``, ``<![ ``), on which it raises ``AssertionError``, is read as a browser reads it: a
bogus comment up to the next ``>`` (https://html.spec.whatwg.org/#markup-declaration-open-state).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

_COMMENT_CLOSE = re.compile(r"--\s*>")  # as _markupbase's: the end of a comment
_SECTION_CLOSE = {name: re.compile(r"]\s*]\s*>") for name in ("temp", "cdata", "ignore", "include", "rcdata")}
_SECTION_CLOSE |= {name: re.compile(r"]\s*>") for name in ("if", "else", "endif")}  # MS Office's <![if ...]>
_SECTION_NAME = re.compile(r"[a-zA-Z][-_.a-zA-Z0-9]*\s*")  # as _markupbase's _scan_name


def feedable(html: str) -> str:
    """``html`` as :class:`LinearParser` should be fed it: every ``<`` after the last ``>`` written ``&lt;``.

    Nothing after the last ``>`` can be a tag, a comment or a declaration (each ends with one), so the
    parser shows it as text either way. But Python's parser (CVE-2025-6069, see the module docstring) looks
    for the end of each such ``<`` again from there to the end of the text when it is closed: quadratic
    (20,000 characters of ``"<a "`` took 4 s). As ``&lt;`` the same characters are read once as text.
    """
    cut = html.rfind(">") + 1
    return html if "<" not in html[cut:] else html[:cut] + html[cut:].replace("<", "&lt;")


class LinearParser(HTMLParser):
    """An :class:`HTMLParser` that reads the text of a comment or marked section that never ends once.

    It remembers, for the text being parsed, the first position from which the end of a comment (``-->``) or
    of a marked section (``]]>``, ``]>``) was looked for and not found: a later one is not closed either, and is
    answered so without reading the rest of the text again.
    """

    def reset(self) -> None:
        super().reset()
        self._searched: str | None = None  # the text the positions below are in (self.rawdata, at the time)
        self._unclosed: dict[re.Pattern[str], int] = {}  # a closing pattern -> from where it is known absent

    def _absent(self, close: re.Pattern[str], start: int) -> bool:
        """Whether ``close`` is known not to occur in the text at or after ``start``."""
        if self._searched is not self.rawdata:
            self._searched, self._unclosed = self.rawdata, {}
        return start >= self._unclosed.get(close, len(self.rawdata) + 1)

    def _found(self, end: int, close: re.Pattern[str], start: int) -> int:
        if end < 0:
            self._unclosed[close] = min(start, self._unclosed.get(close, start))
        return end

    def parse_comment(self, i: int, report: bool = True) -> int:
        if self._absent(_COMMENT_CLOSE, i + 4):
            return -1
        return self._found(super().parse_comment(i, report), _COMMENT_CLOSE, i + 4)

    def parse_marked_section(self, i: int, report: bool = True) -> int:
        name = _SECTION_NAME.match(self.rawdata, i + 3)
        if name is not None and name.end() == len(self.rawdata):
            return -1  # the name may go on: the end of the text decides (as the parser's own)
        close = _SECTION_CLOSE.get(name.group().strip().lower()) if name else None
        if close is None:  # <![x>, <![ : Python raises AssertionError; a browser reads a bogus comment
            return self.parse_bogus_comment(i)
        if self._absent(close, i + 3):
            return -1
        return self._found(super().parse_marked_section(i, report), close, i + 3)


def read(parser: HTMLParser, html: str) -> None:
    """Feed ``parser`` the whole of ``html`` (as :func:`feedable` writes it) and close it."""
    parser.feed(feedable(html))
    parser.close()
