"""Rich text to plain text, shared by the Zendesk and Jira connectors: HTML (Zendesk comments and Help
Center articles: the one converter in ``core.html``, re-exported here), Atlassian Document Format (Jira
REST v3) and Jira wiki markup (webhooks and REST v2).

Pure functions of their argument; the output keeps paragraphs and list items on their own lines, keeps link
targets (``label (url)``) and collapses runs of blank lines.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from html import unescape
from typing import Any, Callable, Iterable, Mapping

from core.html import html_to_text
from core.rules import keeping
from core.text import strip_invisible

__all__ = ["adf_to_text", "html_to_text", "split_urls", "tidy", "wiki_to_text", "with_sources"]


def tidy(text: str, *, indent: bool = False) -> str:
    """Collapse spaces inside lines and blank-line runs; strip the ends and invisible format characters
    (:func:`core.text.strip_invisible`: a right-to-left override would reverse what an agent reads).

    Args:
        text: any text.
        indent: keep each line's leading spaces (a nested list item's, a code block's).

    Returns:
        The text with at most one blank line between paragraphs.
    """
    text = strip_invisible(text).replace("\r\n", "\n")
    lines = [_tidy_line(line, indent) for line in text.split("\n")]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines))
    return text.lstrip("\n").rstrip() if indent else text.strip()


def _tidy_line(line: str, indent: bool) -> str:
    body = re.sub(r"[ \t\u00a0]+", " ", line).strip()
    if not indent or not body:
        return body
    lead = len(line) - len(line.lstrip(" \t\u00a0"))
    return line[:lead].replace("\u00a0", " ") + body


_ADF_BLOCKS = frozenset(
    "paragraph heading blockquote codeBlock panel rule table tableRow mediaSingle mediaGroup expand bulletList orderedList "
    "nestedExpand decisionList taskList".split()
)


INDENT = "  "  # a nested list's items, per level


def list_marker(number: int | None) -> str:
    """A list item's marker: ``3. `` for the third item of a numbered list, ``- `` for a bullet (``None``)."""
    return "- " if number is None else f"{number}. "


def adf_to_text(node: Any) -> str:
    """Turn an Atlassian Document Format document (or any node of one) into plain text.

    Args:
        node: the ADF ``doc`` (a dict), a node, a list of nodes, or a string (returned tidied).

    Returns:
        Plain text; mentions become ``@name``, links ``label (url)``, list items ``- `` (or ``1. ``), a nested
        list's two spaces further in per level.
    """
    if node is None:
        return ""
    if isinstance(node, str):
        return tidy(node)
    parts: list[str] = []
    _adf_walk(node, parts)
    return tidy("".join(parts), indent=True)


def _link(marks: Any) -> str | None:
    """The ``href`` of a text node's ``link`` mark (``None``: none, or one of another shape)."""
    for m in marks if isinstance(marks, list) else ():
        attrs = m.get("attrs") if isinstance(m, dict) and m.get("type") == "link" else None
        if isinstance(attrs, dict) and isinstance(attrs.get("href"), str):
            return str(attrs["href"])
    return None


def _adf_walk(node: Any, parts: list[str]) -> None:
    if isinstance(node, list):
        for child in node:
            _adf_walk(child, parts)
        return
    if not isinstance(node, dict):
        return
    kind, attrs = node.get("type"), node.get("attrs")
    attrs = attrs if isinstance(attrs, dict) else {}  # a mention whose attrs were a string failed the whole issue
    content = node.get("content", [])
    if kind == "text":
        raw = node.get("text")
        text = raw if isinstance(raw, str) else ""
        href = _link(node.get("marks"))
        parts.append(f"{text} ({href})" if href and href != text else text)
    elif kind == "hardBreak":
        parts.append("\n")
    elif kind == "mention":
        parts.append(str(attrs.get("text") or "@" + str(attrs.get("id", ""))))
    elif kind == "emoji":
        parts.append(str(attrs.get("text") or attrs.get("shortName", "")))
    elif kind in ("inlineCard", "blockCard"):
        parts.append(str(attrs.get("url", "")))
    elif kind == "status":
        parts.append(str(attrs.get("text", "")))
    elif kind == "date":
        parts.append(_date(attrs.get("timestamp")))
    elif kind in ("bulletList", "orderedList"):
        order = attrs.get("order")
        number = order if isinstance(order, int) and not isinstance(order, bool) and 0 <= order < 10**9 else 1
        for child in content if isinstance(content, list) else [content]:
            _adf_item(child, list_marker(number if kind == "orderedList" else None), parts)
            number += isinstance(child, dict) and child.get("type") == "listItem"
        parts.append("\n")
    elif kind == "listItem":
        _adf_item(node, list_marker(None), parts)
    elif kind == "tableRow":  # one line a row, as the table shows it: "Plan | Price"
        cells = []
        for cell in content if isinstance(content, list) else [content]:
            inner: list[str] = []
            _adf_walk(cell.get("content", []) if isinstance(cell, dict) else cell, inner)
            cells.append(" ".join(tidy("".join(inner)).split()))
        parts.append("\n" + " | ".join(cells))  # rows on consecutive lines; the table's block ends the last
    else:
        block = kind in _ADF_BLOCKS
        if block:
            parts.append("\n")
        if kind in ("expand", "nestedExpand") and isinstance(attrs.get("title"), str):
            parts.append(attrs["title"] + "\n")  # the line an agent clicks to open it
        _adf_walk(content, parts)
        if block:
            parts.append("\n")


