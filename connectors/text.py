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


def tidy(text: str) -> str:
    """Collapse spaces inside lines and blank-line runs; strip the ends and invisible format characters
    (:func:`core.text.strip_invisible`: a right-to-left override would reverse what an agent reads).

    Args:
        text: any text.

    Returns:
        The text with at most one blank line between paragraphs.
    """
    text = strip_invisible(text).replace("\r\n", "\n")
    lines = [re.sub(r"[ \t\u00a0]+", " ", line).strip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


_ADF_BLOCKS = frozenset(
    "paragraph heading blockquote codeBlock panel rule table tableRow mediaSingle mediaGroup expand bulletList orderedList "
    "nestedExpand decisionList taskList".split()
)


def adf_to_text(node: Any) -> str:
    """Turn an Atlassian Document Format document (or any node of one) into plain text.

    Args:
        node: the ADF ``doc`` (a dict), a node, a list of nodes, or a string (returned tidied).

    Returns:
        Plain text; mentions become ``@name``, links ``label (url)``, list items ``- ``.
    """
    if node is None:
        return ""
    if isinstance(node, str):
        return tidy(node)
    parts: list[str] = []
    _adf_walk(node, parts)
    return tidy("".join(parts))


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
            _adf_item(child, f"{number}. " if kind == "orderedList" else "- ", parts)
            number += isinstance(child, dict) and child.get("type") == "listItem"
        parts.append("\n")
    elif kind == "listItem":
        _adf_item(node, "- ", parts)
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
    parts.append("\n" + marker + re.sub(r"\n+", "\n  ", tidy("".join(inner))))


def _date(timestamp: Any) -> str:
    """An ADF ``date`` node's day (its ``timestamp``: milliseconds since 1970, UTC, as text), ``YYYY-MM-DD``."""
    try:
        return datetime.fromtimestamp(int(str(timestamp)) / 1000, timezone.utc).date().isoformat()
    except (ValueError, OverflowError, OSError):
        return ""


# Each rule is linear in the text: a mark that never closes ("[[[[...", "{{{{...", "_a _a _a ...") once made the
# engine rescan the rest of the text from every later mark (seconds per 50 KB): see core.rules.keeping.
_WIKI_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\{(?:code|noformat)(?::[^}]*)?\}|(?P<keep>\{(?:code|noformat):[^}]*\Z)"), ""),
    (re.compile(r"\{(?:quote|panel(?::[^}]*)?|color(?::[^}]*)?)\}|(?P<keep>\{(?:panel|color):[^}]*\Z)"), ""),
    (re.compile(r"^h[1-6]\.\s*", re.M), ""),
    (re.compile(r"^bq\.\s*", re.M), ""),
    (re.compile(r"^(?:\s*[*#-]+\s+|(?P<keep>\s+))", re.M), "- "),
    (re.compile(r"\[~accountid:([^\]]+)\]|(?P<keep>\[~accountid:[^\]]*\Z)"), r"@\1"),
    (re.compile(r"\[~([^\]]+)\]|(?P<keep>\[~[^\]]*\Z)"), r"@\1"),
    (re.compile(r"\[([^|\]]+)\|([^\]]+)\]|(?P<keep>\[[^|\]]+\|[^\]]*\Z|\[[^|\]]*)"), r"\1 (\2)"),
    (re.compile(r"\[((?:https?|mailto):[^\]]+)\]|(?P<keep>\[(?:https?|mailto):[^\]]*\Z)"), r"\1"),
    (re.compile(r"!([^!\s|]+)(?:\|[^!]*)?!"), r"\1"),
    (re.compile(r"(?<![\w*])\*(\S(?:[^*\n]*\S)?)\*(?![\w*])"), r"\1"),
    (re.compile(r"(?<!\w)_(\S(?:[^\n]*?\S)?)_(?!\w)|(?P<keep>(?<!\w)_(?=\S)[^\n]*)"), r"\1"),
    (re.compile(r"\{\{([^}]*)\}\}|(?P<keep>\{\{[^}]*)"), r"\1"),
    (re.compile(r"(?<![\w+])\+(\S(?:[^+\n]*\S)?)\+(?![\w+])"), r"\1"),
    (re.compile(r"(?<![\w^])\^(\S(?:[^\^\n]*\S)?)\^(?![\w^])"), r"\1"),
    (re.compile(r"\|\|?"), " | "),
    (re.compile(r"\\\\"), "\n"),
)


def wiki_to_text(markup: str | None) -> str:
    """Turn Jira wiki markup into plain text.

    NOTE(jira): webhooks and REST v2 carry rich text as wiki markup, not ADF
    (https://jira.atlassian.com/secure/WikiRendererHelpAction.jspa?section=all).

    Args:
        markup: the wiki text (``None`` is treated as empty).

    Returns:
        Plain text: headings, bold/italic/underline marks, code and panel macros are removed, links become
        ``label (url)``, user mentions ``@id``, list bullets ``- ``.
    """
    if not markup:
        return ""
    text, kept = _code_blocks(unescape(markup).replace(_HELD, "").replace(_HELD_END, ""))
    for pattern, replacement in _WIKI_RULES:
        text = pattern.sub(keeping(pattern, replacement), text)
    return tidy(_HELD_AT.sub(lambda m: kept[int(m.group(1))], text))


_CODE_OPEN = re.compile(r"\{(code|noformat)(?::[^}\n]{0,200})?\}")  # bounded: a run of "{code:" stays linear
_HELD, _HELD_END = "\ue000", "\ue001"  # private use: stand for a code block while the rules run
_HELD_AT = re.compile(f"{_HELD}(\\d+){_HELD_END}")


def _code_blocks(text: str) -> tuple[str, list[str]]:
    """``text`` with each ``{code}``/``{noformat}`` block's content held out of the rules (an agent's
    ``rm ~/tmp/*_old_*`` or ``# a shell comment`` shows as written in Jira, and must read so), and the contents.
    NOTE(jira): a block ends at the next ``{code}`` (``{noformat}``); one never closed is left to the rules.
    Linear: each kind of block is looked for to the end at most once without being found."""
    kept: list[str] = []
    parts: list[str] = []
    start, unclosed = 0, set()
    for opening in _CODE_OPEN.finditer(text):
        kind = opening.group(1)
        if opening.start() < start or kind in unclosed:
            continue
        end = text.find("{" + kind + "}", opening.end())
        if end < 0:
            unclosed.add(kind)
            continue
        parts.append(text[start:opening.start()] + f"{_HELD}{len(kept)}{_HELD_END}")
        kept.append(text[opening.end():end])
        start = end + len(kind) + 2
    return "".join(parts) + text[start:], kept


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
