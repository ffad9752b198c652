"""Slack payloads to the hub's model, and back. Pure: every Slack field name the hub reads lives here.

What counts as a request (issue 4): a root message in a channel the hub answers in (``SLACK_CHANNELS``), or a
message there that mentions the bot, root or thread reply. A thread reply by the thread's starter is a
follow-up on the same ticket. The hub's own messages, other bots (unless the channel's policy allows them),
edits, deletions, joins and hidden events are never requests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import partial
from typing import Any, Callable, Iterable, Mapping, Sequence

from connectors.records import read_record, readable, record_id
from connectors.slack import mrkdwn
from connectors.text import tidy
from core.errors import PayloadError
from core.models import EventKind, Message, Person, Source, Ticket, TicketEvent, TicketRef, utcnow

FEEDBACK_BLOCK_ID = "hub_feedback"
ACTION_SOLVED = "hub_feedback_solved"
ACTION_NOT_SOLVED = "hub_feedback_not_solved"
FEEDBACK_BY_ACTION = {ACTION_SOLVED: "solved", ACTION_NOT_SOLVED: "not_solved"}
METADATA_EVENT_TYPE = "hub_reply"

# NOTE(slack): subtypes that still carry a person's words; everything else (message_changed, message_deleted,
# channel_join, ...) is housekeeping. https://docs.slack.dev/reference/events/message
_WORDS_SUBTYPES = {None, "thread_broadcast", "file_share", "bot_message"}


@dataclass(frozen=True)
class Identity:
    """Who the hub is in the workspace, from ``auth.test``."""

    user_id: str
    bot_id: str | None
    team_id: str | None
    url: str | None


@dataclass(frozen=True)
class SelfIds:
    """What marks the hub's own messages: bot user ids, bot ids and the app id."""

    user_ids: frozenset[str] = frozenset()
    bot_ids: frozenset[str] = frozenset()
    app_id: str | None = None

    def owns(self, event: Mapping[str, Any]) -> bool:
        """Return whether ``event`` (a message) was posted by the hub."""
        app_id = event.get("app_id") or (event.get("bot_profile") or {}).get("app_id")
        return (
            (event.get("user") is not None and event.get("user") in self.user_ids)
            or (event.get("bot_id") is not None and event.get("bot_id") in self.bot_ids)
            or (self.app_id is not None and app_id == self.app_id)
        )


def identity_from_auth_test(data: Mapping[str, Any]) -> Identity:
    """Map an ``auth.test`` response.

    Raises:
        PayloadError: the response has no ``user_id``.
    """
    if not data.get("user_id"):
        raise PayloadError("auth.test returned no user_id")
    return Identity(data["user_id"], data.get("bot_id"), data.get("team_id"), data.get("url"))


def self_ids(envelope: Mapping[str, Any], identity: Identity | None) -> SelfIds:
    """Collect the hub's ids from an event envelope (no API call) and the cached identity, if known.

    NOTE(slack): ``authorizations[]`` names the installation the event is delivered to; with ``is_bot`` its
    ``user_id`` is our bot user. https://docs.slack.dev/reference/objects/event-object
    """
    users = {a.get("user_id") for a in envelope.get("authorizations") or () if a.get("is_bot") and a.get("user_id")}
    bots: set[str] = set()
    if identity is not None:
        users.add(identity.user_id)
        if identity.bot_id:
            bots.add(identity.bot_id)
    return SelfIds(frozenset(users), frozenset(bots), envelope.get("api_app_id"))


def thread_ref(team: str, channel: str, thread_ts: str) -> TicketRef:
    """Return the ticket reference of a Slack thread."""
    return TicketRef(Source.SLACK, f"{team}:{channel}:{thread_ts}")


def split_ref(ref: TicketRef) -> tuple[str, str, str]:
    """Return ``(team, channel, thread_ts)`` of a Slack reference.

    Raises:
        ValueError: ``ref`` is not a Slack thread reference.
    """
    parts = ref.external_id.split(":")
    if ref.source is not Source.SLACK or len(parts) != 3 or not all(parts):
        raise ValueError(f"not a Slack thread reference: {ref}")
    return parts[0], parts[1], parts[2]


def ts_to_datetime(ts: str) -> datetime:
    """Return the UTC time of a Slack ``ts`` (``"1719209506.817929"``), without going through float."""
    seconds, _, fraction = ts.partition(".")
    micro = int((fraction + "000000")[:6]) if fraction.isdigit() else 0
    return datetime.fromtimestamp(int(seconds), timezone.utc) + timedelta(microseconds=micro)


