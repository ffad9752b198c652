"""Markdown to the plain text an answer quotes, and to sections.

Every channel renders plain text, so emphasis, heading and code marks are removed and links become
``text (url)`` (reference links too; a relative one resolved against the article's ``url``, else its text
alone; ``mailto:`` the address). An image in a line of text reads as its alt text; one alone on its line (a screenshot) is left
out. Inline HTML reads as a browser shows it (``<br>`` a line break, ``<img>`` its alt text, other tags and
comments dropped, so an ``<aside>`` callout as Notion exports it reads as the Markdown inside it; entities such
as ``&nbsp;`` decoded), except inside code; a paragraph that opens with a
block tag (``<table>``, ``<div>``, ``<details>``) is an HTML block and goes through the one HTML converter.
A hard-wrapped paragraph becomes one line (its line breaks would otherwise reach Slack mid-sentence); list
items, table rows, block quotes and hard breaks (two trailing spaces or ``\\``) keep their own lines, and
code (fenced or indented) is kept verbatim. Footnotes (``[^1]`` with a ``[^1]: text`` line anywhere) read
``[1]``, the note on a line ``[1] text`` after the paragraph, list or table that refers to it. Headings
``#``..``####`` (and one-line setext headings underlined with ``===`` or ``---``) open sections; deeper
headings stay in the text as lines of their own.
"""

from __future__ import annotations

import html
import re
from typing import Callable

from core.html import TextSection, html_to_text, link_target
from core.rules import keeping
from interceptor.kb.emphasis import without_emphasis

SECTION_LEVELS = 4
_FENCE = re.compile(r"^\s{0,3}(```+|~~~+)")
# Each pattern reads a line once: a lazy ``(.*?)`` before ``\s*$``, or two ``\s*`` around an optional mark, once
# rescanned a run of spaces from each of its characters (minutes for a list nested a few thousand deep).
_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*)$")  # its closing #s: _heading_text
_TABLE_RULE = re.compile(r"^[ \t]*(?:\|[ \t]*)?:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)*(?:\|[ \t]*)?$")  # | --- | :-: |
_OWN_LINE = re.compile(r"^\s*(?:[-*+]\s|\d{1,9}[.)]\s|\||>|#{1,6}\s)")  # list item, table row, quote, heading
_BLOCKS = (
    (re.compile(r"^[ \t]{0,3}>(?:[ \t]{0,3}>)*[ \t]?", re.M), ""),  # block quotes, nested ones too (> > text)
    (re.compile(r"^(\s*)[*+]\s+", re.M), r"\1- "),  # bullets
    (re.compile(r"^\s*!\[[^\]]*\]\([^)]*\)\s*$", re.M), ""),  # an image alone on its line: a screenshot
    (re.compile(r"!\[([^\]]*)\]\([^)]*\)|(?P<keep>!\[[^\]]*\]\([^)]*\Z|!\[[^\]]*)"), r"\1"),  # in text: its alt
)
_LINK = re.compile(r"\[([^\]]+)\]\((\S+?)(?:\s+\"[^\"]*\")?\)"  # [text](url "title")
                   r"|(?P<keep>\[[^\]]*\]\([^)]*\Z|\[[^\]]*)")  # see _ANCHOR
_HTML_BLOCK = re.compile(r"^ {0,3}<(?:table|div|details|p|ul|ol|dl|h[1-6]|blockquote|pre|figure|section|center)\b",
                         re.I)  # CommonMark: a paragraph opening with a block tag is an HTML block
