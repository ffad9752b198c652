"""What the hub asks of a Slack app, in one place: the bot scopes each feature needs and the bot events it
handles. ``hub check`` requires these scopes of the installed token (:mod:`connectors.slack.preflight`) and
``hub slack-manifest`` writes the same scopes and events into the app's manifest
(:mod:`connectors.slack.manifest`), so the two cannot drift apart."""

from __future__ import annotations

# The bot scopes the hub's features need (docs/connectors/slack.md, step 2), each with the feature.
FEATURES = {
    "chat:write": "posting answers, notices and triage drafts",
    "channels:history": "reading a request's thread in public channels",
    "app_mentions:read": "requests that mention the bot",
    "users:read": "the names of the people who ask",
    "users:read.email": "the requester's email on escalated tickets (and re-contact across channels)",
    "reactions:read": "emoji intake (SLACK_TICKET_EMOJI)",
}
PRIVATE = ("groups:history", "reading a request's thread in private channels")
# NOTE(slack): conversations.info needs channels:read for a public channel, groups:read for a private one.
# https://docs.slack.dev/reference/methods/conversations.info
# hub check uses it for the configured channels; reads for the names of channels a message mentions unnamed
# (connectors.slack.names), which read as their ids without these scopes: so they are no feature's requirement.
PUBLIC_READ, PRIVATE_READ = "channels:read", "groups:read"
READ_SCOPES = f"{PUBLIC_READ} ({PRIVATE_READ} for a private channel)"

# The bot events the hub handles (connectors.slack.mapping: message, app_mention, reaction_added), each with
# the scope Slack delivers it under. NOTE(slack): the message.* events are the message event by kind of
# conversation, and need that kind's history scope; reaction_added needs reactions:read.
# https://docs.slack.dev/reference/events/message.groups · https://docs.slack.dev/reference/scopes/reactions.read
# Direct messages (message.im, message.mpim with im:history, mpim:history) are the admin's choice: they stay out.
EVENTS = {
    "message.channels": "channels:history",
    "message.groups": PRIVATE[0],
    "app_mention": "app_mentions:read",
    "reaction_added": "reactions:read",
}


def feature_scopes(private: bool) -> dict[str, str]:
    """The scopes the hub's features need, each with the feature.

    Args:
        private: whether the hub works in a private channel (then it reads threads with ``groups:history``).
    """
    return {**FEATURES, PRIVATE[0]: PRIVATE[1]} if private else dict(FEATURES)


def app_scopes() -> list[str]:
    """Every bot scope a new app should hold: the features', private channels' included, and the two that let
    ``hub check`` look the configured channels up; ``hub check`` passes with these and fails without any one."""
    return [*feature_scopes(private=True), PUBLIC_READ, PRIVATE_READ]
