"""Webhook bodies for the fuzz tests: the real fixtures of every kind the hub takes, the mutations that
spoil them (types swapped, fields dropped, values replaced by deep nesting, lone surrogates, huge numbers, path
fragments), their encodings, and the vendors' signatures. Shared by the door's property
(``tests/test_fuzz_webhooks.py``), the API's (``tests/test_fuzz_api.py``) and processing's
(``tests/test_fuzz_processing.py``). ``HUB_FUZZ_EXAMPLES`` sets the example count (a fixed seed keeps
``make test`` repeatable).
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any, Callable

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from connectors.jira import events as jira_events
from connectors.zendesk import verify as zendesk_verify
from core.models import utcnow
from tests.slack_stub import sign as slack_sign

FIXTURES = Path(__file__).parent / "fixtures"
EXAMPLES = int(os.environ.get("HUB_FUZZ_EXAMPLES", "100"))  # per route and database
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
def fixtures(vendor: str, prefixes: tuple[str, ...]) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted((FIXTURES / vendor).glob("*.json")) if p.name.startswith(prefixes)]


SLACK = fixtures("slack", ("event_", "url_verification", "app_rate", "block_actions"))
ZENDESK = fixtures("zendesk", ("event_", "trigger_"))
JIRA = fixtures("jira", ("webhook_",))


def _status_change(created: dict[str, Any]) -> dict[str, Any]:
    """An issue the hub opened changing status (``jira:issue_updated``), made from an ``issue_created`` capture."""
    body = copy.deepcopy(created)
    body["webhookEvent"] = "jira:issue_updated"
    body["issue"]["fields"]["labels"] = ["hub_created"]
    body["changelog"] = {"id": "10050", "items": [{"field": "status", "toString": "Done"}]}
    return body


JIRA.append(_status_change(next(b for b in JIRA if b["webhookEvent"] == "jira:issue_created")))

# -- values and mutations ------------------------------------------------------------------------------------

NASTY = st.sampled_from([
    "\ud800", "a\udfffb", 1e20, -1e308, 10**30, -(2**63), 0, True, None, "", " ", "../../../../internal/admin?x=",
    "SUP-1/../x", "\u00b2", "x" * 5000, "1719209506.817929", "garbage", "2025-01-08T14:25:30Z", "9999-12-31T23:59:59Z",
    "zen:ticket:5158", "<@U123>", "a\u0000b", "a" * 290 + "@example.com", "C" * 300, "9" * 128, "C" * 64, [], {}, [[[[[[[[]]]]]]]], {"a": {"b": {"c": None}}},
])
LEAVES = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20)
VALUES = NASTY | NASTY | st.recursive(LEAVES, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=6)


DEEP_MARK = "\u0000deep\u0000"


def deep(levels: int) -> Any:
    value: Any = "x"
    for i in range(levels):
        value = [value] if i % 2 else {"a": value}
    return value


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside ``value`` (keys and list indexes)."""
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, inner in value.items():
            found += paths(inner, prefix + (key,))
    elif isinstance(value, list):
        for index, inner in enumerate(value[:5]):
            found += paths(inner, prefix + (index,))
    return found


DOOR = ("replace", "replace", "drop", "deep", "stringify")  # what the door's fuzz does
ALIKE = ("alike", "alike", "alike", "drop", "replace")  # mostly values of the same type, which pass a schema
# Texts that look like ids and are not quite: other scripts' digits (``str.isdigit`` and ``int`` take them), signs,
# underscores, spaces, path fragments, other cases, leading zeros.
LOOKALIKE = st.sampled_from([
    "", " ", "0", "-1", "+5158", "5_158", "05158", " 5158", "5158\n", "\u0665\u0661\u0665\u0668", "\uff15\uff11\uff15\uff18", "\u00b2",
    "9" * 30, "1e5", "0x10", "nan", "inf", "KAN-3/comment", "kan-3", "KAN-03", "KAN-3?x=1", "KAN-0", "-KAN-3", "KAN--3", "KAN-3 ",
    "1719209506", "1719209506.817929 ", "-1.0", "1e9", "C06NRA6JLER/x", "slack:T:C", "slack:T06NRA6HM3P:C06NRA6JLER:1.0:x", "zen:ticket:",
    "zen:ticket:x", "x" * 300, "\ud800", "a\u0000b", "<@U06NU4E26M9>", "*", "%2F..%2F",
])


