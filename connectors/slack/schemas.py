"""The shapes of the Slack requests the hub reads, declared (issue 11, "validate at the door").

Every field :mod:`connectors.slack.mapping` reads is typed here; other fields pass. Only the envelopes and
events the hub acts on are checked in depth (an ``event_callback`` carrying a ``channel_created`` event has a
``channel`` object, not a string, and is none of our business).
https://docs.slack.dev/reference/events/message · https://docs.slack.dev/reference/interaction-payloads/block_actions-payload
"""

from __future__ import annotations

import re
from typing import Any

from marshmallow import fields, validate

from connectors.fields import Lenient, flag, ident, nested, string
from connectors.inbound import validate as check

# NOTE(slack): a ts is "<unix seconds>.<6 digits>"; the mapper turns it into a time.
TS = r"^[0-9]{1,10}(\.[0-9]{1,9})?\Z"
MESSAGE_EVENTS = ("message", "app_mention")


def slack_id() -> fields.String:
    """A team or channel id (``T06NRA6HM3P``, ``C06NRA6JLER``): it becomes a part of a thread's reference
    ``team:channel:ts``, so it never holds the ``:`` that separates them (an event that did was stored, then
    failed in the job runner as "not a Slack thread reference")."""
    return fields.String(allow_none=True, validate=[validate.Length(max=64), validate.Regexp(r"^[^:]*\Z", error="Not a Slack id.")])


def is_ts(value: str) -> bool:
    """Whether ``value`` is a Slack timestamp string (:data:`TS`)."""
    return bool(re.match(TS, value))


def slack_ts(**kwargs: Any) -> fields.String:
    """A Slack timestamp string (``"1719209506.817929"``)."""
    return fields.String(allow_none=True, validate=validate.Regexp(TS, error="Not a Slack ts."), **kwargs)


class Authorization(Lenient):
    """The installation a delivery is made to (:mod:`connectors.slack.workspace`)."""

    user_id = ident()
    is_bot = flag()
    team_id = slack_id()
    enterprise_id = slack_id()
    is_enterprise_install = flag()


class Root(Lenient):
    user = ident()


class BotProfile(Lenient):
    app_id = ident()


class File(Lenient):
    """A shared file (only its name and link are read). https://docs.slack.dev/reference/objects/file-object"""

    name = string()
    title = string()
    permalink = string()
    url_private = string()


class Edited(Lenient):
    user = ident()
    ts = slack_ts()


class ChangedMessage(Lenient):
    """A message's own fields: a message event's, and a ``message_changed`` event's message as it is now or was.
    https://docs.slack.dev/reference/events/message/message_changed"""

    ts = slack_ts()
    thread_ts = slack_ts()
    subtype = string()
    team = slack_id()
    user = ident()
    bot_id = ident()
    text = string()
    parent_user_id = ident()
    edited = nested(Edited)
    files = fields.List(fields.Nested(File), allow_none=True)


class MessageEvent(ChangedMessage):
    type = fields.String(required=True)
    hidden = flag()
    deleted_ts = slack_ts()
    channel = slack_id()
    app_id = ident()
    username = ident(255)  # the people table's name column
    root = nested(Root)
    bot_profile = nested(BotProfile)
    message = nested(ChangedMessage)
    previous_message = nested(ChangedMessage)


class ReactionItem(Lenient):
    type = string()
    channel = slack_id()
    ts = slack_ts()


class ReactionEvent(Lenient):
    """``reaction_added`` (emoji intake, issue 12). https://docs.slack.dev/reference/events/reaction_added"""

    type = fields.String(required=True)
    user = ident()
    reaction = string()
    item = nested(ReactionItem)
    item_user = ident()
    event_ts = slack_ts()


class AnyEvent(Lenient):
    type = fields.String(required=True)


class Envelope(Lenient):
    """What every request is read for, whatever its type (the hub's own ids: ``mapping.self_ids``)."""

    type = fields.String(required=True)
    api_app_id = ident()
    authorizations = fields.List(fields.Nested(Authorization), allow_none=True)
    team_id = slack_id()
    context_team_id = slack_id()


class EventCallback(Envelope):
    event_id = ident()
    event = fields.Nested(AnyEvent, required=True)


class AppRateLimited(Envelope):
    """Slack's notice that it dropped this app's events. https://docs.slack.dev/reference/events/app_rate_limited"""

    minute_rate_limited = fields.Integer(allow_none=True, strict=True)


class UrlVerification(Envelope):
    challenge = fields.String(required=True, validate=validate.Length(1, 200))


class ButtonText(Lenient):
    text = string()


class Action(Lenient):
    action_id = ident(255)
    value = ident(200)
    action_ts = slack_ts()
    text = nested(ButtonText)


class User(Lenient):
    id = ident()
    username = ident(255)
    name = ident(255)


class Container(Lenient):
    channel_id = slack_id()
    message_ts = slack_ts()


class Channel(Lenient):
    id = slack_id()


class BlockActions(Envelope):
    actions = fields.List(fields.Nested(Action), allow_none=True)
    user = nested(User)
    container = nested(Container)
    channel = nested(Channel)


BY_TYPE = {"event_callback": EventCallback(), "url_verification": UrlVerification(), "block_actions": BlockActions(),
           "app_rate_limited": AppRateLimited()}
_ENVELOPE, _MESSAGE, _REACTION = Envelope(), MessageEvent(), ReactionEvent()


def checked(payload: Any) -> dict[str, Any]:
    """Check a decoded Slack request (Events API envelope or interactivity payload).

    Returns:
        ``payload``, known to have the declared shape for its ``type``.

    Raises:
        PayloadError: a field has the wrong type or is missing; the message names its path.
    """
    envelope = check(_ENVELOPE, payload, "slack")
    schema = BY_TYPE.get(envelope["type"])
    if schema is None:
        return envelope  # view_submission, ...: ignored by the mapper
    check(schema, envelope, "slack")
    event = envelope.get("event")
    if envelope["type"] == "event_callback" and isinstance(event, dict) and event.get("type") in MESSAGE_EVENTS:
        check(_MESSAGE, event, "slack", path="event")
    if envelope["type"] == "event_callback" and isinstance(event, dict) and event.get("type") == "reaction_added":
        check(_REACTION, event, "slack", path="event")
    return envelope