def _adf_item(node: Any, marker: str, parts: list[str]) -> None:
    """One list item on its own line, after ``marker`` (``- `` or ``3. ``); its further lines indented."""
    if not isinstance(node, dict) or node.get("type") != "listItem":
        _adf_walk(node, parts)
        return
    inner: list[str] = []
    _adf_walk(node.get("content", []), inner)
    parts.append("\n" + marker + re.sub(r"\n+", "\n" + INDENT, tidy("".join(inner), indent=True)))  # a nested list keeps its indent


def _date(timestamp: Any) -> str:
    """An ADF ``date`` node's day (its ``timestamp``: milliseconds since 1970, UTC, as text), ``YYYY-MM-DD``."""
    try:
        return datetime.fromtimestamp(int(str(timestamp)) / 1000, timezone.utc).date().isoformat()
    except (ValueError, OverflowError, OSError):
        return ""


# Each rule is linear in the text: a mark that never closes ("[[[[...", "{{{{...", "_a _a _a ...") once made the
# engine rescan the rest of the text from every later mark (seconds per 50 KB): see core.rules.keeping.
# NOTE(jira): the notation is Jira's Text Formatting Notation Help
# (https://jira.atlassian.com/secure/WikiRendererHelpAction.jspa?section=all). The rules run outside {code} and
# {noformat} blocks only, whose text is kept as written (wiki_to_text).
_VERBATIM = re.compile(r"\{(code|noformat)(?::[^}]*)?\}|(?P<keep>\{(?:code|noformat):[^}]*\Z)")
# Emoticons as Jira draws them (its list: check, error, warning, help, information, thumbs up and down, light
# bulb, stars, flags); the "off" ones (a grey bulb, a grey flag) have no character that reads right, and go.
_EMOTICONS = {"(/)": "\u2713", "(x)": "\u2717", "(!)": "\u26a0", "(?)": "\u2753", "(i)": "\u2139",
              "(y)": "\U0001f44d", "(n)": "\U0001f44e", "(+)": "\u2795", "(-)": "\u26d4", "(on)": "\U0001f4a1",
              "(off)": "", "(*)": "\u2605", "(*r)": "\u2605", "(*g)": "\u2605", "(*b)": "\u2605", "(*y)": "\u2605",
              "(flag)": "\U0001f6a9", "(flagoff)": ""}
_EMOTICON = re.compile("|".join(re.escape(e) for e in sorted(_EMOTICONS, key=len, reverse=True)))


def _expand(m: re.Match[str]) -> str:
    """``{expand:Title}`` (or ``title=Title``) and its closing ``{expand}``: the title on its own line."""
    title = re.sub(r"^\s*title=", "", m.group(1) or "").strip()
    return f"\n{title}\n" if title else "\n"


def _status(m: re.Match[str]) -> str:
    """``{status:colour=Green|title=Done}`` (or ``{status:Done}``): the lozenge's text; ``{status}`` none."""
    params = [p.strip() for p in (m.group(1) or "").split("|")]
    titled = [p.partition("=")[2].strip() for p in params if p.lower().startswith("title=")]
    return (titled or [p for p in params if "=" not in p] or [""])[0]


def _row(m: re.Match[str]) -> str:
    """A table row (``||head||head||`` or ``|cell|cell|`` at a line's start): its cells, ``a | b``."""
    cells = re.split(r"\|\|?", m.group(0).strip())[1:]
    return " | ".join(c.strip() for c in (cells[:-1] if cells and not cells[-1].strip() else cells))