_CODE_SPAN = re.compile(r"(`[^`]+`)")
_HIDDEN = "script|style|iframe|noscript|template"  # what a browser does not show of inline HTML, nor of a block
_HIDDEN_BLOCK = re.compile(rf"^ {{0,3}}<(?:({_HIDDEN})(?=[\s>/]|$)|(!--))", re.I)  # a hidden block's first line
_CLOSINGS = ("-->", *(f"</{tag}" for tag in _HIDDEN.split("|")))
_HTML = (  # inline HTML, outside code spans, as a browser shows it (CommonMark passes it through)
    (re.compile(rf"<({_HIDDEN})\b[^<>]*>.*?</\1\s*>|(?P<keep><(?:{_HIDDEN})\b.*)", re.I | re.S), ""),
    (re.compile(r"<!--.*?-->|(?P<keep><!--.*)", re.S), ""),
    (re.compile(r"<((?:https?|mailto):[^\s<>]+)>"), r"\1"),  # autolinks
    (re.compile(r"<([^\s<>@]+@[^\s<>@]+\.[^\s<>@]+)>"), r"\1"),  # e-mail autolinks
    (re.compile(r"<br\s*/?>[ \t]*", re.I), "\n"),
    (re.compile(r"<img\b[^<>]*?\balt=\"([^\"]*)\"[^<>]*>", re.I), r"\1"),
    (re.compile(r"</?(?:p|div|details|summary|section|aside|table|thead|tbody|tr|td|th|ul|ol|li|dl|dt|dd|h[1-6]|hr|"
                r"blockquote|figure|figcaption|center)\b[^<>]*>[ \t]*", re.I), " "),
    (re.compile(r"</?(?:b|strong|i|em|u|s|del|ins|mark|small|sub|sup|kbd|span|font|abbr|cite|code|var|samp|q|a|img|"
                r"picture|source|video|audio|iframe)\b[^<>]*>", re.I), ""),
)
# An opening mark that never closes ("[" * 20000, "<!--" * 20000) made these scan the rest of the text from each
# mark again. Where one failed match proves that every mark up to some point fails too, an alternative named
# ``keep`` consumes that stretch unchanged (:func:`core.rules.keeping`): the same result, read once.
_ANCHOR = re.compile(r"<a\b[^<>]*?\bhref=\"([^\"]*)\"[^<>]*>(?:(.*?)</a>|(?P<keep>.*))", re.I | re.S)
_HARD_BREAK = re.compile(r"(?<![ \t])[ \t]*\\$", re.M)  # a hard break's backslash (from a run's first space: once each)
_KEPT = re.compile("\ue001(\\d+)\ue002")  # a code span set aside while emphasis marks are removed


_SETEXT = re.compile(r"^ {0,3}(=+|-+)\s*$")


def _heading_text(text: str) -> str:
    """A heading's text without its closing ``#``s (``## Limits ##``; ``# C#`` keeps its own)."""
    text = text.rstrip()
    bare = text.rstrip("#")
    return bare.rstrip() if bare != text and (not bare or bare[-1] in " \t") else text


def _atx(lines: list[str]) -> list[str]:
    """Rewrite setext headings (a one-line paragraph underlined with ``===`` or ``---``) as ``#``/``##``, and
    leave out, outside code, raw HTML a browser does not show: a ``<script>``, ``<style>``, ``<iframe>``,
    ``<noscript>`` or ``<template>`` block to the line that closes it, and a ``<!--`` comment to its ``-->``
    (CommonMark's HTML blocks of kinds 1 and 2, which blank lines do not end: ``# x`` in one is no heading)."""
    out: list[str] = []
    fence: str | None = None
    hidden: str | None = None  # the closing mark of the hidden block being left out
    last = {mark: i for i, line in enumerate(lines) for mark in _CLOSINGS if mark in line.lower()}  # one never closed
    for i, line in enumerate(lines):  # is left as written: a typo must not hide the rest of the article
        opened = _HIDDEN_BLOCK.match(line) if hidden is None and fence is None else None
        mark = ("-->" if opened.group(2) else f"</{opened.group(1).lower()}") if opened else ""
        if opened and mark not in line.lower() and last.get(mark, -1) > i:  # closed on its line: _HTML drops it
            hidden = mark
            continue
        if hidden is not None:
            at = line.lower().find(hidden)
            if at < 0:
                continue
            line, hidden = line[line.find(">", at) + 1:], None  # what follows the closing tag is shown
        match = _FENCE.match(line)
        if match:
            fence = None if fence is not None and match.group(1)[0] == fence[0] else fence or match.group(1)
        underline = _SETEXT.match(line) if fence is None else None
        if (underline and out and out[-1].strip() and not _OWN_LINE.match(out[-1]) and not _FENCE.match(out[-1])
                and (len(out) == 1 or not out[-2].strip())):
            out[-1] = ("# " if underline.group(1)[0] == "=" else "## ") + out[-1].strip()
            continue
        out.append(line)
    return out


