"""``HUB_SENSITIVE_TOPICS``: the topics the hub never answers automatically.

A value is comma-separated names (a list in the YAML file). The known topics are matched by phrase patterns
(``interceptor/guard.py``'s ``TOPIC_PATTERNS``; config sits below interceptor, so their names are repeated
here and a test holds the two equal); any other name is matched as a keyword. ``none`` means no sensitive
topics at all. An empty value is refused rather than taken as the default or as none: a guard that a
template's empty ``${HUB_SENSITIVE_TOPICS}`` switched off would answer refunds, so "none" must be said.
A name one typo away from a known topic (``refunds``, ``acount_access``) is refused too: as a keyword it would
silently match almost nothing of what the topic covers.
"""

from __future__ import annotations

import difflib
import re
from typing import Any, Mapping

from marshmallow import ValidationError, fields

KNOWN_TOPICS = ("refund", "account_access", "legal", "security_incident")
DEFAULT_SENSITIVE_TOPICS = KNOWN_TOPICS
NONE = "none"


def _known(name: str) -> str:
    """The name as the guard looks a known topic up (case, ``-`` and spaces do not matter)."""
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


class SensitiveTopics(fields.Field):
    """Comma-separated topic names (or a list), ``none`` for none, into a tuple of names (known ones spelled as
    :data:`KNOWN_TOPICS` spells them)."""

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> tuple[str, ...]:
        how = (f"the known topics are {', '.join(KNOWN_TOPICS)}, any other name is matched as a keyword, "
               f"and '{NONE}' means no sensitive topics")
        if isinstance(value, str):
            names = [part.strip() for part in value.split(",") if part.strip()]
            if not names:
                raise ValidationError(f"empty: write '{NONE}' for no sensitive topics, or leave it unset for the "
                                      f"default ({','.join(DEFAULT_SENSITIVE_TOPICS)})")
        elif isinstance(value, (list, tuple)) and all(isinstance(item, str) for item in value):
            names = [item.strip() for item in value if item.strip()]
            if not names:  # an empty YAML list says "none" as plainly as the word does
                return ()
        else:
            raise ValidationError(f"a comma-separated list of topic names: {how}")
        if [_known(n) for n in names] == [NONE]:
            return ()
        topics: list[str] = []
        for name in names:
            key = _known(name)
            if key == NONE:
                raise ValidationError(f"'{NONE}' means no sensitive topics: it is not listed with topics")
            if not re.search(r"\w", name):
                raise ValidationError(f"{name!r} is no topic name: {how}")
            if key not in KNOWN_TOPICS:
                close = difflib.get_close_matches(key, KNOWN_TOPICS, n=1, cutoff=0.9)
                if close:
                    raise ValidationError(f"{name!r} is not a known topic; did you mean {close[0]!r}? ({how})")
            topics.append(key if key in KNOWN_TOPICS else name)
        return tuple(dict.fromkeys(topics))
