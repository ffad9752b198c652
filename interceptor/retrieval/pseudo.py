"""Pseudo-requests: what a person asking about a part of an article might write, taken from the article.

Its title (answered by its opening section; see ``titles`` of :func:`pseudo_requests`), each section's
heading (answered by that section) and each passage's first sentence, cut short (answered by its section),
each in one of a few everyday wrappings. They train the second stage (:mod:`interceptor.retrieval.training`)
and calibrate a fresh install (:mod:`interceptor.retrieval.coldstart`): no labelled history needed, nothing
fitted on another KB.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

import numpy as np

from core.kb import KBArticle
from interceptor.retrieval.lexical import tokenize
from interceptor.retrieval.rerank import section_key

MAX_PSEUDO = 600  # pseudo-requests per use (second stage; calibration): bounded work on a large KB
MAX_WORDS = 14
FOLDS = 5
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
# People rarely type a heading as it stands: they wrap it in a greeting, a request for help, a question.
# A pseudo-request is its heading or title in one of these wrappings (chosen by a stable hash), so that its
# match is no stronger than a real request's would be: none is its title or heading word for word.
WRAPPINGS = ("Hi, I need help with {}.", "I have a question about {}", "Can you tell me about {}? Thanks",
             "hello, {} please", "{} - what do I do?")


@dataclass(frozen=True)
class Pseudo:
    """A pseudo-request: its text, the article (external id) and the passages (positions) that answer it."""

    text: str
    article: str
    passages: frozenset[int]


def fold(article: KBArticle) -> int:
    """Return the article's fold (0 to ``FOLDS`` - 1), by a stable hash of its external id."""
    return int(hashlib.sha1(article.external_id.encode("utf-8")).hexdigest()[:8], 16) % FOLDS


def wrap(text: str) -> str:
    """Return ``text`` in one of :data:`WRAPPINGS` (stable: the same text always gets the same one)."""
    core = text.strip().rstrip("?.!:")
    pick = int(hashlib.sha1(text.encode("utf-8")).hexdigest()[:8], 16) % len(WRAPPINGS)
    return WRAPPINGS[pick].format(core[:1].lower() + core[1:])


def vague(text: str) -> str:
    """Return ``text`` with one of its content words left out (chosen by a stable hash) when it has three
    or more, as a person who names a topic loosely would write it: calibration requests no more exact than
    real ones."""
    words = text.split()
    content = [i for i, w in enumerate(words) if tokenize(w)]
    pick = int(hashlib.sha1(text.encode("utf-8")).hexdigest()[:8], 16)
    if len(content) < 3 or pick % 2:  # half of them name it as it stands
        return text
    dropped = content[(pick // 2) % len(content)]
    return " ".join(w for i, w in enumerate(words) if i != dropped)


def _short(text: str) -> str:
    first = _SENTENCE.split(" ".join(text.split()), maxsplit=1)[0]
    words = first.split()
    return " ".join(words[:MAX_WORDS]).rstrip(",;:")


def _usable(text: str, skip: frozenset[str]) -> bool:
    """Whether ``text`` makes a pseudo-request: two content words or more, and not one of ``skip``."""
    return len(tokenize(text)) >= 2 and " ".join(text.lower().split()) not in skip


def shared_headings(articles: list[KBArticle]) -> frozenset[str]:
    """Return the headings and titles (case and spacing folded) found in more than one article: a request
    made of one ("Sync errors") is ambiguous, not an example of either article."""
    seen: dict[str, set[str]] = {}
    for a in articles:
        for text in [a.title, *(h for p in a.passages for h in p.heading_path)]:
            seen.setdefault(" ".join(text.lower().split()), set()).add(a.external_id)
    return frozenset(t for t, owners in seen.items() if len(owners) > 1)


def pseudo_requests(articles: list[KBArticle], limit: int = MAX_PSEUDO, *, sentences: bool = True,
                    skip: frozenset[str] = frozenset(), loose: bool = False, titles: bool = True) -> list[Pseudo]:
    """Return up to ``limit`` pseudo-requests for ``articles`` (a deterministic sample, spread over them).

    Args:
        articles: articles with passages (articles without any give none).
        limit: how many at most.
        sentences: also make pseudo-requests of passages' first sentences.
        skip: texts (case and spacing folded) not to use (see :func:`shared_headings`).
        loose: leave some words of each out (:func:`vague`).
        titles: also make one of the title of an article of several sections. A title names the whole
            article, so which of its sections answers it is a guess (the opening one); an article of one
            section always gives its title.

    Returns:
        Pseudo-requests with at least two content words each.
    """
    out: list[Pseudo] = []
    for a in articles:
        if not a.passages:
            continue
        keys = [section_key(a, j) for j in range(len(a.passages))]
        members = {k: frozenset(j for j, kk in enumerate(keys) if kk == k) for k in keys}
        candidates = []
        seen = set()
        for j, p in enumerate(a.passages):
            if p.heading_path and keys[j] not in seen:
                seen.add(keys[j])
                candidates.append((p.heading_path[-1], members[keys[j]]))
            if sentences:
                candidates.append((_short(p.text), members[keys[j]]))
        usable = [(t, m) for t, m in candidates if _usable(t, skip)]
        if (titles or len(members) == 1) and _usable(a.title, skip):
            usable.insert(0, (a.title, members[keys[0]]))
        out.extend(Pseudo(wrap(vague(t) if loose else t), a.external_id, m) for t, m in usable)
    if len(out) > limit:
        keep = np.random.default_rng(0).choice(len(out), size=limit, replace=False)
        out = [out[i] for i in sorted(keep)]
    return out
