"""The shared strict decoder of webhook bodies (``connectors.inbound``): nesting, surrogates, constants, and a
depth scan that stays linear whatever the bytes."""

from __future__ import annotations

import time

import pytest
from marshmallow import fields

from connectors.fields import Lenient, nested
from connectors.inbound import check_depth, json_body, validate
from core.errors import PayloadError


def test_nesting_up_to_the_limit_is_decoded_and_beyond_it_refused() -> None:
    assert json_body(b"[" * 64 + b"]" * 64, "x") == eval("[" * 63 + "[]" + "]" * 63)
    with pytest.raises(PayloadError, match="nested deeper than 64"):
        json_body(b"[" * 65 + b"]" * 65, "x")
    # brackets inside strings are text, not nesting
    assert json_body(b'{"a": "' + b"[" * 1000 + b'"}', "x") == {"a": "[" * 1000}


@pytest.mark.parametrize("body", [b'"\\ud800"', b'{"\\udfff": 1}', b'["ok", {"k": "a\\ud83d"}]'])
def test_lone_surrogates_in_keys_or_values_are_refused(body: bytes) -> None:
    with pytest.raises(PayloadError, match="lone surrogate"):
        json_body(body, "x")


@pytest.mark.parametrize("body", [b'"a\\u0000b"', b'{"k\\u0000": 1}'])
def test_nul_characters_are_refused_since_postgresql_text_cannot_hold_them(body: bytes) -> None:
    with pytest.raises(PayloadError, match="NUL character"):
        json_body(body, "x")


def test_a_surrogate_pair_is_a_character_not_a_lone_surrogate() -> None:
    assert json_body(b'"\\ud83d\\ude00"', "x") == "\U0001f600"


@pytest.mark.parametrize("body", [b"", b"  ", b"NaN", b'{"a": Infinity}', b"-Infinity", b"\xff", b"{", b"1" * 5000])
def test_empty_non_json_and_non_standard_constants_are_refused(body: bytes) -> None:
    with pytest.raises(PayloadError):
        json_body(body, "x")


@pytest.mark.parametrize("body", [b'"\\"' * 350_000, b'"' + b"\\" * 1_000_000, b'["' * 300_000, b'\\"' * 500_000])
def test_the_depth_scan_is_linear_on_pathological_bodies(body: bytes) -> None:
    started = time.perf_counter()
    try:
        check_depth(body, "x")
    except PayloadError:
        pass
    assert time.perf_counter() - started < 2.0  # about 0.1 s for 1 MB; quadratic would be hours


class Inner(Lenient):
    n = fields.Integer(strict=True)


class Outer(Lenient):
    inner = nested(Inner)
    items = fields.List(fields.Nested(Inner))


@pytest.mark.parametrize(
    ("data", "message"),
    [([1], "x payload: (body): must be a JSON object"),
     ({"inner": {"n": "1"}}, "x payload: inner.n: Not a valid integer."),
     ({"items": [{"n": 1}, {"n": []}]}, "x payload: items.1.n: Not a valid integer."),
     ({"inner": "no"}, "x payload: inner: Invalid input type.")],
)
def test_schema_errors_name_the_field_path(data: object, message: str) -> None:
    with pytest.raises(PayloadError) as raised:
        validate(Outer(), data, "x")
    assert str(raised.value) == message


def test_unknown_fields_pass() -> None:
    assert validate(Outer(), {"inner": {"n": 1, "extra": [1]}, "more": {}}, "x") == {"inner": {"n": 1, "extra": [1]}, "more": {}}
