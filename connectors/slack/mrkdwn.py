"""Slack message text, as Slack delivers it, to plain text (the edges translate; the middle is plain data). Pure.

NOTE(slack): a received message's ``text`` has ``&``, ``<`` and ``>`` escaped as ``&amp;``, ``&lt;`` and ``&gt;``,
and its control sequences in angle brackets: user mentions ``<@U123>`` (older clients ``<@U123|name>``),
channels ``<#C123|general>``, ``<!here>``/``<!channel>``/``<!everyone>``, user groups ``<!subteam^S123|@team>``,
dates ``<!date^1392734382^{date}|fallback>``, links ``<https://example.com|label>`` and ``<mailto:a@b.c|a@b.c>``.
https://docs.slack.dev/messaging/formatting-message-text
"""

from __future__ import annotations

import re
from typing import Mapping

_CONTROL = re.compile(r"<([^<>\n]*)>")
_ENTITY = re.compile(r"&(amp|lt|gt);")
_CHARS = {"amp": "&", "lt": "<", "gt": ">"}


def mentioned(text: str) -> list[str]:
    """The user ids a Slack message's text mentions (``<@U123>``, ``<@U123|name>``), in order, once each."""
    return list(dict.fromkeys(m.group(1)[1:].partition("|")[0] for m in _CONTROL.finditer(text) if m.group(1).startswith("@")))


def to_text(text: str, names: Mapping[str, str] | None = None, drop: frozenset[str] = frozenset()) -> str:
    """Return a Slack message's text as a person reads it in Slack, as plain text.

    Args:
        text: the message's ``text`` field.
        names: display names of user ids, for their mentions (``@Ada Lovelace``; ``@U123`` when unknown).
        drop: user ids whose mentions are left out (the hub's own: "@hub how do I ..." asks "how do I ...").

    Returns:
        The text with mentions as ``@name``, channels as ``#name``, links as ``label (url)`` (the url alone
        when the label is the url), and ``&``, ``<``, ``>`` as themselves. Line breaks are kept.
    """
    known = names or {}

    def control(match: re.Match[str]) -> str:
        target, _, label = match.group(1).partition("|")
        if target.startswith("@"):
            user = target[1:]
            return "" if user in drop else "@" + (known.get(user) or label or user)
        if target.startswith("#"):
            return "#" + (label or target[1:])
        if target.startswith("!"):
            return label or "@" + target[1:].split("^", 1)[0]
        url = target[len("mailto:"):] if target.startswith("mailto:") else target
        return f"{label} ({url})" if label and label not in (target, url) and label not in url else url

    return _ENTITY.sub(lambda m: _CHARS[m.group(1)], _CONTROL.sub(control, text))