def to_event(
    envelope: Mapping[str, Any],
    *,
    ids: SelfIds,
    answers_in: Callable[[str], bool],
    allows_bots: Callable[[str], bool],
    identity_known: bool,
    received_at: datetime | None = None,
    ticket_emoji: str = "ticket",
) -> TicketEvent | None:
    """Translate a decoded Slack request into an event, or ``None`` when it is not for the hub.

    Args:
        envelope: an Events API envelope or an interactivity payload.
        ids: the hub's own ids (:func:`self_ids`).
        answers_in: whether the hub answers in a channel (``SLACK_CHANNELS``).
        allows_bots: whether a channel's policy lets the hub answer other bots.
        identity_known: whether ``ids`` include the ``auth.test`` bot id (so a bot message can be proven not ours).
        received_at: when the request arrived (now by default).
        ticket_emoji: the reaction that turns a thread into a ticket of record (``SLACK_TICKET_EMOJI``).

    Raises:
        PayloadError: a field the hub needs is missing.
    """
    received_at = received_at or utcnow()
    kind = envelope.get("type")
    if kind == "event_callback" and (envelope.get("event") or {}).get("type") == "reaction_added":
        return _reaction_event(envelope, ids, answers_in, ticket_emoji, received_at)
    if kind == "event_callback":
        return _message_event(envelope, ids, answers_in, allows_bots, identity_known, received_at)
    if kind == "block_actions":
        return _feedback_event(envelope, received_at)
    return None  # url_verification (answered by the handshake), app_rate_limited, other interactivity


def _message_event(
    envelope: Mapping[str, Any],
    ids: SelfIds,
    answers_in: Callable[[str], bool],
    allows_bots: Callable[[str], bool],
    identity_known: bool,
    received_at: datetime,
) -> TicketEvent | None:
    event = envelope.get("event") or {}
    if event.get("type") not in ("message", "app_mention") or event.get("hidden"):
        return None
    if event.get("subtype") not in _WORDS_SUBTYPES or ids.owns(event) or reply_key(event) is not None:
        return None  # housekeeping, or the hub's own message (a reply it stamped is never read back: no loops)
    channel, ts, team = event.get("channel"), event.get("ts"), envelope.get("team_id") or event.get("team")
    if not (channel and ts and team):
        raise PayloadError("slack message event without channel, ts or team_id")
    if not answers_in(channel):
        return None
    is_bot = bool(event.get("bot_id")) or event.get("subtype") == "bot_message"
    if is_bot and not (allows_bots(channel) and (identity_known or _provably_other(event, ids, envelope))):
        return None
    thread_ts = event.get("thread_ts")
    text = event.get("text") or ""
    mention = _mention_pattern(ids.user_ids)
    mentioned = event.get("type") == "app_mention" or bool(mention and mention.search(text))
    author_id = event.get("user") or event.get("bot_id") or ""
    if not thread_ts or thread_ts == ts or mentioned:
        kind, ref = EventKind.CREATED, thread_ref(team, channel, thread_ts or ts)
    else:
        kind, ref = EventKind.COMMENTED, thread_ref(team, channel, thread_ts)
    # Someone other than the thread's starter: never the requester's follow-up, but a thread kept in sync
    # with a ticket of record carries it to the agents as an internal note (issue 12).
    from_requester = kind is EventKind.CREATED or (
        bool(author_id) and author_id == (event.get("parent_user_id") or (event.get("root") or {}).get("user"))
    )
    text = tidy(mrkdwn.to_text(text, drop=ids.user_ids))
    author = Person(author_id, name=event.get("username") or "")
    message = Message(ts, author, text, created_at=ts_to_datetime(ts), attachments=files_of(event))
    data: dict[str, Any] = {"mentioned": True} if mentioned else {}
    if mentioned and thread_ts and thread_ts != ts:
        data["reply"] = True  # a mention in a thread: a request if the hub has not seen the thread, else a follow-up
    if not from_requester:
        data["from_requester"] = False
        if event.get("bot_id") or not event.get("user"):
            data["bot"] = True  # another app's message (in a channel that lets bots in): nobody's response
    # NOTE(slack): one mention arrives twice (message + app_mention, two event_ids); keying the delivery on the
    # message itself makes that one request, and Slack's retries of either stay duplicates.
    return TicketEvent(Source.SLACK, f"{team}:{channel}:{ts}", kind, ref, message, received_at, data)


