"""``HUB_CHANNEL_POLICIES``: per-channel overrides, keyed by a Slack channel id or a source's name.

In the environment the value is a JSON object (``{"C0123ABCD": {"dry_run": true}}``); in the YAML file or a
test's dict, a mapping. A policy's field that is not one (``dryrun``) is refused with the field it most likely
means, as a setting's name is: left out, the channel would run without the override it was meant to have.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from typing import Any, Mapping

from marshmallow import Schema, ValidationError, fields, validate

from config.base import Flag, one_of
from core.errors import ConfigError
from core.models import Source

POLICY_EXAMPLE = '{"C0123ABCD": {"dry_run": true}}'


def fraction(low: float) -> validate.Range:
    """A share from ``low`` to 1, refused with a message that says it is not a percentage (``95`` for 0.95)."""
    return validate.Range(low, 1.0, error=f"{{input}} is not from {low:g} to 1: it is a fraction, e.g. 0.95 (not 95)")


class Fraction(fields.Float):
    """A share from ``low`` to 1 (:func:`fraction`); one written as a percentage (``95%``) is refused saying so,
    not as 'Not a valid number.'."""

    default_error_messages = {"invalid": "{input!r} is not a number: it is a fraction, e.g. 0.95 (not 95%)"}

    def __init__(self, low: float, **kwargs: Any) -> None:
        super().__init__(validate=fraction(low), **kwargs)


@dataclass(frozen=True)
class ChannelPolicy:
    """Per-channel overrides (a Slack channel id, or a source name such as ``zendesk``)."""

    threshold: float | None = None
    target_precision: float | None = None
    escalation_target: str | None = None
    respond_to_bots: bool = False
    dry_run: bool | None = None


class JSONObject(fields.Dict):
    """A mapping as YAML or a test's dict holds it, or as the environment does: a JSON object in a string."""

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> Any:
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError as e:
                raise ValidationError(f"not JSON ({e}): in the environment it is a JSON object, e.g. {POLICY_EXAMPLE}") from e
            if not isinstance(value, dict):
                raise ValidationError(f"must be a JSON object, e.g. {POLICY_EXAMPLE}")
        return super()._deserialize(value, attr, data, **kwargs)


class _ChannelPolicySchema(Schema):
    threshold = fields.Float(load_default=None, validate=validate.Range(0.0, 1.0))
    target_precision = Fraction(0.5, load_default=None)
    escalation_target = fields.String(load_default=None)  # a vendor's name: checked against the registry
    respond_to_bots = Flag(load_default=False)
    dry_run = Flag(load_default=None)


FIELDS = tuple(_ChannelPolicySchema().fields)


def _problem(name: str, messages: Any) -> str:
    """One field's problem in words: an unknown field with the one it most likely means, else the schema's."""
    if messages == ["Unknown field."]:
        close = difflib.get_close_matches(name.lower(), FIELDS, n=1, cutoff=0.6)
        return (f"{name!r} is not a policy field" + (f" (did you mean {close[0]}?)" if close else "")
                + f": the fields are {', '.join(FIELDS)}")
    return f"{name}: {' '.join(map(str, messages)) if isinstance(messages, list) else messages}"


def channel_policies(values: Mapping[str, Any], names: list[str]) -> dict[str, ChannelPolicy]:
    """Read ``HUB_CHANNEL_POLICIES`` (already a mapping) into policies.

    Args:
        values: channel to its policy's fields; a key that is a source's name in another case
            (``Zendesk``) is read as that name.
        names: the vendors' names, which ``escalation_target`` may take.

    Raises:
        ConfigError: a channel keyed by its ``#name``, or a policy with a field that is not one or a bad value;
            the message names the channel and the field.
    """
    policies: dict[str, ChannelPolicy] = {}
    sources = {name.lower(): name for name in (*names, *(source.value for source in Source))}
    for key, policy in values.items():
        # A source's policy is looked up by the source's name as the hub spells it: "Zendesk" never applied.
        channel = sources.get(key.strip().lower(), key)
        if channel.startswith("#"):  # never matches: Slack events carry channel ids, so the policy would not apply
            raise ConfigError(f"invalid configuration: HUB_CHANNEL_POLICIES: {channel[:80]!r} is a channel's name: a Slack "
                              "channel's policy is keyed by its id (e.g. C0123ABCD, at the bottom of its About tab)")
        try:
            loaded = _ChannelPolicySchema().load(policy)
            if loaded["escalation_target"] is not None:
                loaded["escalation_target"] = one_of(loaded["escalation_target"], names)
        except ValidationError as e:
            messages = e.messages if isinstance(e.messages, dict) else {"escalation_target": e.messages}
            detail = "; ".join(_problem(str(name), problem) for name, problem in messages.items())
            raise ConfigError(f"invalid configuration: HUB_CHANNEL_POLICIES.{channel}: {detail}") from e
        policies[channel] = ChannelPolicy(**loaded)
    return policies
