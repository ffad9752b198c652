"""An answer past its deadline whose earlier attempt may have reached the vendor is looked up before it is
handed to a person (``interceptor/overdue.py``).

The answer's first post reaches the vendor but its response is lost; the vendor then fails; the deadline
passes. If the vendor, asked the way a retry asks (Zendesk: the write's key tag on the ticket; Slack: the
reply's metadata in ``conversations.replies``), has the answer, the row is done and the request counts as
answered, with no hand-over. If the look-up fails too, the answer goes to a person as before and counts as
escalated (later rounds ask again: tests/test_overdue_recheck.py). Vendors are faked at the transport:
stateful ``responses`` callbacks for Zendesk, the local stub server for Slack.
"""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from typing import Any, Callable, Iterator

import pytest
import requests
import responses
from sqlalchemy import select

from app import Hub, build_hub, create_app
from config import load_settings
from connectors.zendesk.connector import key_tag
from core import outbox
from core.analytics import Costs, parse_period, stats
from core.db import OutboxAction, OutcomeRow
from core.models import utcnow
from interceptor.kb.importer import import_articles, parse_markdown
from tests.conftest import settings_dict
from tests.slack_stub import SlackStub
from tests.test_jsm_escalate_once import perform_due
from tests.test_slack_flow import ARTICLES, CHANNEL, ROOT_TS, USER, ask
from tests.test_slack_flow import make_hub as make_slack_hub
from tests.test_zendesk_connector import API, ZENDESK
from tests.test_zendesk_mapping import load
from tests.test_zendesk_webhook import post

TICKET = "5158"
QUESTION = "I forgot my password, how do I reset it?"
JSON = {"Content-Type": "application/json"}


def rows(hub: Hub, model: Any) -> list[Any]:
    with hub.db.session() as s:
        return list(s.scalars(select(model).order_by(model.id)))


def counts(hub: Hub) -> dict[str, Any]:
    with hub.db.session() as s:
        doc = stats(s, parse_period(None, None, now=utcnow()), channel=None, costs=Costs(10.0, 1.0), now=utcnow())
    return {k: doc["counts"][k] for k in ("requests", "answered", "escalated", "unposted")}


def past_deadline(hub: Hub, answer: OutboxAction) -> int:
    """Run the answer-deadline sweep as the scheduler would, once the answer is past its deadline."""
    handed = hub.pipeline.escalate_unposted(now=answer.created_at + timedelta(seconds=hub.settings.answer_deadline_seconds))
    hub.jobs.drain()  # type: ignore[attr-defined]
    return handed


# -- Zendesk -----------------------------------------------------------------------------------------


class ZendeskTicket:
    """Ticket 5158. An update adds its comment and its tags together, as Zendesk does; the first update's
    response is lost (a read timeout after Zendesk applied it); ``down`` answers every ticket call with 503."""

    def __init__(self, api: responses.RequestsMock) -> None:
        self.shown = load("ticket_show.json")
        self.shown["ticket"].update(id=int(TICKET), subject="Password", description=QUESTION, status="new")
        self.updates: list[dict[str, Any]] = []
        self.lose, self.down = 1, False
        self.while_shown: Callable[[], None] = lambda: None
        listed = load("ticket_comments.json")
        listed["comments"] = [copy.deepcopy(listed["comments"][0]) | {"id": 101, "body": QUESTION, "plain_body": QUESTION}]
        api.get(f"{API}/users/me.json", json=load("users_me.json"))
        api.get(f"{API}/users/show_many.json", json=load("users_show_many.json"))
        api.get(f"{API}/tickets/{TICKET}/comments.json", json=listed)
        api.add_callback("GET", f"{API}/tickets/{TICKET}.json", callback=self.show)
        api.add_callback("PUT", f"{API}/tickets/{TICKET}.json", callback=self.update)

    def show(self, request: Any) -> tuple[int, dict[str, str], str]:
        if self.down:
            return 503, JSON, json.dumps({"error": "Service Unavailable"})
        self.while_shown()
        return 200, JSON, json.dumps(self.shown)

    def update(self, request: Any) -> tuple[int, dict[str, str], str]:
        if self.down:
            return 503, JSON, json.dumps({"error": "Service Unavailable"})
        ticket = json.loads(request.body)["ticket"]
        self.updates.append(ticket)
        tags = self.shown["ticket"]["tags"]
        tags.extend(t for t in ticket.get("additional_tags", ()) if t not in tags)
        if self.lose:
            self.lose -= 1
            raise requests.exceptions.ReadTimeout("the response was lost")
        return 200, JSON, json.dumps(load("ticket_update_response.json"))