def atx_headings(markdown: str) -> str:
    """Return ``markdown`` with its one-line setext headings rewritten as ``#``/``##`` headings."""
    return "\n".join(_atx(markdown.replace("\r\n", "\n").split("\n")))


_DEFINITION = re.compile(r"^ {0,3}\[([^\]^][^\]]*)\]:\s*<?(\S+?)>?(?:\s+(?:\"[^\"]*\"|'[^']*'|\([^)]*\)))?\s*$")
_REFERENCE = re.compile(r"\[([^\]]+)\](?:\[([^\]]*)\])?(?![(:])")  # [text][label], [text][], [label]


def _with_code(markdown: str) -> list[tuple[str, bool]]:
    """The lines of ``markdown``, each with whether it is fenced code (a fence line or inside one)."""
    lines, fence = [], None
    for line in markdown.replace("\r\n", "\n").split("\n"):
        match = _FENCE.match(line)
        if match:
            fence = None if fence is not None and match.group(1)[0] == fence[0] else fence or match.group(1)
        lines.append((line, fence is not None or bool(match)))
    return lines


def _outside_code_spans(line: str, replace: Callable[[str], str]) -> str:
    parts = _CODE_SPAN.split(line)
    return "".join(part if i % 2 else replace(part) for i, part in enumerate(parts))


def inline_references(markdown: str) -> str:
    """Return ``markdown`` with its reference links (``[text][label]`` and a ``[label]: url`` line, anywhere
    in the document) written inline as ``[text](url)``, and the definition lines removed; code untouched."""
    lines, defined = [], {}
    for line, code in _with_code(markdown):
        definition = _DEFINITION.match(line) if not code else None
        if definition:
            defined[" ".join(definition.group(1).lower().split())] = definition.group(2)
        else:
            lines.append((line, code))
    if not defined:
        return markdown

    def inline(m: re.Match[str]) -> str:
        url = defined.get(" ".join((m.group(2) or m.group(1)).lower().split()))
        return f"[{m.group(1)}]({url})" if url else m.group(0)

    return "\n".join(line if code else _outside_code_spans(line, lambda part: _REFERENCE.sub(inline, part))
                     for line, code in lines)


_NOTE = re.compile(r"^ {0,3}\[\^([^\]\s]+)\]:[ \t]*(.*)$")  # [^1]: a footnote's text
_NOTE_REF = re.compile(r"\[\^([^\]\s]+)\]")  # [^1]


