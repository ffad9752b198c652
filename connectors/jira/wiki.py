"""Plain text into a Jira wiki-markup body that shows it as written. Pure.

NOTE(jira): REST v2 comment bodies, issue descriptions and a JSM request's ``description`` are wiki markup.
https://jira.atlassian.com/secure/WikiRendererHelpAction.jspa?section=all
When a construct forms follows Jira's renderer as Atlassian's own wiki-markup parser ports it
(``@atlaskit/editor-wikimarkup-transformer``, under ``parser/``); where the port and Jira's Java renderer may
differ, the hub escapes more (a needless escape shows the same), and says so below.

- **Anywhere.** ``{`` (a macro: ``{html}``, ``{color}``, ``{code}``) and ``[`` (a link ``[label|url]``, a mention
  ``[~accountid:...]``) are always escaped (``\\{``, ``\\[``). The text effects ``*strong*``, ``_emphasis_``,
  ``??citation??``, ``-deleted-``, ``+inserted+``, ``^superscript^`` and ``~subscript~`` are escaped only where Jira
  would render one (``tokenize/common-formatter.ts``): the opening symbol follows no letter or digit (nor any
  non-ASCII character but a no-break space) and is not followed by a space; the closing one, on the same line,
  follows a character that is not a space, is followed by no letter or digit, and leaves something between
  them. So ``5 * 3``, ``file_name_v2`` or ``2024-05-01`` stay as they are. A run of dashes is Jira's
  ``--``/``---`` (dashes), never a mark.
- **Images.** ``!a.png!``, ``!https://evil.example/pixel.png!`` or ``!a.png|thumbnail!`` embed an image (an agent's
  browser fetches it: a tracking pixel). ``tokenize/media.ts`` reads ``!`` with the text effects' rule; the hub
  escapes more: an opening ``!`` not followed by a space or another ``!`` whose line has a later ``!``, whatever
  precedes it (Jira's Java renderer is not ported there). A lone ``!`` ("Thanks!") is left alone.
- **At a line's start** (after spaces and tabs, ``parser/text.ts``; ``tokenize/keyword.ts`` lists them):
  ``h1.``..``h6.`` (heading), ``bq.`` (quote), ``----`` (rule), ``*``/``#``/``-`` bullets before a space
  (lists), ``|``/``||`` (table). The symbols are escaped (every dash of a rule: ``\\-\\-\\-\\-``; the first
  symbol of a bullet run); a letter cannot be, so a word joiner (U+2060, invisible, removed again by
  ``core.text.strip_invisible`` when the hub reads Jira) goes between ``h1``/``bq`` and the dot. Older ports
  ask for a space after the dot, or allow any mix of ``*-#``; the hub escapes every such line start.
- **Backslashes.** ``\\X`` shows ``X`` for ``- # * _ + ? ^ ~ | % { } [ ] ( ) ! @`` and ``\\\\`` is a line
  break; a backslash after another one escapes nothing (``parser/text.ts``, after Jira's
  ``BackslashEscapeRendererComponent``). So a backslash of the text's own before a backslash or one of those
  symbols is followed by a word joiner: it shows as written, and the hub's own escape after it still holds.
- **URLs** are left as they are, for Jira to link: ``split_urls`` cuts them where Jira's own URL ends
  (``tokenize/link-text.ts``: ASCII letters, digits and ``_?!~^/\\#$%&'()*+,-.:;<=@``; never ``[ ] { } |``), so
  ``https://ok.example/[Reset|https://phish.example]`` cannot hide a link after the URL. Jira's URL takes a
  backslash in (``http``, ``ftp``, ``irc`` or ``mailto:`` starts one), so where an escape would follow it
  directly (``ftp://x/[...``) a word joiner ends the URL first.
"""

from __future__ import annotations

import bisect
import functools
import re

from connectors.text import split_urls

_MARKS = ("??", "*", "_", "-", "+", "^", "~")
JOINER = "\u2060"  # WORD JOINER: invisible, not whitespace to any parser, not part of a URL
_ESCAPABLE = frozenset("-#*_+?^~|%{}[]()!@")
_URL_CHARS = r"[A-Za-z0-9_?!~^/\\#$%&'()*+,\-.:;<=@]"
_URL = re.compile(rf"https?://{_URL_CHARS}+")  # what the hub leaves for Jira to link
_LINK_RUN = re.compile(rf"(?:(?:https?|ftps?|irc)://|mailto:){_URL_CHARS}*", re.IGNORECASE)  # what Jira reads as one
_WORD_MARK = re.compile(r"(?:h[1-6]|bq)(?=\.)", re.IGNORECASE)
_RULE = re.compile(r"-{4,}")
_RUN = re.compile(r"-*")
_BULLETS = re.compile(r"[*#-]+(?=\s)")


