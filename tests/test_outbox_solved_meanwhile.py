"""An answer that waited in the outbox is not posted onto a ticket people solved meanwhile.

Zendesk (or Jira) refuses the hub's answer with a 503; while the answer waits for its retry, an agent solves or
closes the ticket (the vendor's read now says so). The retry asks the vendor first: it posts nothing (a public
comment would set a solved Zendesk ticket back to pending, and a closed one refuses it), the outbox row ends
``done`` (not ``failed``: ``/healthz`` stays 200), the request records an ``already_solved`` outcome instead of
``answer_posted``, and ``/api/v1/stats`` counts it in the ``already_solved`` bucket: neither answered nor
deflected. A retry on a ticket still open posts the answer once. Vendors are faked at the transport
(:mod:`tests.outage_world`); the test drives the clock.
"""

from __future__ import annotations

from typing import Any, Iterator

import pytest
import responses
from prometheus_client import REGISTRY
from sqlalchemy import select

from core.db import OutcomeRow
from tests.outage_world import ADMIN, Jira, Zendesk, health, inbox_row, make_hub, next_at, outbox_rows, run_outbox, server_error
from tests.test_outage_reads import decisions, settled

QUESTION = "I forgot my password, how do I reset it?"
# What an agent leaves the ticket at: Zendesk's status, or a Jira status of the "done" category whose name the
# hub does not know (JSM's "Canceled"), read by its category.
SOLVED = {
    "zendesk": [{"status": "solved"}, {"status": "closed"}],
    "jira": [{"status": {"name": "Canceled", "statusCategory": {"key": "done", "name": "Done"}}}],
}


@pytest.fixture
def api() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def vendor(api: responses.RequestsMock, name: str) -> Any:
    """The vendor's fake, holding a password question the hub answers."""
    return Zendesk(api, QUESTION) if name == "zendesk" else Jira(api, "Password", QUESTION)


def solve(fake: Any, fields: dict[str, Any]) -> None:
    """An agent's work in the vendor, while the hub's answer waits: what the vendor's reads return from now on."""
    (fake.shown["ticket"] if isinstance(fake, Zendesk) else fake.issue["fields"]).update(fields)


def outcomes(hub: Any) -> list[str]:
    with hub.db.session() as s:
        return list(s.scalars(select(OutcomeRow.kind).order_by(OutcomeRow.id)))


def stats(client: Any) -> dict[str, Any]:
    response = client.get("/api/v1/stats", headers=ADMIN)
    assert response.status_code == 200
    return dict(response.get_json())


def counted(connector: str, outcome: str = "already_solved") -> float:
    return REGISTRY.get_sample_value("hub_outbox_actions_total", {"connector": connector, "outcome": outcome}) or 0.0


def shown_withheld(client: Any, kind: str, why: str) -> None:
    """The one request is in the ``kind`` bucket of ``/api/v1/stats`` (not answered, deflected, escalated nor
    unposted), its decision and the decision's admin page say its answer was not posted and ``why``, and nothing
    waits or failed (``/healthz`` is 200 ok)."""
    doc = stats(client)
    counts = doc["counts"]
    assert (counts["requests"], counts["answered"], counts["deflected"], counts["escalated"], counts["unposted"]) == (1, 0, 0, 0, 0)
    taken = ("already_solved", "already_replied", "already_noted")  # the buckets of requests people took while it waited
    assert {k: counts[k] for k in taken} == {k: int(k == kind) for k in taken} and doc["split"][kind] == 1
    assert doc["rates"]["answer_rate"] == 0.0 and doc["rates"]["deflection_rate"] == 0.0
    decision_id = client.get("/api/v1/decisions", headers=ADMIN).get_json()["decisions"][0]["id"]
    detail = client.get(f"/api/v1/decisions/{decision_id}", headers=ADMIN).get_json()
    assert detail["bucket"] == kind and [w["withheld"] for w in detail["writes"]] == [kind]
    page = client.get(f"/admin/decisions/{decision_id}", headers=ADMIN).get_data(as_text=True)
    assert f"done · not posted: {why}" in page
    settled(client)


def answer_waits(fake: Any, client: Any, hub: Any) -> Any:
    """The request is decided ANSWER and its write meets a 503: the answer waits in the outbox."""
    fake.writes.script = [server_error(503)]
    assert fake.deliver(client) == "accepted"
    hub.jobs.drain()  # type: ignore[attr-defined]
    assert inbox_row(hub).status == "done" and decisions(hub) == 1
    [answer] = outbox_rows(hub)
    assert (answer.idempotency_key, answer.status, answer.attempts) == (f"answer:{answer.ticket_ref}", "pending", 1)
    assert len(fake.sent) == 1 and fake.applied == []
    return answer


@pytest.mark.parametrize("name,fields", [(name, fields) for name, solved in SOLVED.items() for fields in solved])
def test_an_answer_is_not_posted_onto_a_ticket_solved_while_it_waited(database_url: str, api: responses.RequestsMock,
                                                                      name: str, fields: dict[str, Any]) -> None:
    fake = vendor(api, name)
    hub, client = make_hub(database_url, name)
    try:
        answer = answer_waits(fake, client, hub)
        solve(fake, fields)
        before = counted(name)
        assert run_outbox(hub, next_at(answer)) == 1
        [row] = outbox_rows(hub)
        assert (row.status, row.attempts, row.last_error) == ("done", 2, None)
        status = "closed" if fields.get("status") == "closed" else "solved"
        assert row.result == {"withheld": "already_solved", "status": status}
        assert len(fake.sent) == 1 and fake.applied == []  # the failed attempt only: no comment, no second write
        if isinstance(fake, Jira):
            assert fake.labels == []  # nor the answer's "hub_answered" label
        assert counted(name) == before + 1
        assert outcomes(hub) == ["already_solved"]  # never answer_posted

        shown_withheld(client, "already_solved", "people solved the ticket while it waited")
        assert health(client)[0] == 200
        assert run_outbox(hub, next_at(row)) == 0 and len(fake.sent) == 1  # nothing is tried again
    finally:
        hub.close()


@pytest.mark.parametrize("name", ["zendesk", "jira"])
def test_an_answer_retried_on_a_ticket_still_open_is_posted_once(database_url: str, api: responses.RequestsMock, name: str) -> None:
    fake = vendor(api, name)
    hub, client = make_hub(database_url, name)
    try:
        answer = answer_waits(fake, client, hub)
        if isinstance(fake, Zendesk):
            solve(fake, {"status": "pending"})  # an agent asked the requester something: still open to answers
        reads = len(fake.reads.log)
        assert run_outbox(hub, next_at(answer)) == 1
        [row] = outbox_rows(hub)
        assert (row.status, row.attempts) == ("done", 2) and "withheld" not in (row.result or {})
        assert len(fake.applied) == 1 and len(fake.sent) == 2 and fake.sent[1] == fake.sent[0]  # the same write, once
        status_read = "/tickets/5158.json" if isinstance(fake, Zendesk) else "/issue/KAN-3"
        assert any(path.endswith(status_read) for _, path, _ in fake.reads.log[reads:])  # asked before posting
        if isinstance(fake, Zendesk):
            assert fake.applied[0]["public"] is True
        else:
            assert fake.labels == ["hub_answered"]
        assert outcomes(hub) == ["answer_posted"]
        counts = stats(client)["counts"]
        assert (counts["requests"], counts["answered"], counts["unposted"], counts["already_solved"]) == (1, 1, 0, 0)
        settled(client)
    finally:
        hub.close()
