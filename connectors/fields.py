"""Field types the vendors' inbound schemas share (``connectors/<vendor>/schemas.py``).

The schemas only validate: they declare the type of every field a mapper reads, so that a wrong type is a 400
naming the field instead of an exception deep in a mapper. Unknown fields are allowed (vendors add fields).
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

from marshmallow import INCLUDE, Schema, ValidationError, fields, validate

MAX_ID_CHARS = 128  # the inbox keys (delivery id, ticket ref) are 255 characters at most
INBOX_KEY_CHARS = 255  # inbox_events.delivery_id and .ticket_ref (PostgreSQL refuses a longer value)


class Lenient(Schema):
    """A schema that declares the fields it needs and lets every other field through."""

    class Meta:
        unknown = INCLUDE


def string(**kwargs: Any) -> fields.String:
    """An optional string (``null`` allowed)."""
    return fields.String(allow_none=True, **kwargs)


def ident(max_chars: int = 64) -> fields.String:
    """An optional vendor identifier string of bounded length (it ends up in 255-character keys)."""
    return fields.String(allow_none=True, validate=validate.Length(max=max_chars))


def flag() -> fields.Boolean:
    """An optional JSON boolean (``true``/``false`` only, not ``"yes"`` or ``1``)."""
    return fields.Boolean(allow_none=True, truthy={True}, falsy={False})


def nested(schema: type[Schema], **kwargs: Any) -> fields.Nested:
    """An optional object of the given shape."""
    return fields.Nested(schema, allow_none=True, **kwargs)


def strings() -> fields.List:
    """An optional list of strings."""
    return fields.List(fields.String(), allow_none=True)


class Id(fields.Field):
    """An identifier sent either as a string or as a whole number (vendors do both), never a bool or float."""

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> str:
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise ValidationError("Not a valid id: a string or a whole number.")
        result = str(value)
        if len(result) > MAX_ID_CHARS:
            raise ValidationError(f"Longer than {MAX_ID_CHARS} characters.")
        return result


class Parsed(fields.String):
    """A string that ``parse`` accepts (a timestamp format, for example)."""

    def __init__(self, parse: Callable[[str], Any], what: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._parse, self._what = parse, what

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> Any:
        result = super()._deserialize(value, attr, data, **kwargs)
        try:
            self._parse(result)
        except (ValueError, OverflowError, TypeError) as e:
            raise ValidationError(f"Not a valid {self._what}.") from e
        return result


def whole(minimum: int, maximum: int, **kwargs: Any) -> fields.Integer:
    """A JSON whole number (not a string, not a float) within ``[minimum, maximum]``."""
    return fields.Integer(strict=True, validate=validate.Range(minimum, maximum), **kwargs)
