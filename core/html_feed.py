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

NOTE(python): the same security releases (and 3.14) also changed what the parser shows
(https://github.com/python/cpython/issues/135462, /102555, /135661): a comment never closed hides the rest of the
text (3.11.7 shows it as text, to the next ``>``), ``--!>`` closes a comment and ``-- >`` no longer does,
``<!-->`` is an empty comment, ``</ b>`` is a comment (was the end of ``b``), ``</script x>`` ends a script,
``<title>`` and ``<textarea>`` hold raw text, and tag names and attributes are cut at other characters. The hub
runs on any Python from 3.11, so :class:`LinearParser` reads every one of these as 3.11.7 does: no text a person
wrote is hidden, and the same HTML reads the same on every patch release.
"""

from __future__ import annotations

import re
from html import unescape
from html.parser import HTMLParser

_COMMENT_CLOSE = re.compile(r"--\s*>")  # as _markupbase's: the end of a comment
_SECTION_CLOSE = {name: re.compile(r"]\s*]\s*>") for name in ("temp", "cdata", "ignore", "include", "rcdata")}
_SECTION_CLOSE |= {name: re.compile(r"]\s*>") for name in ("if", "else", "endif")}  # MS Office's <![if ...]>
_SECTION_NAME = re.compile(r"[a-zA-Z][-_.a-zA-Z0-9]*\s*")  # as _markupbase's _scan_name
# 3.11.7's html.parser: a tag's name and attributes, where a start tag ends, an end tag
_TAG_NAME = re.compile(r"([a-zA-Z][^\t\n\r\f />\x00]*)(?:\s|/(?!>))*")
_ATTRIBUTE = re.compile(r"""((?<=['"\s/])[^\s/>][^\s/=>]*)(\s*=+\s*('[^']*'|"[^"]*"|(?!['"])[^>\s]*))?"""
                        r"""(?:\s|/(?!>))*""")
_START_TAG = re.compile(r"""<[a-zA-Z][^\t\n\r\f />\x00]*(?:[\s/]*(?:(?<=['"\s/])[^\s/>][^\s/=>]*"""
                        r"""(?:\s*=+\s*(?:'[^']*'|"[^"]*"|(?!['"])[^>\s]*)\s*)?(?:\s|/(?!>))*)*)?\s*""")
_END_TAG = re.compile(r"</\s*([a-zA-Z][-.a-zA-Z0-9:_]*)\s*>")


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
    """An :class:`HTMLParser` that reads the text of a comment or marked section that never ends once, and
    reads HTML as Python 3.11.7's parser does on every Python (see the module docstring).

    It is fed a whole document at once (:func:`read`): markup that does not end (a comment, a section, a tag
    whose quote never closes) is text up to the next ``>`` there and then, as 3.11.7 showed it when closed.
    It remembers, for the text being parsed, the first position from which the end of a comment (``-->``) or
    of a marked section (``]]>``, ``]>``) was looked for and not found: a later one is not closed either, and is
    answered so without reading the rest of the text again.
    """

    _RAW_TEXT = ("script", "style")  # 3.11.7's; newer parsers also read <title>, <textarea> (and more) raw

    def reset(self) -> None:
        super().reset()
        self._searched: str | None = None  # the text the positions below are in (self.rawdata, at the time)
        self._unclosed: dict[re.Pattern[str], int] = {}  # a closing pattern -> from where it is known absent
        self._escapable = True  # the newer parser's: whether text is unescaped (not in a script or a style)

    def close(self) -> None:
        if self.cdata_elem is not None:  # a script or style never closed: 3.11.7 drops it, newer ones show it
            self.rawdata = ""
        super().close()

    def _absent(self, close: re.Pattern[str], start: int) -> bool:
        """Whether ``close`` is known not to occur in the text at or after ``start``."""
        if self._searched is not self.rawdata:
            self._searched, self._unclosed = self.rawdata, {}
        return start >= self._unclosed.get(close, len(self.rawdata) + 1)

    def _found(self, end: int, close: re.Pattern[str], start: int) -> int:
        if end < 0:
            self._unclosed[close] = min(start, self._unclosed.get(close, start))
        return end

    def _as_text(self, i: int) -> int:
        """Show the markup at ``i`` that never ends as text, to the next ``>`` (3.11.7's end of input)."""
        k = self.rawdata.find(">", i + 1) + 1 or self.rawdata.find("<", i + 1)
        k = k if k > 0 else i + 1
        text = self.rawdata[i:k]
        self.handle_data(unescape(text) if self.convert_charrefs and self.cdata_elem is None else text)
        return k

    def set_cdata_mode(self, elem: str, *, escapable: bool = False) -> None:
        """Read a script or style as raw text up to ``</script>`` (spaces allowed, nothing else), as 3.11.7."""
        self.cdata_elem, self._escapable = elem.lower(), False
        self.interesting = re.compile(r"</\s*%s\s*>" % self.cdata_elem, re.I)

    def parse_comment(self, i: int, report: bool = True) -> int:
        """``<!--`` to the next ``--`` and ``>`` with only spaces between (not ``--!>``; ``<!-->`` is open)."""
        if not self._absent(_COMMENT_CLOSE, i + 4):
            close = _COMMENT_CLOSE.search(self.rawdata, i + 4)
            if close is not None:
                if report:
                    self.handle_comment(self.rawdata[i + 4:close.start()])
                return close.end()
            self._found(-1, _COMMENT_CLOSE, i + 4)
        return self._as_text(i)

    def parse_marked_section(self, i: int, report: bool = True) -> int:
        name = _SECTION_NAME.match(self.rawdata, i + 3)
        if name is not None and name.end() == len(self.rawdata):
            return self._as_text(i)  # the name goes on to the end of the text
        close = _SECTION_CLOSE.get(name.group().strip().lower()) if name else None
        if close is None:  # <![x>, <![ : Python raises AssertionError; a browser reads a bogus comment
            return self.parse_bogus_comment(i)
        if self._absent(close, i + 3):
            return self._as_text(i)
        end = self._found(super().parse_marked_section(i, report), close, i + 3)
        return end if end >= 0 else self._as_text(i)

    def parse_html_declaration(self, i: int) -> int:
        """``<!``: a comment, a marked section (any ``<![``, 3.14 reads only CDATA), a doctype, else a bogus comment."""
        raw = self.rawdata
        if raw.startswith("<!--", i):
            return self.parse_comment(i)
        if raw.startswith("<![", i):
            return self.parse_marked_section(i)
        if raw[i:i + 9].lower() == "<!doctype":
            end = raw.find(">", i + 9)
            if end < 0:
                return self._as_text(i)
            self.handle_decl(raw[i + 2:end])
            return end + 1
        return self.parse_bogus_comment(i)

    def parse_bogus_comment(self, i: int, report: bool = True) -> int:
        end = super().parse_bogus_comment(i, report)
        return end if end >= 0 else self._as_text(i)

    def parse_pi(self, i: int) -> int:
        end = super().parse_pi(i)
        return end if end >= 0 else self._as_text(i)

    def parse_starttag(self, i: int) -> int:
        """A start tag as 3.11.7 reads it (its name, its attributes, where it ends), else text."""
        raw = self.rawdata
        end = self.check_for_whole_start_tag(i)
        if end < 0:
            return self._as_text(i)
        name = _TAG_NAME.match(raw, i + 1)
        assert name is not None  # the parser calls this at "<" and a letter
        k, self.lasttag = name.end(), name.group(1).lower()
        attrs: list[tuple[str, str | None]] = []
        while k < end and (m := _ATTRIBUTE.match(raw, k)):
            value: str | None = m.group(3) if m.group(2) else None
            if value and value[:1] in "'\"" and value[:1] == value[-1:]:
                value = value[1:-1]
            attrs.append((m.group(1).lower(), unescape(value) if value else value))
            k = m.end()
        rest = raw[k:end].strip()
        if rest not in (">", "/>"):
            self.handle_data(raw[i:end])
        elif rest == "/>":
            self.handle_startendtag(self.lasttag, attrs)
        else:
            self.handle_starttag(self.lasttag, attrs)
            if self.lasttag in self._RAW_TEXT:
                self.set_cdata_mode(self.lasttag)
        return end

    def check_for_whole_start_tag(self, i: int) -> int:
        """Where the start tag at ``i`` ends, or -1 when it does not (3.11.7's rule: bogus input ends it early)."""
        m = _START_TAG.match(self.rawdata, i)
        assert m is not None  # the parser calls this at "<" and a letter
        j = m.end()
        after = self.rawdata[j:j + 1]
        if after == ">":
            return j + 1
        if after == "/":
            return j + 2 if self.rawdata.startswith("/>", j) else -1
        if after == "" or after in "abcdefghijklmnopqrstuvwxyz=/ABCDEFGHIJKLMNOPQRSTUVWXYZ":
            return -1
        return max(j, i + 1)

    def parse_endtag(self, i: int) -> int:
        """``</`` as 3.11.7 reads it: ``</ b >`` ends ``b``; in a script only ``</script>`` is a tag."""
        raw = self.rawdata
        gt = raw.find(">", i + 1) + 1
        if not gt:
            return self._as_text(i)
        match = _END_TAG.match(raw, i)
        if match is None or (self.cdata_elem is not None and match.group(1).lower() != self.cdata_elem):
            if self.cdata_elem is not None:
                self.handle_data(raw[i:gt])
                return gt
            name = _TAG_NAME.match(raw, i + 2)
            if name is None:
                return i + 3 if raw.startswith("</>", i) else self.parse_bogus_comment(i)
            self.handle_endtag(name.group(1).lower())
            return raw.find(">", name.end()) + 1
        self.handle_endtag(match.group(1).lower())
        self.clear_cdata_mode()
        return gt


def read(parser: HTMLParser, html: str) -> None:
    """Feed ``parser`` the whole of ``html`` (as :func:`feedable` writes it) and close it."""
    parser.feed(feedable(html))
    parser.close()
