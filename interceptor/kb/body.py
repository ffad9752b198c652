"""The sections of an article body that comes as one text, whatever it is written in: a bench pack's v1 ``body``.

HTML (a help centre's page body) is read by the HTML converter, Markdown with headings by the Markdown reader,
and anything else as plain text, whose headings are found by their look: a short first line of a paragraph,
with no sentence punctuation, that text follows ("How do I access my policy?" then its answer, on the next
line or after a blank one). Help pages copied as text keep their headings that way; without them the whole
page would be one section, and the answer would quote whichever paragraph matched best, under no heading.
"""

from __future__ import annotations

import re
from typing import Iterable

from core.html import TextSection, parse_html
from interceptor.kb.markdown import atx_headings, inline_footnotes, inline_references, markdown_sections

_HTML = re.compile(r"<(?:p|div|h[1-6]|br|ul|ol|li|table|section|article)\b[^>]*>", re.I)
_MARKDOWN_HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+\S", re.M)
_LIST_ITEM = re.compile(r"^(?:[-*+\u2022]|\d{1,9}[.)])\s")
_SENTENCE_INSIDE = re.compile(r"[.!?;]\s")
MAX_HEADING_WORDS = 14
MAX_HEADING_CHARS = 100


def body_sections(body: str) -> tuple[TextSection, ...]:
    """Return the sections of ``body``: HTML, Markdown with ``#`` (or underlined) headings, or plain text."""
    if _HTML.search(body):
        return parse_html(body).sections
    markdown = atx_headings(body)
    if _MARKDOWN_HEADING.search(markdown):
        return markdown_sections(inline_footnotes(inline_references(markdown)))
    return plain_sections(body)


def heading_like(line: str) -> bool:
    """Whether a paragraph's first line reads as a heading: 1 to 14 words, starting with a capital or a digit,
    not a list item nor a table row, with no sentence end inside and none (but a "?") at its end."""
    s = line.strip()
    return (0 < len(s.split()) <= MAX_HEADING_WORDS and len(s) <= MAX_HEADING_CHARS and (s[0].isupper() or s[0].isdigit())
            and not _LIST_ITEM.match(s) and "|" not in s and not _SENTENCE_INSIDE.search(s)
            and s[-1] not in ".,;:!")


def plain_sections(text: str) -> tuple[TextSection, ...]:
    """Split plain ``text`` at the paragraphs' first lines that read as headings (:func:`heading_like`) and
    are followed by text; a heading with no text of its own leads the headings after it (:func:`nest`)."""
    flat: list[tuple[str, list[str]]] = [("", [])]
    for block in re.split(r"\n[ \t]*\n", text.replace("\r\n", "\n").strip()):
        lines = [line for line in block.split("\n") if line.strip()]
        if not lines:
            continue
        if heading_like(lines[0]):
            flat.append((lines[0].strip(), ["\n".join(lines[1:])] if len(lines) > 1 else []))
        else:
            flat[-1][1].append("\n".join(lines))
    if flat[-1][0] and not flat[-1][1]:  # a last "heading" with nothing under it is text
        heading, _ = flat.pop()
        flat[-1][1].append(heading)
    return nest((heading, "\n\n".join(paragraphs), None) for heading, paragraphs in flat)


def nest(flat: Iterable[tuple[str, str, str | None]]) -> tuple[TextSection, ...]:
    """Return sections listed flat as ``(heading, text, id)`` with their heading paths: one without text is a
    heading over the sections that follow it (a page's title, a group's heading), until the next one without
    text after one with text; sections without text are left out."""
    out: list[TextSection] = []
    parents: list[str] = []
    after_text = False
    for heading, text, section_id in flat:
        heading, text = heading.strip(), text.strip()
        if not text:
            parents = ([] if after_text else parents) + ([heading] if heading else [])
            after_text = False
            continue
        after_text = True
        out.append(TextSection(tuple(parents) + ((heading,) if heading else ()), text, section_id))
    return tuple(out)
