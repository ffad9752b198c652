"""The hub's Zendesk flows against the independent stand-in (tests/vendor_standins.py), which answers as
Zendesk documents: a ticket arriving by webhook and by polling is answered once; a lost answer is found
again on retry; a concurrent update (409) is retried; a ticket of record is found again; reads survive
cursor and offset pagination, more than 100 authors, deleted authors, ``html_body``-only comments and
missing ``via``."""

from __future__ import annotations

import json
from typing import Any, Iterator

import pytest
import responses
from sqlalchemy import select

from app import build_hub, create_app
from config import load_settings
from connectors.zendesk import ZendeskConnector, verify
from core.db import InboxEvent
from core.errors import Fatal, Retriable
from core.models import Person, Source, TicketRef, Visibility, utcnow
from interceptor.kb.importer import import_articles, parse_markdown
from tests.conftest import settings_dict
from tests.test_slack_flow import ARTICLES
from tests.vendor_standins import ZendeskStandin, attempts, enqueue, lost_hand_off

BASE = "http://127.0.0.1:8791"
SETTINGS = {"ZENDESK_URL": BASE, "ZENDESK_EMAIL": "hub@example.com", "ZENDESK_API_TOKEN": "tok", "ZENDESK_WEBHOOK_SECRET": "s3cret"}
QUESTION = "I forgot my password, how do I reset it?"
ADA = 361


@pytest.fixture
def desk() -> Iterator[ZendeskStandin]:
    standin = ZendeskStandin(BASE)
    standin.user(ADA, "Ada", "ada@example.com")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        standin.install(mock)
        yield standin


def hub_for(url: str, **more: Any) -> Any:
    hub = build_hub(load_settings(settings_dict(url, **SETTINGS, HUB_CHANNEL_POLICIES={"zendesk": {"threshold": 0.5}}, **more)))
    import_articles(hub.db, (parse_markdown(text, name) for name, text in ARTICLES.items()))
    return hub


def event_body(kind: str, ticket: dict[str, Any], at: str = "2026-01-01T10:00:00.123456789Z", **event: Any) -> bytes:
    """A ``zen:event-type:ticket.*`` webhook as documented: string ids, upper-case enums, nanosecond time (``at``)."""
    detail = {"id": str(ticket["id"]), "requester_id": str(ticket["requester_id"]), "submitter_id": str(ticket["requester_id"]),
              "actor_id": str(ticket["requester_id"]), "status": str(ticket["status"]).upper(), "tags": ticket["tags"],
              "subject": ticket["subject"], "created_at": ticket["created_at"], "updated_at": ticket["updated_at"]}
    return json.dumps({"type": f"zen:event-type:ticket.{kind}", "account_id": 22129848, "id": f"evt-{kind}-{ticket['id']}",
                       "subject": f"zen:ticket:{ticket['id']}", "time": at,
                       "zendesk_event_version": "2022-11-06", "detail": detail, "event": event}).encode()


def deliver(client: Any, body: bytes, invocation: str) -> Any:
    ts = utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")
    return client.post("/webhooks/zendesk", data=body, headers={
        verify.SIGNATURE_HEADER: verify.sign("s3cret", ts, body), verify.TIMESTAMP_HEADER: ts,
        "X-Zendesk-Webhook-Invocation-Id": invocation, "Content-Type": "application/json"})


def hub_comments(desk: ZendeskStandin, tid: int, public: bool) -> list[dict[str, Any]]:
    return [c for c in desk.comments[tid] if c["author_id"] == desk.me and c["public"] is public]


@pytest.mark.parametrize("ids", [str, int])
def test_a_ticket_by_webhook_is_answered_once_in_public(sqlite_url: str, desk: ZendeskStandin, ids: Any) -> None:
    """The event webhook's ids are documented as strings; numbers (as the REST API writes them) are read alike."""
    tid = desk.ticket(5158, "Password", ADA, (ADA, QUESTION, True))
    hub = hub_for(sqlite_url)
    client = create_app(hub=hub).test_client()
    body = json.loads(event_body("created", desk.tickets[tid]))
    body["detail"] = {k: ids(v) if k.endswith("id") and v else v for k, v in body["detail"].items()}
    assert deliver(client, json.dumps(body).encode(), "inv-1").get_json()["status"] == "accepted"
    assert deliver(client, json.dumps(body).encode(), "inv-2").get_json()["status"] == "duplicate"
    hub.jobs.drain()
    [answer] = hub_comments(desk, tid, public=True)
    assert "https://kb.example/reset-password" in answer["body"]
    assert "hub_answered" in desk.tickets[tid]["tags"] and desk.tickets[tid]["status"] == "pending"
    hub.close()