@pytest.fixture
def zendesk_api() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def answer_lost_then_outage(database_url: str, api: responses.RequestsMock) -> tuple[Hub, ZendeskTicket, OutboxAction]:
    """A new ticket answered: Zendesk applies the answer, its response is lost; then Zendesk goes down and the
    outbox's retry, asking first whether the answer is there, fails too."""
    desk = ZendeskTicket(api)
    hub = build_hub(load_settings(settings_dict(database_url, **ZENDESK, HUB_CHANNEL_POLICIES={"zendesk": {"threshold": 0.5}})))
    import_articles(hub.db, (parse_markdown(text, name) for name, text in ARTICLES.items()))
    assert post(create_app(hub=hub).test_client(), "event_ticket_created.json").get_json()["status"] == "accepted"
    hub.jobs.drain()  # type: ignore[attr-defined]
    [answer] = rows(hub, OutboxAction)
    assert (answer.status, answer.attempts) == ("pending", 1) and "ReadTimeout" in (answer.last_error or "")
    assert [u["comment"]["public"] for u in desk.updates] == [True]  # on the ticket, unknown to the hub
    desk.down = True
    perform_due(hub, rounds=1)
    [answer] = rows(hub, OutboxAction)
    assert (answer.status, answer.attempts) == ("pending", 2) and "503" in (answer.last_error or "")
    return hub, desk, answer


def test_zendesk_an_answer_the_vendor_has_is_not_handed_over_at_the_deadline(
    database_url: str, zendesk_api: responses.RequestsMock
) -> None:
    hub, desk, answer = answer_lost_then_outage(database_url, zendesk_api)
    try:
        desk.down = False  # Zendesk answers again by the deadline
        deadline = answer.created_at + timedelta(seconds=hub.settings.answer_deadline_seconds)
        raced: list[str | None] = []
        # While the sweep asks Zendesk, a worker due to retry the answer cannot take it (it would post again).
        desk.while_shown = lambda: raced.append(outbox.perform(hub.db, hub.jobs, answer.id, hub.performers, deadline + timedelta(seconds=5)))
        assert past_deadline(hub, answer) == 0
        assert raced == [None]
        [row] = rows(hub, OutboxAction)  # no draft, no other write
        assert row.status == "done" and row.last_error is None
        assert row.result == {"external_id": f"{TICKET}:{key_tag(answer.idempotency_key)}", "url": f"http://127.0.0.1:8765/agent/tickets/{TICKET}"}
        assert [(u["comment"]["public"], "Forgot password" in u["comment"]["body"]) for u in desk.updates] == [(True, True)]
        assert [o.kind for o in rows(hub, OutcomeRow)] == ["answer_posted"]
        assert counts(hub) == {"requests": 1, "answered": 1, "escalated": 0, "unposted": 0}
        assert past_deadline(hub, answer) == 0  # a second sweep finds nothing to do
    finally:
        hub.close()