_WIKI_BLOCKS: tuple[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]], ...] = (  # before the lists
    (re.compile(r"\{(?:quote|panel(?::[^}]*)?|color(?::[^}]*)?)\}|(?P<keep>\{(?:panel|color):[^}]*\Z)"), ""),
    (re.compile(r"\{anchor(?::[^}]*)?\}|(?P<keep>\{anchor:[^}]*\Z)"), ""),
    (re.compile(r"\{expand(?::([^}]*))?\}|(?P<keep>\{expand:[^}]*\Z)"), _expand),
    (re.compile(r"\{status(?::([^}]*))?\}|(?P<keep>\{status:[^}]*\Z)"), _status),
    (re.compile(r"^h[1-6]\.\s*", re.M), ""),
    (re.compile(r"^bq\.\s*", re.M), ""),
    (re.compile(r"^[ \t]*-{4,}[ \t]*$", re.M), ""),  # a horizontal rule
)
_WIKI_INLINE: tuple[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]], ...] = (  # after the lists
    (re.compile(r"\[~accountid:([^\]]+)\]|(?P<keep>\[~accountid:[^\]]*\Z)"), r"@\1"),
    (re.compile(r"\[~([^\]]+)\]|(?P<keep>\[~[^\]]*\Z)"), r"@\1"),
    (re.compile(r"\[\^([^\]\n]+)\]|(?P<keep>\[\^[^\]\n]*)"), r"\1"),  # an attachment: its file name
    (re.compile(r"\[([^|\]]+)\|([^\]]+)\]|(?P<keep>\[[^|\]]+\|[^\]]*\Z|\[[^|\]]*)"), r"\1 (\2)"),
    (re.compile(r"\[((?:https?|mailto):[^\]]+)\]|(?P<keep>\[(?:https?|mailto):[^\]]*\Z)"), r"\1"),
    (re.compile(r"!([^!\s|]+)(?:\|[^!]*)?!"), r"\1"),
    (re.compile(r"(?<![\w*])\*(\S(?:[^*\n]*\S)?)\*(?![\w*])"), r"\1"),
    (re.compile(r"(?<!\w)_(\S(?:[^\n]*?\S)?)_(?!\w)|(?P<keep>(?<!\w)_(?=\S)[^\n]*)"), r"\1"),
    (re.compile(r"\{\{([^}]*)\}\}|(?P<keep>\{\{[^}]*)"), r"\1"),
    (re.compile(r"(?<![\w+])\+(\S(?:[^+\n]*\S)?)\+(?![\w+])"), r"\1"),
    (re.compile(r"(?<![\w^])\^(\S(?:[^\^\n]*\S)?)\^(?![\w^])"), r"\1"),
    (re.compile(r"^[ \t]*\|[^\n]*", re.M), _row),  # only a line that starts with one: "a|b" in a sentence stays
    (re.compile(r"\\\\"), "\n"),
)


def wiki_to_text(markup: str | None) -> str:
    """Turn Jira wiki markup into plain text.

    NOTE(jira): webhooks and REST v2 carry rich text as wiki markup, not ADF
    (https://jira.atlassian.com/secure/WikiRendererHelpAction.jspa?section=all).

    Args:
        markup: the wiki text (``None`` is treated as empty).

    Returns:
        Plain text: headings, bold/italic/underline marks, panel, anchor and ``----`` rule lines are removed; the
        text of ``{code}`` and ``{noformat}`` blocks is kept as written (marks, indentation); links become
        ``label (url)``, attachment links ``[^file.png]`` the file's name, user mentions ``@id``, list items
        ``- `` (``*``, ``-``) or ``1. `` (``#``: numbered as Jira numbers them), a nested one (``**``, ``##``, ``#*``)
        indented two spaces a level, as :func:`adf_to_text` writes them; table rows ``a | b``, an ``{expand:Title}`` its title on a line before its text, a
        ``{status:title=Done}`` its text, emoticons the character they show (``(/)`` ✓, ``(x)`` ✗,
        ``(!)`` ⚠, ...).
    """
    if not markup:
        return ""
    out: list[str] = []
    for verbatim, part in _wiki_parts(unescape(markup)):
        if not verbatim:
            # emoticons first: the rules write a link [label|target] as "label (target)", which is no emoticon
            urls = split_urls(part)  # an emoticon inside a URL is part of the address
            part = "".join(u if n % 2 else _EMOTICON.sub(lambda m: _EMOTICONS[m.group(0)], u) for n, u in enumerate(urls))
            for pattern, replacement in _WIKI_BLOCKS:
                part = pattern.sub(keeping(pattern, replacement), part)
            part = _wiki_lists(part)
            for pattern, replacement in _WIKI_INLINE:
                part = pattern.sub(keeping(pattern, replacement), part)
            part = re.sub(r"\n[ \t]+", "\n", part)  # an indent in markup shows as none; a code block keeps its own
            if not out or out[-1].endswith("\n"):
                part = part.lstrip(" \t")
        out.append(part)
    return tidy("".join(out), indent=True)