def test_a_ticket_found_by_polling_is_answered_once(sqlite_url: str, desk: ZendeskStandin) -> None:
    desk.clock = int(utcnow().timestamp()) - 120
    tid = desk.ticket(77, "Password", ADA, (ADA, QUESTION, True))
    hub = hub_for(sqlite_url, ZENDESK_POLL="true")
    from connectors.zendesk import scheduled_jobs
    (_, job, _), = scheduled_jobs(hub)
    assert job() == 1 and job() == 0
    hub.jobs.drain()
    assert len(hub_comments(desk, tid, public=True)) == 1
    hub.close()


def answer_action(hub: Any, tid: int) -> int:
    payload = {"ref": f"zendesk:{tid}", "text": "Reset it from the login page.", "kind": "answer"}
    return enqueue(hub, "zendesk", "post_reply", payload, f"answer:zendesk:{tid}")


@pytest.mark.parametrize("fault", ["lost", "conflict"])
def test_a_lost_or_conflicting_answer_is_retried_and_posted_once(sqlite_url: str, desk: ZendeskStandin, fault: str) -> None:
    """A dropped connection after Zendesk applied the update, or a 409 from a concurrent update of the same
    ticket (nothing applied): the retry asks the ticket first, and one public comment is the result."""
    tid = desk.ticket(5, "Password", ADA, (ADA, QUESTION, True))
    if fault == "lost":
        desk.lose("PUT", f"/api/v2/tickets/{tid}.json")
    else:
        desk.fail("PUT", f"/api/v2/tickets/{tid}.json", 409, {"error": "Conflict", "description": "The ticket was updated by another request"})
    hub = hub_for(sqlite_url)
    assert attempts(hub, answer_action(hub, tid)) == ["pending", "done"]
    assert len(hub_comments(desk, tid, public=True)) == 1
    hub.close()


def test_a_ticket_of_record_whose_answer_was_lost_is_found_not_opened_twice(sqlite_url: str, desk: ZendeskStandin) -> None:
    hub = hub_for(sqlite_url)
    ref = lost_hand_off(hub, desk, "/api/v2/tickets.json", "zendesk")
    [made] = [t for t in desk.tickets.values() if "hub_created" in t["tags"]]
    assert ref == f"zendesk:{made['id']}"
    hub.close()


def test_a_solved_ticket_of_record_is_an_update_event(sqlite_url: str, desk: ZendeskStandin) -> None:
    tid = desk.ticket(6, "Escalated chat", ADA, (desk.me, "Transcript", False), tags=("hub_created",))
    desk.tickets[tid]["status"] = "solved"
    hub = hub_for(sqlite_url)
    client = create_app(hub=hub).test_client()
    body = event_body("status_changed", desk.tickets[tid], current="SOLVED", previous="OPEN")
    assert deliver(client, body, "inv-9").get_json()["status"] == "accepted"
    with hub.db.session() as s:
        [row] = s.scalars(select(InboxEvent)).all()
    assert (row.kind, row.event["data"]["status"]) == ("updated", "solved")
    hub.close()


@pytest.fixture
def zd(desk: ZendeskStandin) -> ZendeskConnector:
    return ZendeskConnector(load_settings(SETTINGS).zendesk)  # type: ignore[arg-type]


def test_a_ticket_with_more_authors_than_one_show_many_call_takes_is_read(zd: ZendeskConnector, desk: ZendeskStandin) -> None:
    """``show_many`` takes at most 100 ids: 150 commenters are looked up in two calls, each named."""
    tid = desk.ticket(9, "Big thread", ADA, (ADA, QUESTION, True))
    for n in range(150):
        desk.comment(tid, desk.user(1000 + n, f"CC {n}", f"cc{n}@example.com"), f"me too {n}")
    ticket = zd.fetch(TicketRef(Source.ZENDESK, str(tid)))
    assert len(ticket.messages) == 151 and ticket.messages[-1].author.name == "CC 149"
    assert all(len(q["ids"][0].split(",")) <= 100 for m, p, q, _ in desk.calls if p.endswith("show_many.json"))


@pytest.mark.parametrize("variant", ["cursor", "offset"])
def test_comments_are_read_across_pages(zd: ZendeskConnector, desk: ZendeskStandin, variant: str) -> None:
    tid = desk.ticket(10, "Long", ADA, *[(ADA, f"line {n}", True) for n in range(230)])
    if variant == "offset":  # an older account's answer: offset pages with next_page, whatever was asked
        desk.routes = _offset_only(desk)  # type: ignore[method-assign]
    ticket = zd.fetch(TicketRef(Source.ZENDESK, str(tid)))
    assert [m.text for m in ticket.messages[-2:]] == ["line 228", "line 229"] and len(ticket.messages) == 230


def _offset_only(desk: ZendeskStandin) -> Any:
    routes = ZendeskStandin.routes(desk)

    def offset(q: dict[str, list[str]], b: Any, tid: str) -> Any:
        return desk._comments({k: v for k, v in q.items() if not k.startswith("page[")}, b, tid)

    return lambda: [(m, p, offset if p.endswith("/comments.json") else h) for m, p, h in routes]