def test_zendesk_an_answer_that_cannot_be_looked_up_is_handed_over_at_the_deadline(
    database_url: str, zendesk_api: responses.RequestsMock
) -> None:
    hub, desk, answer = answer_lost_then_outage(database_url, zendesk_api)
    try:
        assert past_deadline(hub, answer) == 1  # Zendesk still down: the look-up fails, silence is worse
        answer_row, draft_row = rows(hub, OutboxAction)
        assert answer_row.status == "superseded" and "whether it was posted failed" in (answer_row.last_error or "")
        assert (draft_row.action, draft_row.status) == ("add_internal_note", "pending")  # waits out the outage
        assert [(o.kind, o.detail) for o in rows(hub, OutcomeRow)] == [("escalated", {"reason": "answer_not_posted"})]
        desk.down = False
        perform_due(hub)
        assert [u["comment"]["public"] for u in desk.updates] == [True, False]  # the lost answer, then the draft
        assert "could not be posted" in desk.updates[1]["comment"]["body"]
        assert [r.status for r in rows(hub, OutboxAction)] == ["superseded", "done"]
        assert [o.kind for o in rows(hub, OutcomeRow)] == ["escalated"]  # no later round has asked again yet
        assert counts(hub) == {"requests": 1, "answered": 0, "escalated": 1, "unposted": 0}
    finally:
        hub.close()


# -- Slack -------------------------------------------------------------------------------------------


class LosesFirstPost(SlackStub):
    """Slack posts the first ``chat.postMessage`` but answers it with a 503 (the response is lost)."""

    def __init__(self) -> None:
        super().__init__()
        self.lose = 1

    def answer(self, api: str, args: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
        status, body, headers = super().answer(api, args)
        if api == "chat.postMessage" and body.get("ok") and self.lose:
            self.lose -= 1
            return 503, {"ok": False, "error": "service_unavailable"}, {}
        return status, body, headers


@pytest.fixture
def slack() -> Iterator[LosesFirstPost]:
    server = LosesFirstPost().start()
    server.users[USER] = {"id": USER, "name": "ada", "real_name": "Ada Lovelace", "profile": {"email": "ada@example.com"}}
    yield server
    server.stop()


@pytest.mark.parametrize("slack_answers", [True, False], ids=["lookup-finds-it", "lookup-fails"])
def test_slack_an_answer_in_the_thread_is_looked_up_before_the_hand_over(
    sqlite_url: str, slack: LosesFirstPost, slack_answers: bool
) -> None:
    hub = make_slack_hub(sqlite_url, slack)
    try:
        ask(create_app(hub=hub).test_client(), slack, QUESTION, ROOT_TS)
        hub.jobs.drain()  # type: ignore[attr-defined]
        [answer] = rows(hub, OutboxAction)
        assert (answer.status, answer.attempts) == ("pending", 1)
        [posted] = slack.threads[(CHANNEL, ROOT_TS)][1:]  # in the thread, unknown to the hub
        assert posted["metadata"]["event_payload"]["key"] == answer.idempotency_key
        before = len(slack.calls_to("conversations.replies"))
        if not slack_answers:
            slack.fail("conversations.replies", status=503, error="service_unavailable")
        handed = past_deadline(hub, answer)
        [lookup] = slack.calls_to("conversations.replies")[before:before + 1]
        assert lookup.args["ts"] == ROOT_TS and str(lookup.args["include_all_metadata"]).lower() in ("1", "true")
        outbox_rows = rows(hub, OutboxAction)
        kinds = [o.kind for o in rows(hub, OutcomeRow)]
        if slack_answers:
            assert handed == 0 and [(r.status, r.result) for r in outbox_rows] == [("done", {"external_id": posted["ts"], "url": None})]
            assert len(slack.calls_to("chat.postMessage")) == 1 and kinds == ["answer_posted"]
            assert counts(hub) == {"requests": 1, "answered": 1, "escalated": 0, "unposted": 0}
        else:
            assert handed == 1 and outbox_rows[0].status == "superseded" and kinds == ["escalated"]
            by_channel = {c.args["channel"]: c.args for c in slack.calls_to("chat.postMessage")[1:]}  # done in either order
            assert sorted(by_channel) == sorted([CHANNEL, "CTRIAGE01"]) and by_channel[CHANNEL]["thread_ts"] == ROOT_TS
            assert "could not be posted" in json.dumps(by_channel["CTRIAGE01"])  # the draft, in the triage channel
            assert counts(hub) == {"requests": 1, "answered": 0, "escalated": 1, "unposted": 0}
    finally:
        hub.close()
