"""What in a request the knowledge base, or the passage an answer would quote, does not cover. Pure.

:func:`excluded_terms` finds what a request sets aside ("instead of Google"); :func:`coverage_features` is a
feature set for the scorer (terms the KB never uses, terms the passage lacks, an article about what the
request sets aside). ``decide`` uses the first to let "Outlook instead of Google" through rather than answer
it with the Google article.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

from interceptor.retrieval.lexical import tokenize

_I = re.IGNORECASE
# "instead of Google", "other than PayPal", "besides Slack": what the request sets aside (up to three words).
_EXCLUDED = re.compile(r"\b(?:instead of|rather than|other than|besides|apart from|except(?: for)?|not using|"
                       r"alternative to|without using)\s+(?:(?:my|the|a|an|our|your|using|with)\s+)?"
                       r"((?:[\w'-]+)(?:\s+[\w'-]+){0,2})", _I)


def excluded_terms(text: str) -> tuple[str, ...]:
    """Return the index terms of what ``text`` explicitly sets aside ("instead of Google" -> ``("googl",)``).

    An article about the thing the requester does not want ("Connect Google Calendar" for "Can I connect my
    Outlook calendar instead of Google?") does not answer the request, however similar its words.
    """
    terms: list[str] = []
    for match in _EXCLUDED.finditer(text):
        words = tokenize(match.group(1))
        terms.extend(words[:1])  # the head of the phrase: "Google" of "Google Calendar"
    return tuple(dict.fromkeys(terms))


def coverage_features(text: str, vocabulary: Mapping[str, int], passage: str = "", title: str = "") -> dict[str, float]:
    """What in the request the KB, or the quoted passage, does not cover. Pure; a feature set for scoring.

    Args:
        text: the request (as retrieval sees it: spelling corrected).
        vocabulary: the KB's index terms with their unit counts (``BM25.vocabulary()``).
        passage: the passage the answer would quote (with its heading path, if any).
        title: the passage's article title.

    Returns:
        ``oov_terms``: how many of the request's content terms the KB never uses ("outlook");
        ``oov_share``: their share of the request's terms; ``passage_miss_share``: the share of the
        request's KB-known terms that neither the passage nor the title holds, each weighted by its rarity
        in the KB (``log(1 + max_count / count)``: a rare term missing counts more than a common one);
        ``excluded_in_title``: 1 when the title names what the request sets aside ("instead of Google").
    """
    terms = list(dict.fromkeys(tokenize(text)))
    if not terms:
        return {"oov_terms": 0.0, "oov_share": 0.0, "passage_miss_share": 0.0, "excluded_in_title": 0.0}
    oov = [t for t in terms if t not in vocabulary]
    known = [t for t in terms if t in vocabulary]
    top = max(vocabulary.values(), default=1)
    weight = {t: math.log(1 + top / max(vocabulary[t], 1)) for t in known}
    held = set(tokenize(f"{title} {passage}"))
    total = sum(weight.values())
    missing = sum(w for t, w in weight.items() if t not in held)
    excluded = set(excluded_terms(text)) & set(tokenize(title))
    return {"oov_terms": float(len(oov)), "oov_share": len(oov) / len(terms),
            "passage_miss_share": missing / total if total else 0.0, "excluded_in_title": float(bool(excluded))}