def _reaction_event(
    envelope: Mapping[str, Any], ids: SelfIds, answers_in: Callable[[str], bool], ticket_emoji: str, received_at: datetime
) -> TicketEvent | None:
    """``reaction_added`` with the ticket emoji on a message in a watched channel: emoji intake.

    NOTE(slack): the event names the reacted-to message (``item.channel``, ``item.ts``) but not its thread;
    the ref carries that message's ts and :meth:`SlackConnector.fetch` resolves a reply to its thread's
    root. A skin tone arrives as ``name::skin-tone-2``.
    https://docs.slack.dev/reference/events/reaction_added

    The delivery id is the reacted-to message, so several people reacting are one stored request (the
    inbox's unique key), whoever reacts first.
    """
    event = envelope.get("event") or {}
    item = event.get("item") or {}
    reaction = str(event.get("reaction") or "").split("::", 1)[0]
    user = event.get("user")
    if reaction != ticket_emoji or item.get("type") != "message" or not user or user in ids.user_ids:
        return None
    channel, ts, team = item.get("channel"), item.get("ts"), envelope.get("team_id")
    if not (channel and ts and team):
        raise PayloadError("slack reaction_added event without item.channel, item.ts or team_id")
    if not answers_in(channel):
        return None
    ref = thread_ref(team, channel, ts)
    data = {"intake": "emoji", "reactor": user}
    if event.get("item_user"):  # who wrote the message: its requester, should the message itself not be readable
        data["author"] = event["item_user"]
    return TicketEvent(Source.SLACK, f"reaction:{team}:{channel}:{ts}", EventKind.CREATED, ref, None, received_at, data)


def _mention_pattern(user_ids: frozenset[str]) -> re.Pattern[str] | None:
    # NOTE(slack): a mention is <@U123> (older clients: <@U123|name>). https://docs.slack.dev/messaging/formatting-message-text
    if not user_ids:
        return None
    return re.compile(r"<@(?:%s)(?:\|[^>]*)?>" % "|".join(map(re.escape, sorted(user_ids))))


def _provably_other(event: Mapping[str, Any], ids: SelfIds, envelope: Mapping[str, Any]) -> bool:
    """Whether a bot message carries enough to prove another app posted it without ``auth.test``."""
    app_id = event.get("app_id") or (event.get("bot_profile") or {}).get("app_id")
    return bool(app_id and ids.app_id and app_id != ids.app_id)


def _feedback_event(payload: Mapping[str, Any], received_at: datetime) -> TicketEvent | None:
    action = next((a for a in payload.get("actions") or () if a.get("action_id") in FEEDBACK_BY_ACTION), None)
    if action is None:
        return None
    try:
        # The schema lets a button's value be absent or null (other apps' buttons); ours always carries the ref.
        ref = TicketRef.parse(action.get("value") or "")
        split_ref(ref)
    except ValueError as e:
        raise PayloadError(f"feedback button without a Slack thread reference: {e}") from e
    user = payload.get("user") or {}
    container = payload.get("container") or {}
    channel = container.get("channel_id") or (payload.get("channel") or {}).get("id")
    ts, action_ts = container.get("message_ts"), action.get("action_ts")
    if not (user.get("id") and channel and ts and action_ts):
        raise PayloadError("block_actions payload without user, channel, message_ts or action_ts")
    feedback = FEEDBACK_BY_ACTION[action["action_id"]]
    author = Person(user["id"], name=user.get("username") or user.get("name") or "")
    label = (action.get("text") or {}).get("text") or feedback
    message = Message(action_ts, author, label, created_at=ts_to_datetime(action_ts))
    data = {"feedback": feedback, "ack": {"channel": channel, "ts": ts, "user": user["id"]}}
    return TicketEvent(Source.SLACK, f"feedback:{action_ts}:{user['id']}", EventKind.FEEDBACK, ref, message, received_at, data)