def alike(data: st.DataObject, value: Any) -> Any:
    """A value of the same JSON type as ``value``: an odd number for a number, an id-like text for a text (or the
    text itself with something added, or its digits in another script)."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return data.draw(st.sampled_from([0, -1, 1, 2**31, 2**53 + 1, 2**63, 10**20, -(10**20)]) | st.integers())
    if isinstance(value, float):
        return data.draw(st.floats(allow_nan=False, allow_infinity=False))
    if isinstance(value, str):
        how = data.draw(st.sampled_from(["sample", "sample", "suffix", "prefix", "digits"]))
        if how == "sample":
            return data.draw(LOOKALIKE)
        if how == "digits":
            return "".join(chr(0x0660 + int(c)) if c.isascii() and c.isdigit() else c for c in value)
        extra = data.draw(LOOKALIKE | st.text(max_size=5))
        return value + extra if how == "suffix" else extra + value
    return copy.deepcopy(data.draw(VALUES))


def mutate(data: st.DataObject, body: Any, kinds: tuple[str, ...] = DOOR) -> Any:
    """Apply one to three mutations at paths of ``body``, each of one of ``kinds``: replace (by any value), alike
    (a value of the same type: :func:`alike`), drop, deep (wrap in deep nesting), stringify (its JSON text)."""
    body = copy.deepcopy(body)
    for _ in range(data.draw(st.integers(1, 3))):
        where = paths(body)
        if not where:
            return copy.deepcopy(data.draw(VALUES))
        path = data.draw(st.sampled_from(where))
        parent = body
        for step in path[:-1]:
            parent = parent[step]
        kind = data.draw(st.sampled_from(kinds))
        if kind == "drop" and isinstance(parent, dict):
            del parent[path[-1]]
        elif kind == "deep":
            levels = data.draw(st.sampled_from([10, 70, 500, 5000]))
            parent[path[-1]] = deep(levels) if levels < 1000 else DEEP_MARK  # too deep for json.dumps itself
        elif kind == "stringify":
            parent[path[-1]] = json.dumps(parent[path[-1]])
        elif kind == "alike":
            parent[path[-1]] = alike(data, parent[path[-1]])
        else:
            parent[path[-1]] = copy.deepcopy(data.draw(VALUES))  # NASTY holds mutable samples
    return body


def encoded(data: st.DataObject, body: Any, *, garbage: bool = True) -> bytes:
    """``body`` as JSON bytes (a mark of :func:`deep` made too deep for ``json.dumps``); with ``garbage``, one time
    in ten some bytes that are no such body."""
    if garbage and data.draw(st.integers(0, 9)) == 0:
        return data.draw(st.binary(max_size=200) | st.sampled_from([b"[" * 100_000, b"", b"null", b'{"a": NaN}', b"\xff\xfe{}", b"payload={}&x=\x00"]))
    return json.dumps(body).encode().replace(json.dumps(DEEP_MARK).encode(), b"[" * 5000 + b"]" * 5000)


def header_text() -> st.SearchStrategy[str]:
    return st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=40)



def slack_request(data: st.DataObject, raw: bytes) -> tuple[bytes, dict[str, str]]:
    form = data.draw(st.booleans())
    if form:
        from urllib.parse import urlencode

        raw = urlencode({"payload": raw.decode("utf-8", "replace")}).encode()
    return raw, {"Content-Type": "application/x-www-form-urlencoded" if form else "application/json"}


def signers() -> dict[str, Callable[[bytes], dict[str, str]]]:
    def zendesk(body: bytes) -> dict[str, str]:
        ts = utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")
        return {zendesk_verify.SIGNATURE_HEADER: zendesk_verify.sign("s3cret", ts, body), zendesk_verify.TIMESTAMP_HEADER: ts}

    return {"slack": slack_sign, "zendesk": zendesk, "jira": lambda body: {"X-Hub-Signature": jira_events.sign("s3cret", body)}}
