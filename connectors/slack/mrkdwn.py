"""Slack message text, as Slack delivers it, to plain text (the edges translate; the middle is plain data). Pure.

NOTE(slack): a received message's ``text`` has ``&``, ``<`` and ``>`` escaped as ``&amp;``, ``&lt;`` and ``&gt;``,
and its control sequences in angle brackets: user mentions ``<@U123>`` (older clients ``<@U123|name>``),
channels ``<#C123|general>`` (or with the label empty, ``<#C123|>``, or none, ``<#C123>``: then only the id names
the channel), ``<!here>``/``<!channel>``/``<!everyone>``, user groups ``<!subteam^S123|@team>``,
dates ``<!date^1392734382^{date}|fallback>``, links ``<https://example.com|label>`` and ``<mailto:a@b.c|a@b.c>``.
https://docs.slack.dev/messaging/formatting-message-text

The connector names the people (``users.info``) and the unlabelled channels (``conversations.info``) a read's text
mentions, one call each and at most :data:`connectors.slack.names.MAX_LOOKUPS` a read
(:mod:`connectors.slack.names`); :func:`to_text` takes those names, and shows an id nobody named as it is.

NOTE(slack): emoji come as shortcodes, ``:white_check_mark:``, a skin tone as a second one after it
(``:wave::skin-tone-3:``, tones 2 to 6: U+1F3FB to U+1F3FF); a workspace's custom emoji (``:partyparrot:``) are
images Slack alone has. https://docs.slack.dev/reference/methods/emoji.list
"""

from __future__ import annotations

import functools
import re
from typing import Mapping

import emoji

_CONTROL = re.compile(r"<([^<>\n]*)>")
_ENTITY = re.compile(r"&(amp|lt|gt);")
_CHARS = {"amp": "&", "lt": "<", "gt": ">"}
# A shortcode stands between non-word characters ("10:30:00" holds none); code, a control sequence or a URL is
# matched first, whole, and kept as it is. Linear: each alternative ends at its first possible end.
_SHORTCODE = re.compile(r"```.*?```|`[^`\n]*`|<[^<>\n]*>|https?://\S+"
                        r"|(?<!\w):([a-z0-9_+-]+):(?::skin-tone-([2-6]):)?(?!\w)", re.S)
_VARIATION = "\ufe0f"  # emoji presentation: a skin tone modifier follows the emoji itself


def mentioned(text: str) -> list[str]:
    """The user ids a Slack message's text mentions (``<@U123>``, ``<@U123|name>``), in order, once each."""
    return list(dict.fromkeys(m.group(1)[1:].partition("|")[0] for m in _CONTROL.finditer(text) if m.group(1).startswith("@")))


def unnamed_channels(text: str) -> list[str]:
    """The channel ids a Slack message's text mentions without a name (``<#C123|>``, ``<#C123>``), in order, once
    each: the ones to look up. A labelled mention (``<#C123|general>``) names its channel itself."""
    found = (m.group(1)[1:].partition("|") for m in _CONTROL.finditer(text) if m.group(1).startswith("#"))
    return list(dict.fromkeys(channel for channel, _, label in found if channel and not label))


@functools.lru_cache(maxsize=1024)
def _emoji(name: str) -> str | None:
    """The Unicode emoji of a standard shortcode's name (Slack's names are the ``emoji`` package's aliases:
    ``thumbsup``, ``+1``, ``white_check_mark``), or ``None``: a custom emoji, or no emoji."""
    shortcode = f":{name}:"
    found = emoji.emojize(shortcode, language="alias")
    return None if found == shortcode else found


def _shortcode(match: re.Match[str]) -> str:
    name, tone = match.group(1), match.group(2)
    found = _emoji(name) if name is not None else None
    if found is None:
        return match.group(0)  # code, a control sequence, a URL, or an emoji Slack alone can draw
    return found.rstrip(_VARIATION) + chr(0x1F3FB + int(tone) - 2) if tone else found


def emojized(text: str) -> str:
    """``text`` (as Slack delivers it) with each standard emoji shortcode the emoji itself (``:thumbsup:`` 👍,
    ``:wave::skin-tone-3:`` 👋🏼); a custom one (``:partyparrot:``) stays as written, as do code (`` `a:b:c` ``,
    a ```` ``` ```` block), control sequences, URLs and times (``10:30:00``)."""
    return _SHORTCODE.sub(_shortcode, text) if ":" in text else text


def to_text(text: str, names: Mapping[str, str] | None = None, drop: frozenset[str] = frozenset()) -> str:
    """Return a Slack message's text as a person reads it in Slack, as plain text.

    Args:
        text: the message's ``text`` field.
        names: the names of ids: a user's display name (``U…``, ``W…``), a channel's name (``C…``, ``G…``);
            Slack's ids of people and of conversations never coincide.
        drop: user ids whose mentions are left out (the hub's own: "@hub how do I ..." asks "how do I ...").

    Returns:
        The text with mentions as ``@name`` (``@U123`` when unknown), channels as ``#name`` (their label, else
        their name, else ``#C123``), links as ``label (url)`` (the url alone when the label is the url), standard
        emoji shortcodes as the emoji (:func:`emojized`), and ``&``, ``<``, ``>`` as themselves. Line breaks are kept.
    """
    known = names or {}

    def control(match: re.Match[str]) -> str:
        target, _, label = match.group(1).partition("|")
        if target.startswith("@"):
            user = target[1:]
            return "" if user in drop else "@" + (known.get(user) or label or user)
        if target.startswith("#"):
            return "#" + (label or known.get(target[1:]) or target[1:])
        if target.startswith("!"):
            return label or "@" + target[1:].split("^", 1)[0]
        url = target[len("mailto:"):] if target.startswith("mailto:") else target
        return f"{label} ({url})" if label and label not in (target, url) and label not in url else url

    return _ENTITY.sub(lambda m: _CHARS[m.group(1)], _CONTROL.sub(control, emojized(text)))
