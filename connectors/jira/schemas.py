"""The shape of the Jira webhook bodies the hub reads, declared (issue 11, "validate at the door").

Every field :mod:`connectors.jira.events` reads is typed here; other fields pass. An issue key must look like
one (``SUP-12``) before anything, a URL least of all, is built from it.
https://developer.atlassian.com/cloud/jira/platform/webhooks/ (payload shapes: platform-apis.md 3.2)
"""

from __future__ import annotations

import re
from typing import Any, Mapping

from marshmallow import ValidationError, fields, validate

from connectors.fields import Id, Lenient, flag, ident, nested, string, strings
from connectors.inbound import validate as check
from connectors.jira.mapping import parse_time

# NOTE(jira): project keys are upper-case letters, digits and underscores, starting with a letter; the number
# never starts with 0. https://support.atlassian.com/jira-software-cloud/docs/what-is-an-issue/ (issue keys)
ISSUE_KEY = re.compile(r"[A-Z][A-Z0-9_]+-[1-9][0-9]*\Z")
ISSUE_ID = re.compile(r"[1-9][0-9]*\Z")
MAX_KEY_CHARS = 64
# Epoch milliseconds the hub accepts as a delivery time: 2001-09-09 to 2286-11-20.
MIN_MILLIS, MAX_MILLIS = 10**12, 10**13 - 1


def is_issue_key(value: str) -> bool:
    """Whether ``value`` is an issue key (``SUP-12``) or a numeric issue id (``10002``), nothing else."""
    return len(value) <= MAX_KEY_CHARS and bool(ISSUE_KEY.fullmatch(value) or ISSUE_ID.fullmatch(value))


def is_numeric_id(value: str) -> bool:
    """Whether ``value`` is a numeric id (an issue's ``10002``, a comment's ``10755``), in ASCII digits."""
    return len(value) <= MAX_KEY_CHARS and bool(ISSUE_ID.fullmatch(value))


class Timestamp(fields.Field):
    """The webhook ``timestamp``: epoch milliseconds (Cloud, Data Center), or an ISO-8601 string."""

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            if not MIN_MILLIS <= value <= MAX_MILLIS:
                raise ValidationError("Not epoch milliseconds in a plausible range.")
            return value
        if isinstance(value, str) and len(value) <= 64 and parse_time(value) is not None:
            return value
        raise ValidationError("Not a timestamp: epoch milliseconds or an ISO-8601 string.")


class RichText(fields.Field):
    """A comment body: wiki markup (a string, REST v2 and webhooks) or an ADF document (an object, REST v3)."""

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> Any:
        if not isinstance(value, (str, dict)):
            raise ValidationError("Not a comment body: a string or an ADF object.")
        return value


class User(Lenient):
    accountId = ident(128)
    name = ident(255)
    key = ident(255)
    emailAddress = ident(320)  # the people table's columns
    displayName = ident(255)
    accountType = string()


class Fields(Lenient):
    labels = strings()
    reporter = nested(User)
    creator = nested(User)


class Issue(Lenient):
    key = fields.String(
        allow_none=True, validate=validate.And(validate.Length(max=MAX_KEY_CHARS), validate.Regexp(ISSUE_KEY, error="Not an issue key."))
    )
    id = Id(allow_none=True)
    fields_ = nested(Fields, data_key="fields")  # "fields" would shadow Schema.fields


class Comment(Lenient):
    id = Id(allow_none=True)
    self = string()
    body = RichText(allow_none=True)
    author = nested(User)
    jsdPublic = flag()
    visibility = fields.Dict(allow_none=True)
    created = string()


class Changelog(Lenient):
    id = Id(allow_none=True)


class Webhook(Lenient):
    webhookEvent = fields.String(required=True, validate=validate.Length(1, 100))
    timestamp = Timestamp(required=True)
    user = nested(User)
    issue = nested(Issue)
    comment = nested(Comment)
    changelog = nested(Changelog)


_WEBHOOK = Webhook()


def checked(body: Any) -> dict[str, Any]:
    """Check a decoded Jira webhook body.

    Returns:
        ``body``, known to have the declared shape.

    Raises:
        PayloadError: a field has the wrong type or is missing (the message names its path).
    """
    return check(_WEBHOOK, body, "jira")
