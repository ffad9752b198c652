"""Spelling correction against the KB's own vocabulary (part of the prefilter stage).

A query word whose index term the KB does not hold is replaced by the nearest KB term (optimal string
alignment distance: one edit, a swap of two neighbouring letters counting as one, up to two edits for words
of eight letters or more), the most frequent one on a tie. Short words, stop words, words with digits and
words the KB knows are left alone. The vocabulary is :meth:`interceptor.retrieval.lexical.BM25.vocabulary`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Container, Mapping
from functools import lru_cache

from rapidfuzz import process
from rapidfuzz.distance import OSA

from interceptor.retrieval.lexical import _STOP, _stem, tokenize

MIN_LENGTH = 5  # shorter words have too many neighbours one edit away ("sent" is not a typo of "send")
LONG_WORD = 8  # from this length on, two edits are allowed
_WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?")
_SUFFIXES = ("ies", "ing", "ed", "es", "s", "e")
_CACHE_SIZE = 4096
log = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def english_words() -> Container[str] | None:
    """Return the English word list shipped by ``pyspellchecker`` (loaded once, about 160,000 words), or
    ``None`` when it is not installed (then every word the KB lacks may be corrected)."""
    try:
        from spellchecker import SpellChecker
    except ImportError:  # pragma: no cover - a core dependency; kept optional for slim installs
        log.warning("interceptor.spelling.no-word-list")
        return None
    return frozenset(SpellChecker(distance=1).word_frequency.dictionary)


class Speller:
    """Corrects words against a vocabulary of index terms.

    Args:
        vocabulary: index term -> how many retrieval units hold it (its frequency, the tie-breaker).
        lexicon: words that are spelled right even when the KB lacks them (:func:`english_words`);
            ``None``: none are.
    """

    def __init__(self, vocabulary: Mapping[str, int], lexicon: Container[str] | None = None) -> None:
        self.vocabulary = dict(vocabulary)
        self.lexicon = lexicon
        self._terms = [t for t in self.vocabulary if t.isalpha() and len(t) >= MIN_LENGTH - 1]
        self._cache: dict[str, str | None] = {}

    def known(self, word: str) -> bool:
        """Whether ``word``'s index term is in the vocabulary (stop words count as known)."""
        terms = tokenize(word)
        return not terms or all(t in self.vocabulary for t in terms)

    def unknown_terms(self, text: str) -> tuple[str, ...]:
        """Return the index terms of ``text`` the vocabulary lacks (after correction: words the KB never uses)."""
        return tuple(dict.fromkeys(t for t in tokenize(text) if t not in self.vocabulary))

    def correct_word(self, word: str) -> str | None:
        """Return the correction of ``word`` (lower case), or ``None`` when it stays as written.

        Args:
            word: one word as written.

        Returns:
            The nearest vocabulary term with the suffix the word was written with ("invoises" ->
            "invoices"), or ``None``: the word is known (to the KB or the lexicon), short, a stop word, or
            nothing is near enough.
        """
        lower = word.lower()
        if len(lower) < MIN_LENGTH or lower in _STOP or not lower.isalpha() or self.known(lower):
            return None
        if self.lexicon is not None and lower in self.lexicon:
            return None
        if lower in self._cache:
            return self._cache[lower]
        stem = _stem(lower)
        suffix = lower[len(stem):] if lower.startswith(stem) else ""
        limit = 2 if len(lower) >= LONG_WORD else 1
        found = process.extract(stem, self._terms, scorer=OSA.distance, score_cutoff=limit, limit=None)
        best = min(found, key=lambda hit: (hit[1], -self.vocabulary[hit[0]], hit[0]), default=None)
        fixed = None if best is None else best[0] + (suffix if suffix in _SUFFIXES else "")
        if len(self._cache) >= _CACHE_SIZE:
            self._cache.clear()
        self._cache[lower] = fixed
        return fixed

    def correct(self, text: str) -> tuple[str, tuple[tuple[str, str], ...]]:
        """Return ``text`` with its misspelled words corrected, and the corrections made.

        Args:
            text: a question.

        Returns:
            The corrected text (everything else as written) and ``(as written, corrected)`` pairs in order.
        """
        fixes: list[tuple[str, str]] = []

        def fix(match: re.Match[str]) -> str:
            word = match.group(0)
            fixed = self.correct_word(word)
            if fixed is None:
                return word
            fixes.append((word, fixed))
            return fixed

        return _WORD.sub(fix, text), tuple(fixes)
