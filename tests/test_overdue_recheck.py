"""An answer handed to a person at its deadline while Zendesk could not say whether it has it is asked about again
(``interceptor/overdue_recheck.py``).

The answer's post fails (its response lost after Zendesk applied it, or a 503); Zendesk stays down past the
deadline, so the deadline's look-up fails too and the answer goes to a person (escalated, a draft). Later rounds
of the deadline sweep ask again: when Zendesk has the answer, ``/api/v1/stats`` says answered (and escalated
after the answer: a person was asked to help), with no second post and no second draft; when it has not, the
row is finished; a look-up that keeps failing is asked every minute until the retry horizon, hourly after, and
not after the documented bound. Zendesk is faked at the transport (``responses``), on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
import responses

from app import Hub, build_hub, create_app
from config import load_settings
from connectors.zendesk.connector import key_tag
from core.db import OutboxAction, OutcomeRow
from interceptor.kb.importer import import_articles, parse_markdown
from interceptor.overdue_recheck import ASK_HOURLY_FOR
from tests.conftest import settings_dict
from tests.test_jsm_escalate_once import perform_due
from tests.test_overdue_lookup import TICKET, ZendeskTicket, rows, zendesk_api  # noqa: F401 - a fixture
from tests.test_slack_flow import ARTICLES
from tests.test_zendesk_connector import API, ZENDESK
from tests.test_zendesk_webhook import post

TOKEN = "s3cret-admin-token"
FIGURES = ("requests", "answered", "escalated", "escalated_after_answer", "escalated_direct", "unposted", "deflected")


def stats(hub: Hub) -> dict[str, int]:
    """The figures ``GET /api/v1/stats`` serves."""
    got = create_app(hub=hub).test_client().get("/api/v1/stats", headers={"Authorization": f"Bearer {TOKEN}"})
    assert got.status_code == 200
    return {k: got.get_json()["counts"][k] for k in FIGURES}


def sweep(hub: Hub, at: datetime) -> int:
    """One round of the answer-deadline sweep at ``at``, its writes then handed to the workers."""
    handed = hub.pipeline.escalate_unposted(now=at)
    hub.jobs.drain()  # type: ignore[attr-defined]
    return handed


def lookups(api: responses.RequestsMock) -> int:
    """How many times the hub read the ticket (the look-up for its answer's tag)."""
    return sum(1 for c in api.calls if c.request.method == "GET" and c.request.url.startswith(f"{API}/tickets/{TICKET}.json"))


class WritesRefused(ZendeskTicket):
    """``refuse_writes`` answers every update with 503 (Zendesk applies nothing), reads still served."""

    refuse_writes = False

    def update(self, request: Any) -> tuple[int, dict[str, str], str]:
        if self.refuse_writes:
            return 503, {"Content-Type": "application/json"}, '{"error": "Service Unavailable"}'
        return super().update(request)


def handed_over_unknown(database_url: str, api: responses.RequestsMock, *, applied: bool) -> tuple[Hub, WritesRefused, OutboxAction]:
    """A new ticket answered; the post's response is lost after Zendesk applied it (``applied``), or Zendesk
    answers it with 503 and applies nothing. Zendesk stays down past the deadline: the deadline's look-up fails,
    and the answer is handed to a person."""
    desk = WritesRefused(api)
    desk.lose, desk.refuse_writes = int(applied), not applied
    hub = build_hub(load_settings(settings_dict(database_url, **ZENDESK, HUB_ADMIN_TOKEN=TOKEN,
                                                HUB_CHANNEL_POLICIES={"zendesk": {"threshold": 0.5}})))
    import_articles(hub.db, (parse_markdown(text, name) for name, text in ARTICLES.items()))
    assert post(create_app(hub=hub).test_client(), "event_ticket_created.json").get_json()["status"] == "accepted"
    hub.jobs.drain()  # type: ignore[attr-defined]
    desk.down = True
    [answer] = rows(hub, OutboxAction)
    assert answer.status == "pending" and answer.last_error is not None
    assert sweep(hub, deadline(hub, answer)) == 1
    answer_row, draft_row = rows(hub, OutboxAction)
    assert (answer_row.status, answer_row.finished_at) == ("superseded", None)  # handed over, still to be asked about
    assert "whether it was posted failed" in (answer_row.last_error or "")
    assert (draft_row.action, draft_row.status) == ("add_internal_note", "pending")
    assert [(o.kind, o.detail) for o in rows(hub, OutcomeRow)] == [("escalated", {"reason": "answer_not_posted"})]
    return hub, desk, answer


def deadline(hub: Hub, answer: OutboxAction) -> datetime:
    return answer.created_at + timedelta(seconds=hub.settings.answer_deadline_seconds)


# Found in the minute after the hand-over, or in the last hourly look-up before the bound (found by the state
# machine of tests/test_stats_truth_under_faults.py: that round also marked the row given up).
@pytest.mark.parametrize("found_after", [timedelta(minutes=2), timedelta(days=1) + ASK_HOURLY_FOR], ids=["next-minute", "at-the-bound"])
def test_an_answer_zendesk_turns_out_to_have_counts_as_answered_and_escalated(
    database_url: str, zendesk_api: responses.RequestsMock, found_after: timedelta
) -> None:
    hub, desk, answer = handed_over_unknown(database_url, zendesk_api, applied=True)
    try:
        at = deadline(hub, answer)
        assert stats(hub) == {"requests": 1, "answered": 0, "escalated": 1, "escalated_after_answer": 0,
                              "escalated_direct": 1, "unposted": 0, "deflected": 0}
        assert sweep(hub, at + timedelta(minutes=1)) == 0  # still down: asked, and asked again a minute later
        desk.down = False
        perform_due(hub)  # the draft reaches the agents
        assert sweep(hub, at + found_after) == 0
        answer_row, draft_row = rows(hub, OutboxAction)
        assert (answer_row.status, answer_row.result) == ("done", {"external_id": f"{TICKET}:{key_tag(answer.idempotency_key)}",
                                                                     "url": f"http://127.0.0.1:8765/agent/tickets/{TICKET}"})
        assert answer_row.last_error is None and draft_row.status == "done"
        assert sorted(o.kind for o in rows(hub, OutcomeRow)) == ["answer_posted", "escalated"]
        # The requester has the hub's answer, and a person was asked to help: answered, and escalated after it.
        assert stats(hub) == {"requests": 1, "answered": 1, "escalated": 1, "escalated_after_answer": 1,
                              "escalated_direct": 0, "unposted": 0, "deflected": 0}
        asked = lookups(zendesk_api)
        assert sweep(hub, at + found_after + timedelta(minutes=1)) == 0
        perform_due(hub)
        assert lookups(zendesk_api) == asked  # settled: never asked about again
        # One public answer (the lost one), one draft: nothing posted or drafted twice.
        assert [u["comment"]["public"] for u in desk.updates] == [True, False]
        assert len(rows(hub, OutboxAction)) == 2 and len(rows(hub, OutcomeRow)) == 2
    finally:
        hub.close()


def test_an_answer_zendesk_does_not_have_is_finished_and_stays_escalated(
    database_url: str, zendesk_api: responses.RequestsMock
) -> None:
    hub, desk, answer = handed_over_unknown(database_url, zendesk_api, applied=False)
    try:
        desk.down = desk.refuse_writes = False
        at = deadline(hub, answer) + timedelta(minutes=1)
        assert sweep(hub, at) == 0
        answer_row = rows(hub, OutboxAction)[0]
        assert (answer_row.status, answer_row.finished_at) == ("superseded", at)
        assert "asked again: zendesk does not have it" in (answer_row.last_error or "")
        perform_due(hub)
        assert [u["comment"]["public"] for u in desk.updates] == [False]  # the draft only: the answer never was
        asked = lookups(zendesk_api)
        assert sweep(hub, at + timedelta(minutes=1)) == 0 and lookups(zendesk_api) == asked
        assert [o.kind for o in rows(hub, OutcomeRow)] == ["escalated"]
        assert stats(hub) == {"requests": 1, "answered": 0, "escalated": 1, "escalated_after_answer": 0,
                              "escalated_direct": 1, "unposted": 0, "deflected": 0}
    finally:
        hub.close()


def test_a_look_up_that_keeps_failing_backs_off_then_stops(database_url: str, zendesk_api: responses.RequestsMock) -> None:
    hub, desk, answer = handed_over_unknown(database_url, zendesk_api, applied=True)
    try:
        horizon_end = answer.created_at + timedelta(seconds=hub.settings.retry_horizon_seconds)

        def asked_at(at: datetime) -> bool:
            before = lookups(zendesk_api)
            sweep(hub, at)
            return lookups(zendesk_api) > before

        # Every minute (not every round: the sweep runs every few seconds) until the retry horizon, then hourly,
        # then, past the bound, never again.
        assert not asked_at(deadline(hub, answer) + timedelta(seconds=30))
        assert [asked_at(deadline(hub, answer) + timedelta(minutes=m)) for m in (1, 2, 3)] == [True, True, True]
        assert not asked_at(deadline(hub, answer) + timedelta(minutes=3, seconds=30))
        assert asked_at(horizon_end - timedelta(minutes=1))
        assert asked_at(horizon_end + timedelta(minutes=1))
        assert not asked_at(horizon_end + timedelta(minutes=2))
        assert not asked_at(horizon_end + timedelta(minutes=59))
        assert asked_at(horizon_end + timedelta(minutes=62))
        assert rows(hub, OutboxAction)[0].finished_at is None
        given_up = horizon_end + ASK_HOURLY_FOR + timedelta(hours=1)
        assert asked_at(given_up)
        answer_row = rows(hub, OutboxAction)[0]
        assert (answer_row.status, answer_row.finished_at) == ("superseded", given_up)
        assert "gave up asking zendesk whether it was posted" in (answer_row.last_error or "")
        assert not asked_at(given_up + timedelta(days=1))
        assert [o.kind for o in rows(hub, OutcomeRow)] == ["escalated"]
        assert [u["comment"]["public"] for u in desk.updates] == [True]  # the lost answer; the draft still waits
    finally:
        hub.close()
