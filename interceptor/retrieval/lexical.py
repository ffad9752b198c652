"""BM25 over short retrieval units, with numpy postings (no dependency beyond numpy).

Scores are also reported normalised to [0, 1]: a unit's BM25 divided by the largest score any unit could
reach for that query (every query term present at saturation), so features are comparable across KBs.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache

import numpy as np

_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
# A hyphenated compound with a letter in it ("Wi-Fi", "e-mail", "sign-in", "W-2"): also one term written
# together, as people often write it ("wifi", "email", "signin", "w2"); dates and numbers are not joined.
_COMPOUND = re.compile(r"(?<![a-z0-9-])[a-z0-9]+(?:-[a-z0-9]+)+(?![a-z0-9-])")
_LETTER = re.compile(r"[a-z]")
_DOUBLED = re.compile(r"([b-df-hj-kmnp-rt-y])\1$")  # a doubled final consonant other than l, s, z
_STOP = frozenset(
    "a an and are as at be but by can do does for from has have how i i'm if in into is it it's its me my "
    "of on or our so that the their them then there these they this to was we what when where which who "
    "why will with you your yours am been did had he her him his she than too very would could should".split()
)


@lru_cache(maxsize=1 << 16)  # a KB's vocabulary is small and every unit, pseudo-request and query repeats it
def _stem(token: str) -> str:
    """A light suffix stripper, enough for help-desk English: plurals, -ing and -ed forms, a doubled final
    consonant ("mapping", "mapped" -> "map") and a final e ("file", "files" -> "fil"; "update", "updated",
    "updating" -> "updat"), so that every form of a word meets in one term."""
    if token.endswith("'s"):
        token = token[:-2]
    for suffix, keep in (("ies", "y"), ("sses", "ss"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
        if token.endswith(suffix) and len(token) - len(suffix) >= 3 and not token.endswith("ss"):
            token = token[: -len(suffix)] + keep
            if not keep and suffix in ("ing", "ed") and _DOUBLED.search(token) and len(token) >= 4:
                token = token[:-1]
            break
    if token.endswith("e") and len(token) >= 4 and not token.endswith("ee"):
        token = token[:-1]
    return token


def tokenize(text: str) -> list[str]:
    """Return the index terms of ``text``: lower-cased words without stop words, lightly stemmed; a
    hyphenated compound gives its parts and, first, the compound written together ("wi-fi": "wifi", "wi", "fi")."""
    lower, terms, at = text.lower(), [], 0
    for compound in _COMPOUND.finditer(lower):
        terms += _TOKEN.findall(lower, at, compound.start())
        if _LETTER.search(compound.group()):
            terms.append(compound.group().replace("-", ""))
        terms += _TOKEN.findall(compound.group())
        at = compound.end()
    terms += _TOKEN.findall(lower, at)
    return [_stem(t) for t in terms if t not in _STOP]


class BM25:
    """An Okapi BM25 index over a list of texts.

    Args:
        texts: the units to index, addressed by position.
        k1, b: the usual BM25 parameters.
    """

    def __init__(self, texts: list[str], *, k1: float = 1.2, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self.size = len(texts)
        docs = [Counter(tokenize(t)) for t in texts]
        lengths = np.array([sum(d.values()) for d in docs], dtype=np.float64)
        avg = float(lengths.mean()) if self.size and lengths.mean() > 0 else 1.0
        norm = k1 * (1 - b + b * lengths / avg)
        postings: dict[str, tuple[list[int], list[float]]] = {}
        for i, doc in enumerate(docs):
            for term, tf in doc.items():
                ids, tfs = postings.setdefault(term, ([], []))
                ids.append(i)
                tfs.append(tf)
        self._postings: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._idf: dict[str, float] = {}
        for term, (doc_ids, counts) in postings.items():
            idx = np.array(doc_ids, dtype=np.int64)
            freq = np.array(counts, dtype=np.float64)
            self._idf[term] = float(np.log(1 + (self.size - len(doc_ids) + 0.5) / (len(doc_ids) + 0.5)))
            self._postings[term] = (idx, freq * (k1 + 1) / (freq + norm[idx]))

    def vocabulary(self) -> dict[str, int]:
        """Return the index terms (stemmed, as :func:`tokenize` makes them) with the number of units holding
        each: the KB's own vocabulary, for spelling correction and coverage features (a new dict)."""
        return {term: len(posting[0]) for term, posting in self._postings.items()}

    def weights(self, query: str) -> dict[str, float]:
        """Return the query's terms with their idf (a term the index lacks gets the largest idf possible)."""
        unseen = float(np.log(1 + (self.size + 0.5) / 0.5))
        return {term: self._idf.get(term, unseen) for term in set(tokenize(query))}

    def scores(self, query: str) -> tuple[np.ndarray, float]:
        """Score every unit for ``query``.

        Returns:
            The BM25 score of each unit, and the largest score any unit could reach for this query
            (the normaliser; 0 when no query term is in the index).
        """
        out = np.zeros(self.size, dtype=np.float64)
        ceiling = 0.0
        for term in set(tokenize(query)):
            posting = self._postings.get(term)
            if posting is None:  # an unknown term still counts in the ceiling: the KB misses it
                ceiling += float(np.log(1 + (self.size + 0.5) / 0.5)) * (self.k1 + 1)
                continue
            idf = self._idf[term]
            out[posting[0]] += idf * posting[1]
            ceiling += idf * (self.k1 + 1)
        return out, ceiling


def quote_in_section(quote: str, section: str, share: float = 0.6) -> bool:
    """Return whether ``quote`` lies in ``section`` by the bench's answer-level rule: at least ``share`` of
    the quote's content words occur in the section, or ``share`` of the section's in the quote (content
    words: :func:`tokenize`, as sets)."""
    q, s = set(tokenize(quote)), set(tokenize(section))
    if not q or not s:
        return False
    shared = len(q & s)
    return shared >= share * len(q) or shared >= share * len(s)
