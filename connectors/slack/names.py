"""The names a read's text uses: the people it mentions and who wrote it (``users.info``), and the channels it
mentions without a name (``conversations.info``), one call each, at most :data:`MAX_LOOKUPS` a read (people first:
a thread of many people does not cost a call per message). An id left over, or one Slack does not tell, reads
as the id (:func:`connectors.slack.mrkdwn.to_text`).

NOTE(slack): ``conversations.info`` (``channel``) answers ``{"ok": true, "channel": {"id", "name", ...}}``; it
needs ``channels:read`` for a public channel, ``groups:read`` for a private one (``im:read``, ``mpim:read`` for
a DM), and answers ``channel_not_found`` for one the token cannot see. Tier 3.
https://docs.slack.dev/reference/methods/conversations.info
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

from slack_sdk import WebClient

from connectors.records import readable
from connectors.slack import mapping, mrkdwn
from connectors.slack.errors import call
from core.errors import Fatal, NotFound
from core.models import Person, Source

MAX_LOOKUPS = 20


def people(client: WebClient, user_ids: Sequence[str], *, tolerant: bool = False) -> dict[str, Person]:
    """``users.info`` of each user, passing over one not found or of another shape (and with ``tolerant``,
    one the call fails for otherwise: ``Fatal``, a scope missing).

    Raises:
        Retriable: a call failed passingly. Fatal: one failed otherwise (not with ``tolerant``).
    """
    found: dict[str, Person] = {}
    for user_id in user_ids:
        try:
            user = call("users.info", client.users_info, user=user_id)
        except NotFound:
            continue
        except Fatal:
            if tolerant:
                continue
            raise
        person = readable(Source.SLACK, "user", user_id, lambda: mapping.person_from_user(user["user"]))
        if person is not None:  # a user of another shape is passed over as one not found: a person without a name
            found[user_id] = person
    return found


def channels(client: WebClient, channel_ids: Sequence[str]) -> dict[str, str]:
    """``conversations.info`` of each channel: its name. A channel not found, refused (a scope missing: an app
    set up before channel names were read) or of another shape is passed over: its mentions read as its id.

    Raises:
        Retriable: a call failed passingly (the read is tried again, as for a rate-limited ``users.info``).
    """
    found: dict[str, str] = {}
    for channel_id in channel_ids:
        try:
            info = call("conversations.info", client.conversations_info, channel=channel_id)
        except (NotFound, Fatal):
            continue
        name = readable(Source.SLACK, "channel", channel_id, lambda: mapping.channel_name(info["channel"]))
        if name:
            found[channel_id] = name
    return found


def channels_named(messages: Iterable[Any]) -> list[str]:
    """The channels a thread's text mentions without a name (:func:`connectors.slack.mrkdwn.unnamed_channels`),
    in order, once each."""
    named: dict[str, None] = {}
    for m in messages:
        if isinstance(m, Mapping) and isinstance(m.get("text"), str):
            named.update(dict.fromkeys(mrkdwn.unnamed_channels(m["text"])))
    return list(named)


def looked_up(client: WebClient, messages: Sequence[Any], ids: mapping.SelfIds, *,
              tolerant: bool = False) -> tuple[dict[str, Person], dict[str, str]]:
    """The people a read's messages name (:func:`connectors.slack.mapping.people_named`) and the channels they
    mention without a name, at most :data:`MAX_LOOKUPS` calls in all, people first.

    Returns:
        The people by user id, and the names :func:`connectors.slack.mrkdwn.to_text` takes (people's and channels').

    Raises:
        Retriable: a call failed passingly. Fatal: ``users.info`` failed otherwise (not with ``tolerant``).
    """
    user_ids = mapping.people_named(messages, ids)[:MAX_LOOKUPS]
    found = people(client, user_ids, tolerant=tolerant)
    names = {user_id: person.name for user_id, person in found.items() if person.name}
    return found, {**names, **channels(client, channels_named(messages)[:MAX_LOOKUPS - len(user_ids)])}