def test_comment_variants_are_read_as_documented(zd: ZendeskConnector, desk: ZendeskStandin) -> None:
    """A deleted author (left out of ``show_many``), an html_body-only comment, a comment without ``via``, a
    system comment without an author."""
    tid = desk.ticket(11, "Variants", ADA, (ADA, QUESTION, True))
    gone = desk.user(4242, "Former agent", "gone@example.com", "agent")
    desk.deleted_users.add(gone)
    desk.comment(tid, gone, "old note", False)
    desk.comment(tid, ADA, "", True, body=..., plain_body=..., html_body="<p>Still <b>broken</b></p>")
    desk.comment(tid, None, "Ticket merged", False, via={"channel": "system"})
    ticket = zd.fetch(TicketRef(Source.ZENDESK, str(tid)))
    deleted, html_only, system = ticket.messages[1:]
    assert (deleted.author.external_id, deleted.visibility) == ("4242", Visibility.INTERNAL)
    assert html_only.text == "Still broken" and html_only.visibility is Visibility.PUBLIC
    assert system.automated and system.visibility is Visibility.INTERNAL


@pytest.mark.parametrize("status,body,headers,error,retry_after", [
    (429, {"error": "TooManyRequests"}, {"Retry-After": "93"}, Retriable, 93.0),
    (409, {"error": "Conflict", "description": "Merge conflict"}, {}, Retriable, None),
    (422, {"error": "RecordInvalid", "description": "Record validation errors", "details": {"base": [{"description": "Status: closed prevents ticket update"}]}}, {}, Fatal, None),
    (403, {"error": "Forbidden", "description": "You do not have access to this page."}, {}, Fatal, None),
    (503, {"error": "Service Unavailable"}, {"Retry-After": "5"}, Retriable, 5.0),
])
def test_documented_error_answers_become_hub_errors(zd: ZendeskConnector, desk: ZendeskStandin, status: int, body: Any,
                                                     headers: dict[str, str], error: type, retry_after: float | None) -> None:
    tid = desk.ticket(12, "Errors", ADA, (ADA, QUESTION, True))
    desk.fail("PUT", f"/api/v2/tickets/{tid}.json", status, body, headers)
    with pytest.raises(error) as raised:
        zd.post_reply(TicketRef(Source.ZENDESK, str(tid)), "hi", idempotency_key="k")
    assert getattr(raised.value, "retry_after", None) == retry_after
    if status == 422:
        assert "RecordInvalid" in str(raised.value) and "Record validation errors" in str(raised.value)
    assert desk.comments[tid][1:] == []


def test_a_ticket_of_record_is_opened_for_the_requester_by_email(zd: ZendeskConnector, desk: ZendeskStandin) -> None:
    ref = zd.create_ticket("Refund", "Transcript", Person("U1", "Ada", "ada@example.com"), tags=("slack",), idempotency_key="k1")
    made = desk.tickets[int(ref.external_id)]
    assert made["requester_id"] == ADA and sorted(made["tags"]) == ["hub_created", "slack"]
    assert zd.created_ticket("k1") == ref and zd.created_ticket("k2") is None


def test_credentials_answered_as_the_anonymous_user_are_refused_not_taken_for_the_hub(zd: ZendeskConnector, desk: ZendeskStandin) -> None:
    """``users/me`` answers 200 with an anonymous user (``id`` null) to credentials it does not take: the hub
    must not read the tickets as a user whose id is ``"None"``."""
    tid = desk.ticket(13, "Password", ADA, (ADA, QUESTION, True))
    desk.fail("GET", "/api/v2/users/me.json", 200, {"user": {"id": None, "url": None, "name": "Anonymous user", "email": "invalid@example.com",
                                                              "role": "end-user", "active": True, "verified": False}})
    with pytest.raises(Fatal, match="ZENDESK_API_TOKEN"):
        zd.fetch(TicketRef(Source.ZENDESK, str(tid)))


@pytest.mark.parametrize("author,events", [("requester", ["commented"]), ("cc", ["commented"]), ("deleted", [])])
def test_a_polled_public_comment_is_the_requester_side_only_when_its_author_is_known(zd: ZendeskConnector, desk: ZendeskStandin,
                                                                                    author: str, events: list[str]) -> None:
    """A deleted user is left out of ``show_many``: their role is unknown, so their public comment (a former
    agent's) is not passed on as the requester's follow-up."""
    desk.clock = int(utcnow().timestamp()) - 300
    tid = desk.ticket(14, "Password", ADA, (ADA, QUESTION, True))
    desk.comment(tid, desk.me, "Reset it from the login page.")
    writer = {"requester": ADA, "cc": desk.user(515, "Bob", "bob@example.com"), "deleted": 4243}[author]
    desk.user(4243, "Former agent", "gone@example.com", "agent")
    desk.deleted_users.add(4243)
    desk.comment(tid, writer, "Any news?")
    found, _ = zd.poll(None)
    assert [e.kind.value for e in found] == events
