"""Markdown emphasis marks removed in one pass (part of :mod:`interceptor.kb.markdown`). Pure.

The rules are those of the two regular expressions the converter used, ``(\\*\\*|__)(?=\\S)(.+?)(?<=\\S)\\1``
(bold) and ``(?<![\\w*])([*_])(?=\\S)(.+?)(?<=\\S)\\1(?![\\w*])`` (italics), applied left to right, each
opener closed by the nearest closer on its line. The expressions scanned the rest of the line again from
every opener that never closes (``"**a " * 20000`` took seconds); here every opener and closer is found
once, and each opener's closer is looked up among them (``n log n``).
"""

from __future__ import annotations

import re
from bisect import bisect_left

# (opener, closer, the shortest span from an opener to its closer: the mark and one character); zero-width,
# so that overlapping marks ("****") are all found.
_BOLD = tuple((re.compile(rf"(?={m}\S)"), re.compile(rf"(?<=\S)(?={m})"), 3) for m in (r"\*\*", "__"))
_ITALIC = tuple((re.compile(rf"(?<![\w*])(?={m}\S)"), re.compile(rf"(?<=\S)(?={m}(?![\w*]))"), 2)
                for m in (r"\*", "_"))


def _pass(text: str, marks: tuple[tuple[re.Pattern[str], re.Pattern[str], int], ...]) -> str:
    """``text`` with each opener and its nearest closer on the same line removed, leftmost first."""
    width = marks[0][2] - 1
    openers = sorted((m.start(), n) for n, (opener, _, _) in enumerate(marks) for m in opener.finditer(text))
    if not openers:
        return text
    closers = [[m.start() for m in closer.finditer(text)] for _, closer, _ in marks]
    breaks = [m.start() for m in re.finditer("\n", text)]
    out: list[str] = []
    done = 0
    for at, n in openers:
        if at < done:  # inside a span already closed (an opener also found as a closer)
            continue
        line_end = breaks[k] if (k := bisect_left(breaks, at)) < len(breaks) else len(text)
        found = closers[n]
        c = bisect_left(found, at + marks[n][2])
        if c < len(found) and found[c] + width <= line_end:
            out += [text[done:at], text[at + width:found[c]]]
            done = found[c] + width
    return "".join(out) + text[done:]


def without_emphasis(text: str) -> str:
    """``text`` without bold, then italic, marks (code spans are the caller's to set aside)."""
    return _pass(_pass(text, _BOLD), _ITALIC)
