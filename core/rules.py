"""Text rewriting rules that stay linear on marks that never close. Pure.

A rule such as ``\\[([^\\]]+)\\]`` scans the rest of the text from every ``[`` that is never closed: quadratic
in a run of ``[``. Where one failed match at a mark proves that every mark up to some point fails too, the
rule gets an alternative named ``keep`` that consumes that stretch, and :func:`keeping` leaves what it
consumed as written: the same result, each character read a bounded number of times.
"""

from __future__ import annotations

import re
from typing import Callable

_GROUP = re.compile(r"\\(\d)")


def keeping(pattern: re.Pattern[str],
            replacement: str | Callable[[re.Match[str]], str]) -> str | Callable[[re.Match[str]], str]:
    """The replacement to give ``pattern.sub``: ``replacement`` itself for a rule without a ``keep`` group;
    else a function that returns a ``keep`` match unchanged and, for any other, calls ``replacement`` when it
    is a function or expands it (``\\1``-style group references only; a group that did not take part is empty).
    """
    if "keep" not in pattern.groupindex:
        return replacement
    if callable(replacement):
        call = replacement
        return lambda m: m.group(0) if m.group("keep") is not None else call(m)
    pieces = _GROUP.split(replacement)  # literal, group number, literal, ...

    def replace(m: re.Match[str]) -> str:
        if m.group("keep") is not None:
            return m.group(0)
        return "".join(p if i % 2 == 0 else (m.group(int(p)) or "") for i, p in enumerate(pieces))

    return replace
