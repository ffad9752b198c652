"""Characters that change how text reads without being seen: format characters a request can carry by accident
(a zero-width space pasted from a web page, a soft hyphen) or by design (a right-to-left override that makes
an agent read "drowssap" as "password", the "Trojan source" trick).

:func:`strip_invisible` removes them from what the hub shows people (every vendor's text passes through
``connectors.text.tidy``); :func:`strip_for_matching` also removes the joiners, which only shape how letters
render, from what retrieval reads ("pass\u200dword" is "password").
"""

from __future__ import annotations

import re

# Soft hyphen, zero-width space, left-to-right and right-to-left marks, the bidirectional embeddings,
# overrides and isolates, the word joiner and invisible operators, and the byte-order mark.
_INVISIBLE = "\u00ad\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff"
_SHOWN = re.compile(f"[{_INVISIBLE}]")
_MATCHED = re.compile(f"[{_INVISIBLE}\u200c\u200d]")  # and the zero-width (non-)joiners


def strip_invisible(text: str) -> str:
    """Return ``text`` without invisible format characters (the joiners, which emoji and some scripts need, stay)."""
    return _SHOWN.sub("", text)


def strip_for_matching(text: str) -> str:
    """Return ``text`` without any invisible format character, the joiners included: what retrieval reads."""
    return _MATCHED.sub("", text)