def inline_footnotes(markdown: str) -> str:
    """Return ``markdown`` with its footnotes as a reader of one passage needs them: a reference ``[^label]``
    reads ``[1]`` (numbered in the order first referred to) and its note, a line ``[1] text``, follows the
    paragraph, list or table that refers to it (once per section; a heading's note goes under the heading).
    The definitions (``[^label]: text`` anywhere, with their indented or lazy continuation lines) are
    removed; a note nothing refers to is dropped, a reference to no note left as written; code untouched."""
    notes: dict[str, list[str]] = {}
    lines: list[tuple[str, bool]] = []
    current, gap = None, False  # the note being read, and whether a blank line ended its last paragraph
    for line, code in _with_code(markdown):
        definition = _NOTE.match(line) if not code else None
        if definition:
            current, gap = definition.group(1), False
            notes[current] = [definition.group(2).strip()]
            continue
        if current is not None and not code and line.strip() and (
                re.match(r"^(?: {2,}|\t)", line) or not (gap or _OWN_LINE.match(line))):
            notes[current].append(line.strip())  # an indented line, or a lazy one right after the note's text
            continue
        current, gap = (current, True) if not line.strip() and not code else (None, False)
        lines.append((line, code))
    if not notes:
        return markdown
    numbers: dict[str, int] = {}
    out: list[str] = []
    block: list[str] = []
    placed: set[str] = set()  # the notes already written in this section

    def number(m: re.Match[str], drop: bool = False) -> str:
        if m.group(1) not in notes:
            return m.group(0)
        n = numbers.setdefault(m.group(1), len(numbers) + 1)
        return "" if drop else f"[{n}]"

    def noted(text: str) -> list[str]:  # the notes ``text`` refers to that this section has not shown yet
        referred = _NOTE_REF.findall("".join(_CODE_SPAN.split(text)[::2]))  # outside code spans
        labels = [label for label in dict.fromkeys(referred) if label in notes and label not in placed]
        placed.update(labels)
        return [f"[{numbers[label]}] {' '.join(notes[label])}" for label in labels]

    def close() -> None:
        if block and not all(re.match(r"^( {4}|\t)", line) for line in block):  # indented code stays as it is
            marked = [_outside_code_spans(line, lambda part: _NOTE_REF.sub(number, part)) for line in block]
            out.extend(marked[:-1] + _hard_broken(marked[-1:] + noted("\n".join(block))))
        else:
            out.extend(block)
        block.clear()

    for line, code in lines:
        heading = _HEADING.match(line) if not code else None
        if heading and len(heading.group(1)) <= SECTION_LEVELS:  # a section's heading: its notes go under it
            close()
            placed.clear()
            out.append(_outside_code_spans(line, lambda part: _NOTE_REF.sub(lambda m: number(m, drop=True), part)))
            extra = noted(line)
            out.extend(["", *_hard_broken(extra), ""] if extra else [])
        elif code or not line.strip():
            close()
            out.append(line)
        else:
            block.append(line)
    close()
    return "\n".join(out)


def _hard_broken(lines: list[str]) -> list[str]:
    """``lines`` kept apart by hard breaks (two trailing spaces), so they are not joined as soft-wrapped."""
    return [line.rstrip() + "  " for line in lines[:-1]] + lines[-1:]


def _inline_html(text: str, base_url: str | None) -> str:
    """Inline HTML and entities as a browser shows them, and links as ``text (url)``; code spans untouched."""
    parts = _CODE_SPAN.split(text)
    for i in range(0, len(parts), 2):  # even parts are outside code spans
        part = _LINK.sub(lambda m: m.group(0) if m["keep"] is not None else _link(m[1], m[2], base_url), parts[i])
        part = _ANCHOR.sub(lambda m: m.group(0) if m["keep"] is not None else _link(m[2], m[1], base_url), part)
        for pattern, replacement in _HTML:
            part = pattern.sub(keeping(pattern, replacement), part)
        parts[i] = re.sub(r"(?<=\S)[ \t]{2,}", " ", html.unescape(part).replace("\u00a0", " "))
    return re.sub(r"(?m)^ (?=\S)", "", "".join(parts))


def _link(label: str, href: str, base_url: str | None) -> str:
    target = link_target(href, base_url)
    return f"{label} ({target})" if target and target != label else label


def _unwrap(paragraph: list[str], base_url: str | None = None) -> str:
    """Join a paragraph's soft-wrapped lines; lines that stand on their own stay on their own."""
    lines: list[str] = []
    previous = ""
    for raw in paragraph:
        if _TABLE_RULE.match(raw):
            continue
        line = raw.rstrip()
        hard_break = previous.endswith("  ") or previous.rstrip().endswith("\\")
        if lines and not _OWN_LINE.match(line) and not hard_break and not lines[-1].lstrip().startswith(("|", "#")):
            lines[-1] = f"{lines[-1]} {line.strip()}"
        else:
            lines.append(line)
        previous = raw
    text = "\n".join(_heading_text(m.group(2)) if (m := _HEADING.match(line)) else line for line in lines)
    for pattern, replacement in _BLOCKS:
        text = pattern.sub(keeping(pattern, replacement), text)
    text = _inline_html(text, base_url)
    text = _HARD_BREAK.sub("", _without_emphasis(text))
    return "\n".join(line.rstrip() for line in text.split("\n")).strip("\n")