_LIST_ITEM = re.compile(r"[ \t]*([*#]+|-+)[ \t]+")
_KEPT_INDENT = "\u00a0"  # a no-break space: not an indent in markup that shows as none; tidy() makes it a space


def _wiki_lists(markup: str) -> str:
    """Each list item line of ``markup`` (``* a``, ``# a``, ``## a``, ``#* a``) with the marker a reader sees
    (:func:`list_marker`), indented by its level (:data:`INDENT`). A numbered item counts on from the last one
    of its level and kind; a line that is no list item (a blank one, text) ends the list, so the next numbers
    from 1 again. ``-`` (one or more) is a bullet of the first level, as Jira reads a dash."""
    counts: list[tuple[bool, int]] = []  # per level: numbered, items so far
    lines = markup.split("\n")
    for n, line in enumerate(lines):
        item = _LIST_ITEM.match(line)
        if item is None:
            counts.clear()
            continue
        marks = item.group(1) if item.group(1)[0] != "-" else "-"
        numbered, depth = marks[-1] == "#", len(marks)
        del counts[depth:]
        counts += [(marks[len(counts)] == "#", 0) for _ in range(depth - len(counts))]
        count = counts[-1][1] + 1 if counts[-1][0] == numbered else 1
        counts[-1] = (numbered, count)
        indent = INDENT.replace(" ", _KEPT_INDENT) * (depth - 1)
        lines[n] = indent + list_marker(count if numbered else None) + line[item.end():]
    return "\n".join(lines)


def _wiki_parts(text: str) -> list[tuple[bool, str]]:
    """``text`` cut into ``(verbatim, part)``: the text of each ``{code}``/``{noformat}`` block (``verbatim``)
    and the markup around them. A block that is never closed drops its tag and reads as markup (as before).
    Linear: a closing tag looked for and not found is not looked for again."""
    parts: list[tuple[bool, str]] = []
    at = pos = 0
    closes = {"code": True, "noformat": True}  # whether a closing tag may still come
    while (m := _VERBATIM.search(text, pos)) is not None and m.group("keep") is None:
        kind = m.group(1)
        end = text.find("{" + kind + "}", m.end()) if closes[kind] else -1
        parts.append((False, text[at:m.start()]))
        if end < 0:
            closes[kind] = False
            at = pos = m.end()
            continue
        parts.append((True, text[m.end():end]))
        at = pos = end + len(kind) + 2
    parts.append((False, text[at:]))
    return parts


def with_sources(text: str, citations: Iterable[Mapping[str, Any]], link: Callable[[str, str], str]) -> str:
    """Append a "Sources:" list of the cited articles that ``text`` does not link already.

    The "did this solve it?" line is the composer's (``interceptor/compose.py``), so every channel asks the
    same way; connectors only add links in their own markup.

    Args:
        text: the reply.
        citations: ``[{"title", "url"}]``.
        link: renders one ``(title, url)`` as a list item in the vendor's markup.
    """
    missing = [c for c in citations if c.get("url") and str(c["url"]) not in text]
    if not missing:
        return text.strip()
    items = "\n".join(link(str(c.get("title") or c["url"]), str(c["url"])) for c in missing)
    return f"{text.strip()}\n\nSources:\n{items}"


_URL = re.compile(r"https?://[^\s<>\"]+")


def split_urls(text: str, pattern: re.Pattern[str] = _URL) -> list[str]:
    """Cut plain text around its http(s) URLs, for a vendor's markup to link them and leave them unescaped.

    Args:
        text: plain text, URLs written out (``label (url)``, ``Source: ... - url``).
        pattern: what a URL is (by default anything up to a space, ``<``, ``>`` or ``"``); a vendor whose markup
            ends a URL earlier passes its own, so that what follows is escaped as text.

    Returns:
        ``[text, url, text, ..., text]``: the odd items are the URLs, without the punctuation that ends the
        sentence around them (``.``, ``,``, a ``)`` that closes no ``(`` of the URL's own).
    """
    parts, start = [], 0
    for match in pattern.finditer(text):
        url = match.group(0)
        end, unopened = len(url), url.count(")") - url.count("(")  # counted once: a run of ")" is read once
        while url[end - 1] in ".,;:!?'\"" or (url[end - 1] == ")" and unopened > 0):
            unopened -= url[end - 1] == ")"
            end -= 1
        url = url[:end]
        parts += [text[start:match.start()], url]
        start = match.start() + len(url)
    return parts + [text[start:]]
