"""The Zendesk connector against a `responses` mock of the API on http://127.0.0.1:8765: what we read,
the JSON we send, and how failures become core.errors."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator

import pytest
import requests
import responses
from sqlalchemy import select

from app import build_hub
from config import load_settings
from connectors.actions import common_performers
from connectors.zendesk.connector import key_tag
from connectors.zendesk import ZendeskConnector
from core import outbox
from core.db import OutboxAction
from core.errors import Fatal, NotFound, Retriable
from core.models import Person, Source, TicketRef, Visibility, as_utc, utcnow
from tests.conftest import settings_dict
from tests.test_zendesk_mapping import load

BASE = "http://127.0.0.1:8765"
API = f"{BASE}/api/v2"
ZENDESK = {"ZENDESK_URL": BASE, "ZENDESK_EMAIL": "hub@example.com", "ZENDESK_API_TOKEN": "tok", "ZENDESK_WEBHOOK_SECRET": "s3cret"}
REF = TicketRef(Source.ZENDESK, "1")


@pytest.fixture
def zd() -> ZendeskConnector:
    return ZendeskConnector(load_settings(ZENDESK).zendesk)  # type: ignore[arg-type]


@pytest.fixture
def api() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def sent(call: Any) -> dict[str, Any]:
    return json.loads(call.request.body)


def mock_ticket(api: responses.RequestsMock) -> None:
    api.get(f"{API}/tickets/1.json", json=load("ticket_show.json"))
    api.get(f"{API}/tickets/1/comments.json", json=load("ticket_comments.json"))
    api.get(f"{API}/users/show_many.json", json=load("users_show_many.json"))
    api.get(f"{API}/users/me.json", json=load("users_me.json"))


def test_fetch_reads_ticket_comments_and_authors(zd: ZendeskConnector, api: responses.RequestsMock) -> None:
    mock_ticket(api)
    ticket = zd.fetch(REF)
    assert ticket.requester.email == "customer@example.com"
    assert [m.visibility for m in ticket.messages].count(Visibility.INTERNAL) == 1
    assert [m.author.is_self for m in ticket.messages] == [False, False, True, False]
    assert api.calls[0].request.headers["Authorization"].startswith("Basic ")
    zd.fetch(REF)
    assert sum(c.request.url.endswith("/users/me.json") for c in api.calls) == 1  # the own id is cached


def test_answer_is_one_public_comment_tagged_and_pending(zd: ZendeskConnector, api: responses.RequestsMock) -> None:
    api.put(f"{API}/tickets/1.json", json=load("ticket_update_response.json"))
    performers = common_performers("zendesk", zd)
    result = performers["post_reply"]({"ref": "zendesk:1", "idempotency_key": "answer:zendesk:1", "text": "Use the wizard.", "kind": "answer",
                                       "citations": [{"title": "Setup", "url": "https://kb/setup"}], "attempt": 1})
    assert result.result["external_id"] == "6164039218842"
    assert [c.request.method for c in api.calls] == ["PUT"]  # a first attempt posts without a check
    ticket = sent(api.calls[0])["ticket"]
    assert ticket["comment"]["public"] is True
    assert ticket["comment"]["body"] == "Use the wizard.\n\nSources:\n- Setup: https://kb/setup"
    # The key's tag travels in the same update as the comment.
    assert ticket["status"] == "pending" and ticket["additional_tags"] == ["hub_answered", key_tag("answer:zendesk:1")]


def test_a_retry_of_an_answer_already_on_the_ticket_posts_nothing(zd: ZendeskConnector, api: responses.RequestsMock) -> None:
    shown = load("ticket_show.json")
    shown["ticket"]["tags"] = [*shown["ticket"]["tags"], "hub_answered", key_tag("answer:zendesk:1")]  # posted, then crashed
    api.get(f"{API}/tickets/1.json", json=shown)
    performers = common_performers("zendesk", zd)
    result = performers["post_reply"]({"ref": "zendesk:1", "idempotency_key": "answer:zendesk:1", "text": "Use the wizard.",
                                       "kind": "answer", "attempt": 2})
    assert result.result["external_id"] == f"1:{key_tag('answer:zendesk:1')}" and result.result["url"] == f"{BASE}/agent/tickets/1"
    assert [c.request.method for c in api.calls] == ["GET"]  # no second comment


def test_a_retry_without_the_key_on_the_ticket_posts(zd: ZendeskConnector, api: responses.RequestsMock) -> None:
    shown = load("ticket_show.json")
    shown["ticket"]["tags"] = [*shown["ticket"]["tags"], key_tag("escalation-notice:zendesk:1")]  # another write's key
    api.get(f"{API}/tickets/1.json", json=shown)
    api.put(f"{API}/tickets/1.json", json=load("ticket_update_response.json"))
    common_performers("zendesk", zd)["post_reply"]({"ref": "zendesk:1", "idempotency_key": "notice:zendesk:1",
                                                    "text": "A person will follow up.", "kind": "notice", "attempt": 3})
    assert [c.request.method for c in api.calls] == ["GET", "PUT"]
    assert sent(api.calls[1])["ticket"]["additional_tags"] == [key_tag("notice:zendesk:1")]
    assert "status" not in sent(api.calls[1])["ticket"]


def test_draft_is_a_private_comment_and_reopens_on_request(zd: ZendeskConnector, api: responses.RequestsMock) -> None:
    api.put(f"{API}/tickets/1.json", json=load("ticket_update_response.json"))
    performers = common_performers("zendesk", zd)
    performers["add_internal_note"]({"ref": "zendesk:1", "text": "Draft: try the wizard (confidence 0.41)"})
    performers["add_internal_note"]({"ref": "zendesk:1", "text": "Draft again", "reopen": True})
    first, second = (sent(c)["ticket"] for c in api.calls)
    assert first["comment"] == {"body": "Draft: try the wizard (confidence 0.41)", "public": False}
    assert first["additional_tags"] == ["hub_escalated"] and "status" not in first
    assert second["comment"]["public"] is False and second["status"] == "open"


def test_create_ticket_sends_requester_by_email_and_tags(zd: ZendeskConnector, api: responses.RequestsMock) -> None:
    api.post(f"{API}/tickets.json", json=load("ticket_update_response.json"), status=201)
    ref = zd.create_ticket("Printer on fire", "alice: it burns", Person("U1", "Alice", "Alice@Example.com"), tags=("slack",))
    assert ref == TicketRef(Source.ZENDESK, "4014")
    assert zd.ticket_url(ref) == f"{BASE}/agent/tickets/4014"
    ticket = sent(api.calls[0])["ticket"]
    assert ticket["requester"] == {"name": "Alice", "email": "alice@example.com"}
    assert ticket["tags"] == ["hub_created", "slack"] and ticket["subject"] == "Printer on fire"
    assert ticket["comment"] == {"body": "alice: it burns", "public": False}


ESCALATION = {"subject": "Printer on fire", "text": "alice: it burns", "draft": "Draft", "tags": ["hub_escalated"],
              "requester": {"external_id": "U1", "name": "Alice", "email": "alice@example.com"},
              "origin": {"connector": "slack", "ref": "slack:T1:C1:1.0"}, "notice": "A person will follow up:",
              "idempotency_key": "escalate:slack:T1:C1:1.0"}


def test_a_ticket_of_record_carries_its_key_and_a_retry_finds_it(zd: ZendeskConnector, api: responses.RequestsMock) -> None:
    create = common_performers("zendesk", zd)["create_ticket"]
    api.post(f"{API}/tickets.json", json=load("ticket_update_response.json"), status=201)
    first = create({**ESCALATION, "attempt": 1})
    assert sent(api.calls[0])["ticket"]["external_id"] == key_tag("escalate:slack:T1:C1:1.0")
    # The attempt crashed before it was recorded: the retry lists tickets by that external id, and opens none.
    listed = f"{API}/tickets.json?external_id={key_tag('escalate:slack:T1:C1:1.0')}"
    api.get(listed, json={"tickets": [{"id": 4014, "external_id": key_tag("escalate:slack:T1:C1:1.0")}], "count": 1},
            match=[responses.matchers.query_param_matcher({"external_id": key_tag("escalate:slack:T1:C1:1.0")})])
    again = create({**ESCALATION, "attempt": 2})
    assert again.result == first.result == {"ref": "zendesk:4014", "url": f"{BASE}/agent/tickets/4014"}
    assert [c.request.method for c in api.calls] == ["POST", "GET"]  # one ticket
    assert [a.key for a in again.follow_ups] == [a.key for a in first.follow_ups]


@pytest.mark.parametrize(
    ("status", "headers", "error"),
    [(429, {"Retry-After": "37"}, Retriable), (503, {}, Retriable), (404, {}, NotFound), (401, {}, Fatal),
     (403, {}, Fatal), (422, {}, Fatal)],
)
def test_http_failures_become_hub_errors(zd: ZendeskConnector, api: responses.RequestsMock, status: int,
                                         headers: dict[str, str], error: type) -> None:
    api.put(f"{API}/tickets/1.json", json={"error": "X"}, status=status, headers=headers)
    with pytest.raises(error) as raised:
        zd.add_internal_note(REF, "draft")
    if status == 429:
        assert raised.value.retry_after == 37
    assert len(api.calls) == 1  # zenpy's own 429 sleep and retries never run


def test_deleted_ticket_is_not_found(zd: ZendeskConnector, api: responses.RequestsMock) -> None:
    api.get(f"{API}/tickets/1.json", json={"error": "RecordNotFound", "description": "Not found"}, status=404)
    with pytest.raises(NotFound):
        zd.fetch(REF)


def test_connection_errors_are_retriable(zd: ZendeskConnector, api: responses.RequestsMock) -> None:
    api.get(f"{API}/tickets/1.json", body=requests.ConnectionError("refused"))
    with pytest.raises(Retriable):
        zd.fetch(REF)


def hc_listing(articles: list[dict[str, Any]]) -> dict[str, Any]:
    """``GET /help_center/articles.json?page[size]=100``'s one page (cursor pagination): the articles there are,
    which a sync lists after the export to find the archived ones."""
    return {"articles": articles, "meta": {"has_more": False, "after_cursor": None, "before_cursor": None},
            "links": {"next": None, "prev": None}}


def test_help_center_articles_incremental(zd: ZendeskConnector, api: responses.RequestsMock) -> None:
    api.get(f"{API}/help_center/incremental/articles.json", json=load("hc_incremental_articles.json"))
    api.get(f"{API}/help_center/incremental/articles.json", json=load("hc_incremental_articles_last.json"))
    since = datetime(2024, 7, 1, tzinfo=timezone.utc)
    articles = list(zd.fetch_articles(since))
    assert [a.title for a in articles] == ["Sample article: Stellar Skyonomy refund policies", "Reset your password",
                                           "Agents only", "Old billing page"]
    assert [a.deleted for a in articles] == [True, False, True, True]  # a draft, a restricted one, an archived one
    assert api.calls[0].request.params == {"start_time": str(int(since.timestamp()))}
    assert api.calls[1].request.params == {"start_time": "1720784511"}  # next_page, until an empty page
    assert len(api.calls) == 2


def test_rate_limit_through_the_outbox_waits_retry_after(sqlite_url: str, api: responses.RequestsMock) -> None:
    hub = build_hub(load_settings(settings_dict(sqlite_url, **ZENDESK)))
    try:
        api.get(f"{API}/tickets/1.json", json=load("ticket_show.json"))
        api.put(f"{API}/tickets/1.json", status=429, headers={"Retry-After": "120"}, json={"error": "rate"})
        with hub.db.session() as s:
            row_id = outbox.enqueue(s, outbox.NewAction("answer:zendesk:1", "zendesk", "post_reply",
                                                        {"ref": "zendesk:1", "text": "hi", "kind": "answer"}))
        now = utcnow() + timedelta(seconds=1)
        assert outbox.perform(hub.db, hub.jobs, row_id, hub.performers, now=now) == "pending"
        with hub.db.session() as s:
            row = s.execute(select(OutboxAction).where(OutboxAction.id == row_id)).scalar_one()
            assert row.status == "pending" and as_utc(row.next_attempt_at) == now + timedelta(seconds=120)
    finally:
        hub.close()


def _going_round(api: responses.RequestsMock, path: str, page: Any) -> None:
    """Answer ``path`` with pages that lead back to each other: ?p=1 to ?p=2, ?p=2 to ?p=1 (a vendor stand-in gone
    wrong); ``page(n, next_url)`` is page ``n``'s body."""

    def answer(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        n = 2 if "p=2" in (request.url or "") else 1
        return 200, {}, json.dumps(page(n, f"{API}/{path}?p={3 - n}"))

    api.add_callback(responses.GET, f"{API}/{path}", callback=answer)


def test_an_article_export_going_round_in_a_circle_ends(zd: ZendeskConnector, api: responses.RequestsMock) -> None:
    _going_round(api, "help_center/incremental/articles.json", lambda n, following: {
        "articles": [{"id": n, "title": f"A{n}", "body": "<p>Text.</p>", "html_url": f"{BASE}/hc/a/{n}",
                      "updated_at": f"2024-07-0{n}T00:00:00Z", "draft": False, "user_segment_id": None, "locale": "en-us"}],
        "next_page": following, "end_time": 1720000000 + n})
    assert [a.external_id for a in zd.fetch_articles(None)] == ["1", "2"]
    assert len(api.calls) == 3  # the first page, the second, the first again: seen, so the export ends


def test_an_article_listing_going_round_in_a_circle_is_an_error_not_a_partial_list(
        zd: ZendeskConnector, api: responses.RequestsMock) -> None:
    # a partial listing would read every article it missed as archived, and the sync would remove them
    _going_round(api, "help_center/articles.json", lambda n, following: {
        "articles": [{"id": n, "locale": "en-us"}], "meta": {"has_more": True}, "links": {"next": following}})
    with pytest.raises(Fatal, match="circle"):
        zd.article_ids()