def _without_emphasis(text: str) -> str:
    """``text`` without its bold and italic marks, and its code spans without their backticks: what is inside
    a code span (``*_backup_*.csv``) is kept as written, and emphasis around one still goes."""
    spans: list[str] = []

    def set_aside(match: re.Match[str]) -> str:
        spans.append(match.group(1)[1:-1])
        return f"\ue001{len(spans) - 1}\ue002"

    text = without_emphasis(_CODE_SPAN.sub(set_aside, text))
    return _KEPT.sub(lambda m: spans[int(m.group(1))], text)


def markdown_to_text(markdown: str, base_url: str | None = None) -> str:
    """Return the plain text of ``markdown`` (see the module docstring).

    Args:
        markdown: a Markdown document or part of one.
        base_url: the article's address (front matter ``url``): relative links resolve against it; without
            it a relative link is left as its text.

    Returns:
        Paragraphs (one line each, or one line per item) separated by a blank line; code verbatim.
    """
    blocks: list[str] = []
    paragraph: list[str] = []
    fence: str | None = None
    code: list[str] = []

    def close() -> None:
        if paragraph:
            if _HTML_BLOCK.match(paragraph[0]):  # raw HTML (a table, a callout <div>): the one HTML converter
                blocks.append(html_to_text("\n".join(paragraph), base_url))
            elif all(re.match(r"^( {4}|\t)", line) for line in paragraph) and not _listy(blocks):
                blocks.append("\n".join(line[4:] if line.startswith("    ") else line[1:] for line in paragraph))
            else:
                blocks.append(_unwrap(paragraph, base_url))
            paragraph.clear()

    for line in _atx(markdown.replace("\r\n", "\n").split("\n")):
        match = _FENCE.match(line)
        if fence is not None:
            if match and match.group(1)[0] == fence[0] and len(match.group(1)) >= len(fence):
                blocks.append("\n".join(code))
                fence, code = None, []
            else:
                code.append(line.rstrip())
        elif match:
            close()
            fence = match.group(1)
        elif not line.strip():
            close()
        else:
            paragraph.append(line)
    close()
    if fence is not None and code:  # an unclosed fence: keep what it holds
        blocks.append("\n".join(code))
    return "\n\n".join(b.strip("\n") for b in blocks if b.strip())


def _listy(blocks: list[str]) -> bool:
    """Whether the last block is a list (an indented paragraph after it continues an item, it is not code)."""
    return bool(blocks) and bool(re.match(r"^\s*(?:- |\d{1,9}[.)] )", blocks[-1].split("\n")[-1]))


def markdown_sections(markdown: str, base_url: str | None = None) -> tuple[TextSection, ...]:
    """Split ``markdown`` at its headings ``#``..``####`` (outside code) into plain-text sections.

    Args:
        markdown: the article body (front matter and title heading already removed).
        base_url: as for :func:`markdown_to_text`.

    Returns:
        The sections in order, each with the chain of enclosing headings; text before the first heading
        has the path ``()``; sections with no text are left out.
    """
    sections: list[TextSection] = []
    path: list[tuple[int, str]] = []
    lines: list[str] = []
    fence: str | None = None

    def close() -> None:
        text = markdown_to_text("\n".join(lines), base_url)
        if text:
            sections.append(TextSection(tuple(h for _, h in path), text))
        lines.clear()

    for line in _atx(markdown.replace("\r\n", "\n").split("\n")):
        match = _FENCE.match(line)
        if match and fence is None:
            fence = match.group(1)
        elif match and fence is not None and match.group(1)[0] == fence[0]:
            fence = None
        heading = _HEADING.match(line) if fence is None and not match else None
        if heading and len(heading.group(1)) <= SECTION_LEVELS:
            close()
            level = len(heading.group(1))
            title = markdown_to_text(_LINK.sub(keeping(_LINK, r"\1"), _heading_text(heading.group(2))))
            path = [p for p in path if p[0] < level] + [(level, title)]
        else:
            lines.append(line)
    close()
    return tuple(sections)
