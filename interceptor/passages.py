"""Split an article body into passages: the retrieval units whose best one an answer quotes.

Paragraphs (blank-line separated) are packed together up to ``max_words``; a paragraph longer than that is
cut on sentence ends. A Markdown heading starts a new passage and is kept with the text under it.
"""

from __future__ import annotations

import re

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s")


def _sentences(paragraph: str, max_words: int) -> list[str]:
    chunks: list[str] = []
    current: list[str] = []
    for sentence in _SENTENCE_END.split(paragraph):
        words = sentence.split()
        if current and len(current) + len(words) > max_words:
            chunks.append(" ".join(current))
            current = []
        while len(words) > max_words:  # one enormous sentence: cut it on words
            chunks.append(" ".join(words[:max_words]))
            words = words[max_words:]
        current.extend(words)
    if current:
        chunks.append(" ".join(current))
    return chunks


def split_passages(body: str, *, max_words: int = 120) -> tuple[str, ...]:
    """Return the passages of ``body``.

    Args:
        body: plain text or Markdown.
        max_words: the largest passage, in words (a single paragraph longer than this is cut on sentences).

    Returns:
        The passages in order; empty for an empty body.
    """
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", body.replace("\r\n", "\n")) if p.strip()]
    passages: list[str] = []
    current: list[str] = []
    count = 0
    for paragraph in paragraphs:
        words = len(paragraph.split())
        heading = bool(_HEADING.match(paragraph))
        if current and (heading or count + words > max_words):
            passages.append("\n\n".join(current))
            current, count = [], 0
        if words > max_words:
            pieces = _sentences(" ".join(paragraph.split()), max_words)
            passages.extend(pieces[:-1])
            paragraph, words = pieces[-1], len(pieces[-1].split())
        current.append(paragraph)
        count += words
    if current:
        passages.append("\n\n".join(current))
    return tuple(passages)
