"""A ``Retry-After`` that names no time: a vendor (or a proxy before it) answering 429 with ``Retry-After: nan``.

Python's ``float()`` reads ``nan`` (and ``NaN``, ``-nan``), and the retry time made from it could not be computed: the
job died outside its error boundary, the row stayed ``running`` with no error and was taken again at every lease
expiry, a minute apart, for the whole retry horizon. Such a header says no usable time, like a 429 without one:
the row waits a minute (``work.RATE_LIMIT_WAIT_SECONDS``), uses no attempt, and is decided once the vendor is back.
Vendors are faked at the transport (:mod:`tests.outage_world`); the test drives the clock.
"""

from __future__ import annotations

from typing import Any, Iterator

import pytest
import responses

from core import work
from tests.outage_world import JSON, Jira, Zendesk, after, inbox_row, make_hub, next_at, run_inbox
from tests.test_outage_reads import decisions


@pytest.fixture
def api() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def limited(value: str) -> tuple[int, dict[str, str], str]:
    return 429, {**JSON, "Retry-After": value}, '{"error": "TooManyRequests", "errorMessages": ["Rate limit exceeded"]}'


@pytest.mark.parametrize("value", ["nan", "NaN", "-nan"])
@pytest.mark.parametrize("vendor", ["zendesk", "jira"])
def test_a_retry_after_that_is_not_a_number_waits_a_minute(database_url: str, api: responses.RequestsMock, vendor: str, value: str) -> None:
    fake: Any = Zendesk(api) if vendor == "zendesk" else Jira(api)
    fake.reads.script = [limited(value)]
    hub, client = make_hub(database_url, vendor)
    try:
        assert fake.deliver(client) == "accepted"
        hub.jobs.drain()  # type: ignore[attr-defined]
        [(limited_at, _)] = fake.reads.failures()
        row = inbox_row(hub)
        assert (row.status, row.attempts) == ("pending", 0) and "429" in (row.last_error or "")
        assert next_at(row) >= after(limited_at, work.RATE_LIMIT_WAIT_SECONDS)
        assert run_inbox(hub, next_at(row)) == 1
        assert inbox_row(hub).status == "done" and decisions(hub) == 1 and len(fake.applied) == 1
    finally:
        hub.close()
