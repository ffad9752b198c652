"""Split an article into passages: the retrieval units whose best one an answer quotes.

Each section (see ``core.html.TextSection``) is split on its own, so a passage never spans two sections:
paragraphs (blank-line separated) are packed together up to ``max_words``; a longer paragraph is cut
between its lines (a list, a table), else on sentence ends, else on words. A table cut over several passages
repeats its first row (its header: ``Plan | Price``) at the top of each later one, so every row is read under
its column names. Every passage of a section carries the section's heading path and id.
"""

from __future__ import annotations

import re
from typing import Iterable

from core.html import TextSection
from core.kb import KBPassage

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_TABLE_ROW = re.compile(r"^\s*\||\S \| \S")  # "| a | b |" (Markdown) or "a | b" (the HTML converter's rows)
MAX_WORDS = 120


def _pack(pieces: list[str], max_words: int, joiner: str, headers: list[str | None] | None = None) -> list[str]:
    """Pack ``pieces`` in order into chunks of at most ``max_words``; a chunk that starts at a piece with a
    header (``headers``, one per piece: the table row it continues under) starts with that header."""
    chunks: list[str] = []
    current: list[str] = []
    count = 0
    for piece, header in zip(pieces, headers or [None] * len(pieces)):
        words = len(piece.split())
        if current and count + words > max_words:
            chunks.append(joiner.join(current))
            current, count = [], 0
            if header is not None and len(header.split()) + words <= max_words:
                current, count = [header], len(header.split())
        current.append(piece)
        count += words
    if current:
        chunks.append(joiner.join(current))
    return chunks


def _headers(lines: list[str]) -> list[str | None]:
    """Per line, the header of the table it continues (the first of a run of table rows), else ``None``."""
    headers: list[str | None] = []
    for i, line in enumerate(lines):
        row, previous = bool(_TABLE_ROW.search(line)), i > 0 and bool(_TABLE_ROW.search(lines[i - 1]))
        headers.append((headers[-1] or lines[i - 1]) if row and previous else None)
    return headers


def _cut(paragraph: str, max_words: int) -> list[str]:
    """Cut one paragraph longer than ``max_words``: between lines (a table's header repeated), then
    sentences, then words."""
    lines = [line for line in paragraph.split("\n") if line.strip()]
    if len(lines) > 1:
        return [c for chunk in _pack(lines, max_words, "\n", _headers(lines)) for c in
                (_cut(chunk, max_words) if len(chunk.split()) > max_words else [chunk])]
    pieces: list[str] = []
    for sentence in _SENTENCE_END.split(" ".join(paragraph.split())):
        words = sentence.split()  # one enormous sentence is cut on words (each word copied once)
        pieces += [" ".join(words[at:at + max_words]) for at in range(0, len(words), max_words)]
    return _pack(pieces, max_words, " ")


def split_passages(text: str, *, max_words: int = MAX_WORDS) -> tuple[str, ...]:
    """Return the passages of one section's plain text.

    Args:
        text: plain text, paragraphs separated by blank lines.
        max_words: the largest passage, in words.

    Returns:
        The passages in order; empty for an empty text.
    """
    pieces: list[str] = []
    for paragraph in re.split(r"\n\s*\n", text.replace("\r\n", "\n")):
        if paragraph.strip():
            stripped = paragraph.strip("\n")
            pieces.extend(_cut(stripped, max_words) if len(stripped.split()) > max_words else [stripped])
    return tuple(_pack(pieces, max_words, "\n\n"))


def section_passages(sections: Iterable[TextSection], *, title: str = "",
                     max_words: int = MAX_WORDS) -> tuple[KBPassage, ...]:
    """Return the passages of an article's sections, each with its section's heading path and id.

    Args:
        sections: the article's sections in order.
        title: the article's title: a heading path that starts with it drops it (the title is not repeated).
        max_words: the largest passage, in words.

    Returns:
        The passages in order; sections without text give none.
    """
    passages: list[KBPassage] = []
    for section in sections:
        path = section.heading_path
        if title and path and _same(path[0], title):
            path = path[1:]
        passages.extend(KBPassage(text, path, section.section_id) for text in split_passages(section.text, max_words=max_words))
    return tuple(passages)


def _same(a: str, b: str) -> bool:
    return " ".join(a.lower().split()) == " ".join(b.lower().split())