def _word(char: str) -> bool:
    """A character that keeps a mark's symbol next to it from opening or closing it."""
    return (char.isascii() and char.isalnum()) or (not char.isascii() and char != "\u00a0")


def _forms_mark(text: str, at: int, mark: str) -> bool:
    """Whether the ``mark`` at ``text[at]`` opens a text effect Jira renders."""
    start = at + len(mark)
    if (at and _word(text[at - 1])) or start >= len(text) or text[start].isspace() or text.startswith(mark, start):
        return False  # ... the last: nothing between the two
    end = text.find("\n", start)
    closers = _closers(text, mark)
    n = bisect.bisect_right(closers, start)
    return n < len(closers) and closers[n] < (len(text) if end < 0 else end) and not text[closers[n] - 1].isspace()


@functools.lru_cache(maxsize=16)
def _closers(text: str, mark: str) -> list[int]:
    """Where ``mark`` may close a text effect in ``text`` (followed by no letter or digit), in order: found once
    per text, so that a line of ten thousand marks that never close is escaped in linear time, not squared."""
    out, k = [], text.find(mark)
    while k >= 0:
        if not (k + len(mark) < len(text) and _word(text[k + len(mark)])):
            out.append(k)
        k = text.find(mark, k + 1)
    return out


def _forms_image(text: str, at: int) -> bool:
    """Whether the ``!`` at ``text[at]`` may open an image: something but a space or ``!`` follows it, and a later
    ``!`` on its line closes it (see the module docstring)."""
    start = at + 1
    if start >= len(text) or text[start].isspace() or text[start] == "!":
        return False
    end = text.find("\n", start)
    return text.find("!", start + 1, len(text) if end < 0 else end) >= 0


def wiki_plain(text: str) -> str:
    """Return plain ``text`` as a wiki-markup body that shows it as written (see the module docstring).

    Args:
        text: plain text (an answer, an agents' draft, the description of an issue the hub opens).

    Returns:
        The text with ``{`` and ``[`` escaped, the opening symbol of each text effect or image Jira would
        render, and the marks Jira reads at a line's start; its URLs untouched.
    """
    link_ends = {m.end() for m in _LINK_RUN.finditer(text)}
    out: list[str] = []
    at = 0
    for n, part in enumerate(split_urls(text, _URL)):
        out.append(part if n % 2 else _escaped(text, at, at + len(part), link_ends))  # odd parts are URLs
        at += len(part)
    return "".join(out)


def _line_start(text: str, at: int) -> tuple[str, int] | None:
    """The mark Jira reads at the start of a line at ``text[at]``: its escaped form and its length, or ``None``."""
    rule = _RULE.match(text, at)
    if rule:
        return "\\-" * len(rule.group(0)), len(rule.group(0))
    if _BULLETS.match(text, at) or text[at] == "|":
        return "\\" + text[at], 1
    word = _WORD_MARK.match(text, at)
    return (word.group(0) + JOINER, len(word.group(0))) if word else None


def _escaped(text: str, at: int, end: int, link_ends: set[int]) -> str:
    """``text[at:end]`` escaped; ``text`` whole, for the closing symbols beyond ``end``; ``link_ends``: where a
    URL as Jira reads it ends."""
    out: list[str] = []
    head = not text[text.rfind("\n", 0, at) + 1:at].strip(" \t")  # nothing but spaces since the line began
    while at < end:
        char = text[at]
        lead = _line_start(text, at) if head and char not in " \t\r\n" else None
        head = char in " \t\r\n" and (head or char in "\r\n")
        dashes = _RUN.match(text, at, end).end() - at if char == "-" else 0  # type: ignore[union-attr]
        mark = next((m for m in _MARKS if text.startswith(m, at)), None)
        if lead is not None:
            piece, used = lead
        elif char == "\\":  # a backslash of the text's own: never an escape, nor half a line break
            follows = text[at + 1:at + 2]
            piece, used = "\\" + (JOINER if follows and (follows == "\\" or follows in _ESCAPABLE) else ""), 1
        elif char in "{[":
            piece, used = "\\" + char, 1
        elif char == "!":
            piece, used = ("\\!" if _forms_image(text, at) else "!"), 1
        elif dashes > 1:  # Jira's en or em dash, or dashes as written: no mark
            piece, used = text[at:at + dashes], dashes
        elif mark is not None:
            piece, used = ("\\" if _forms_mark(text, at, mark) else "") + mark, len(mark)
        else:
            piece, used = char, 1
        if piece.startswith("\\") and at in link_ends:  # Jira's URL would take the backslash in
            piece = JOINER + piece
        out.append(piece)
        at += used
    return "".join(out)