def files_of(message: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """Return a message's shared files as ``(name, link)`` pairs: links, never their content.

    NOTE(slack): ``permalink`` opens the file in Slack; a file hidden by the plan's limits or deleted
    (``mode: "hidden_by_limit"``/``"tombstone"``) has none and is left out.
    https://docs.slack.dev/reference/objects/file-object
    """
    pairs = []
    for f in message.get("files") or ():
        link = f.get("permalink") or f.get("url_private") if isinstance(f, Mapping) else None
        if link:
            pairs.append((str(f.get("name") or f.get("title") or "file"), str(link)))
    return tuple(pairs)


def reply_key(message: Mapping[str, Any]) -> str | None:
    """Return the idempotency key the hub stamped on one of its replies (message ``metadata``)."""
    metadata = message.get("metadata") or {}
    if metadata.get("event_type") != METADATA_EVENT_TYPE:
        return None
    return (metadata.get("event_payload") or {}).get("key")


def reply_metadata(key: str) -> dict[str, Any]:
    """Return the message ``metadata`` that stamps a reply with its idempotency key.

    NOTE(slack): https://docs.slack.dev/messaging/message-metadata/ (read back with ``include_all_metadata``).
    """
    return {"event_type": METADATA_EVENT_TYPE, "event_payload": {"key": key}}


def person_from_user(user: Mapping[str, Any]) -> Person:
    """Map a ``users.info`` user (email needs the ``users:read.email`` scope)."""
    raw = user.get("profile")
    profile: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    names = (profile.get("real_name"), user.get("real_name"), profile.get("display_name"), user.get("name"))
    email = profile.get("email")
    return Person(str(user.get("id") or ""), name=next((n for n in names if n and isinstance(n, str)), ""),
                  email=email if isinstance(email, str) else None, is_agent=False)


def channel_name(channel: Mapping[str, Any]) -> str:
    """A ``conversations.info`` channel's name (``""``: none). Raises: TypeError, AttributeError: another shape."""
    name = channel.get("name")
    return name if isinstance(name, str) else ""


def human_authors(messages: Iterable[Mapping[str, Any]]) -> list[str]:
    """Return the distinct human authors of a thread, in order of first message."""
    seen: dict[str, None] = {}
    for m in messages:
        if not isinstance(m, Mapping) or not isinstance(m.get("user"), str):  # a message of another shape: not read
            continue
        if m["user"] and not m.get("bot_id") and m.get("subtype") != "bot_message":
            seen.setdefault(m["user"], None)
    return list(seen)


def people_named(messages: Iterable[Mapping[str, Any]], ids: SelfIds) -> list[str]:
    """The people a thread's text names, to look up: its human authors (:func:`human_authors`), then the users its
    messages mention (``<@U123>``: so that the text reads ``@Bob Teammate``, as Slack shows it), the hub's own left out."""
    messages = list(messages)
    named = dict.fromkeys(human_authors(messages))
    for m in messages:
        if isinstance(m, Mapping) and isinstance(m.get("text"), str):
            named.update(dict.fromkeys(u for u in mrkdwn.mentioned(m["text"]) if u not in ids.user_ids))
    return list(named)


def thread_message(m: Mapping[str, Any], people: Mapping[str, Person], names: Mapping[str, str],
                   ids: SelfIds) -> Message | None:
    """One message of a thread as a :class:`Message` (``None``: a kind that carries no words, or no ``ts``).

    Raises:
        ValueError, TypeError, AttributeError, OverflowError: the message is not of the documented shape.
    """
    if m.get("subtype") not in _WORDS_SUBTYPES or not m.get("ts"):
        return None
    author_id = m.get("user") or m.get("bot_id") or ""
    author = people.get(author_id) or Person(author_id, name=m.get("username") or "")
    if ids.owns(m):
        author = Person(author_id, name=author.name or "hub", is_self=True)
    text = tidy(mrkdwn.to_text(m.get("text") or "", names, drop=ids.user_ids))
    return Message(m["ts"], author, text, created_at=ts_to_datetime(m["ts"]), attachments=files_of(m))


def ticket_from_thread(
    ref: TicketRef,
    messages: list[Mapping[str, Any]],
    people: Mapping[str, Person],
    ids: SelfIds,
    permalink: str | None,
    names: Mapping[str, str] | None = None,
) -> Ticket:
    """Build a ticket from a thread (``conversations.replies``, root first); ``names``: the names of the ids its
    text mentions (:func:`connectors.slack.mrkdwn.to_text`), by default the people's.

    Raises:
        PayloadError: the thread is empty.
        UnreadableRecord: the root message is not of the documented shape (a later one is passed over: a reply
            read in its place would be answered as the request, its author taken for the requester).
    """
    if not messages:
        raise PayloadError("empty Slack thread")
    if names is None:
        names = {user_id: person.name for user_id, person in people.items() if person.name}
    parent = read_record(Source.SLACK, "thread", record_id(messages[0], "ts"), partial(thread_message, messages[0], people, names, ids))
    rest = (readable(Source.SLACK, "message", record_id(m, "ts"), partial(thread_message, m, people, names, ids))
            for m in messages[1:])
    normalised = [m for m in (parent, *rest) if m is not None]
    if not normalised:
        raise PayloadError("Slack thread has no readable message")
    return ticket_of(ref, normalised, permalink)


def ticket_of(ref: TicketRef, messages: Sequence[Message], permalink: str | None) -> Ticket:
    """The ticket of a thread's messages, root first (at least one): the root's author is the requester, its
    first line the subject."""
    root = messages[0]
    subject = root.text.strip().splitlines()[0][:120] if root.text.strip() else "Slack request"
    return Ticket(
        ref=ref,
        subject=subject,
        text=root.text,
        requester=root.author,
        messages=tuple(messages),
        url=permalink,
        created_at=root.created_at,
        updated_at=messages[-1].created_at,
        raw=None,
    )
