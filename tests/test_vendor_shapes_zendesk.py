"""Zendesk answering the way its documentation allows, broader than our captures: nullable fields null, optional
fields absent, comments with ``html_body`` only, any ``via`` channel, unknown extra fields, comments paged one
per page (cursor or offset, an empty last page), users without an email. A request's ticket is read with the
right requester and text, its inbox row ends ``done``, and exactly one ticket update (PUT) is made.

Served at the transport with `responses`; each unusual shape cites the documentation it is allowed by."""

from __future__ import annotations

import copy
import json
import re
from typing import Any, Callable

import pytest
import responses

from app import build_hub, create_app
from config import load_settings
from connectors.zendesk import ZendeskConnector, mapping
from core.models import Source, TicketRef, Visibility
from interceptor.kb.importer import import_articles, parse_markdown
from tests.conftest import settings_dict
from tests.sync_world import zendesk_signed
from tests.test_malformed_fetch import created_event, inbox, zendesk_ticket
from tests.test_slack_flow import ARTICLES
from tests.test_zendesk_connector import API, ZENDESK
from tests.test_zendesk_mapping import load

TICKET = 5160
Shape = Callable[[dict[str, Any], dict[str, Any], dict[str, Any]], None]


def _nullable_fields_null(show: dict[str, Any], listed: dict[str, Any], users: dict[str, Any]) -> None:
    # NOTE(zendesk): priority and type "urgent, high, normal, or low" / ... or null; tags, via, external_id,
    # raw_subject, organization_id, group_id may be null. https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/#json-format
    show["ticket"].update(priority=None, type=None, tags=None, via=None, raw_subject=None, organization_id=None,
                          group_id=None, assignee_id=None, custom_fields=None, satisfaction_rating=None)


def _optional_fields_absent(show: dict[str, Any], listed: dict[str, Any], users: dict[str, Any]) -> None:
    # NOTE(zendesk): only requester_id is mandatory on create; read-only fields may be left out of a stand-in's answer.
    for name in ("priority", "type", "tags", "via", "raw_subject", "url", "updated_at", "custom_status_id", "description"):
        show["ticket"].pop(name, None)
    for comment in listed["comments"]:
        for name in ("attachments", "metadata", "via", "audit_id", "type"):
            comment.pop(name, None)


def _html_body_only(show: dict[str, Any], listed: dict[str, Any], users: dict[str, Any]) -> None:
    # NOTE(zendesk): a comment has "body", "html_body" and "plain_body" (read-only); a comment written with
    # html_body only is read back with the HTML. https://developer.zendesk.com/api-reference/ticketing/tickets/ticket_comments/
    for comment in listed["comments"]:
        comment.pop("body", None)
        comment.pop("plain_body", None)
        comment["html_body"] = "<div class=\"zd-comment\"><p>How do I <b>reset</b> my password?</p></div>"


def _via_any_channel(show: dict[str, Any], listed: dict[str, Any], users: dict[str, Any]) -> None:
    # NOTE(zendesk): via.channel is one of many (web, email, api, native_messaging, whatsapp, ...), and source
    # "from"/"to" differ per channel. https://developer.zendesk.com/documentation/ticketing/reference-guides/via-object-reference/
    via = {"channel": "native_messaging", "source": {"from": {"whatsapp_number": "+15555550100"}, "to": None, "rel": None}}
    show["ticket"]["via"] = via
    for comment in listed["comments"]:
        comment["via"] = via


def _unknown_extra_fields(show: dict[str, Any], listed: dict[str, Any], users: dict[str, Any]) -> None:
    # NOTE(zendesk): the API adds fields over time ("custom_status_id", "from_messaging_channel"); clients ignore new ones.
    show["ticket"]["brand_new_field"] = {"nested": [1, None]}
    listed["comments"][0]["brand_new_field"] = [None]
    listed["unknown_top_level"] = True
    users["users"][0]["brand_new_field"] = None


def _requester_without_email(show: dict[str, Any], listed: dict[str, Any], users: dict[str, Any]) -> None:
    # NOTE(zendesk): a user's "email" may be null (a messaging or social end user has none).
    # https://developer.zendesk.com/api-reference/ticketing/users/users/#json-format
    for user in users["users"]:
        user["email"] = None


def _users_not_found(show: dict[str, Any], listed: dict[str, Any], users: dict[str, Any]) -> None:
    # NOTE(zendesk): show_many leaves out ids it does not find (a deleted user): an empty "users" array.
    # https://developer.zendesk.com/api-reference/ticketing/users/users/#show-many-users
    users["users"] = []


def _timestamps_with_fractions(show: dict[str, Any], listed: dict[str, Any], users: dict[str, Any]) -> None:
    # NOTE(zendesk): ISO 8601 date-time; a stand-in may write an offset or fractions of a second.
    show["ticket"].update(created_at="2023-09-09T23:52:05.123Z", updated_at="2023-09-10T01:52:05+02:00")
    listed["comments"][0]["created_at"] = "2023-09-09T23:52:05.000000Z"


SHAPES: dict[str, Shape] = {f.__name__.lstrip("_"): f for f in (
    _nullable_fields_null, _optional_fields_absent, _html_body_only, _via_any_channel, _unknown_extra_fields,
    _requester_without_email, _users_not_found, _timestamps_with_fractions)}


def serve(api: responses.RequestsMock, ticket_id: int, show: dict[str, Any], listed: dict[str, Any], users: dict[str, Any]) -> None:
    api.get(f"{API}/users/me.json", json=load("users_me.json"))
    api.get(f"{API}/users/show_many.json", json=users)
    api.get(f"{API}/tickets/{ticket_id}.json", json=show)
    api.get(f"{API}/tickets/{ticket_id}/comments.json", json=listed)
    api.put(f"{API}/tickets/{ticket_id}.json", json=load("ticket_update_response.json"))


@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
def test_a_zendesk_ticket_of_a_documented_unusual_shape_is_answered_once(database_url: str, shape: Shape) -> None:
    hub = build_hub(load_settings(settings_dict(database_url, **ZENDESK, HUB_CHANNEL_POLICIES={"zendesk": {"threshold": 0.5}})))
    import_articles(hub.db, (parse_markdown(text, name) for name, text in ARTICLES.items()))
    client = create_app(hub=hub).test_client()
    show, listed = zendesk_ticket(TICKET)
    users = load("users_show_many.json")
    shape(show, listed, users)
    try:
        with responses.RequestsMock(assert_all_requests_are_fired=False) as api:
            serve(api, TICKET, show, listed, users)
            raw, headers = zendesk_signed(created_event(TICKET), f"inv-{TICKET}")
            assert client.post("/webhooks/zendesk", data=raw, headers=headers).get_json()["status"] == "accepted"
            hub.jobs.drain()  # type: ignore[attr-defined]
            writes = [json.loads(c.request.body)["ticket"] for c in api.calls if c.request.method in ("PUT", "POST")]
        row = inbox(hub)[f"zendesk:{TICKET}"]
        assert (row.status, row.attempts, row.last_error) == ("done", 1, None)
        [update] = writes
        assert update["comment"]["public"] is True, "the password question is answered in public"
    finally:
        hub.close()


@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
def test_a_zendesk_ticket_of_a_documented_unusual_shape_reads_its_requester_and_text(shape: Shape) -> None:
    zd = ZendeskConnector(load_settings(ZENDESK).zendesk)  # type: ignore[arg-type]
    show, listed = zendesk_ticket(TICKET)
    users = load("users_show_many.json")
    shape(show, listed, users)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as api:
        serve(api, TICKET, show, listed, users)
        ticket = zd.fetch(TicketRef(Source.ZENDESK, str(TICKET)))
    assert ticket.requester.external_id == str(show["ticket"]["requester_id"])
    assert ticket.text == "How do I reset my password?"
    assert [(m.external_id, m.visibility) for m in ticket.messages] == [("101", Visibility.PUBLIC)]
    assert ticket.requester.is_agent is False and ticket.requester.is_self is False


def _paged(comments: list[dict[str, Any]], cursor: bool, empty_last: bool) -> list[dict[str, Any]]:
    """The comments one per page. NOTE(zendesk): cursor pages end with ``meta.has_more`` false (``links.next``
    may still be set or null); offset pages with ``next_page`` null.
    https://developer.zendesk.com/api-reference/introduction/pagination/"""
    chunks = [[c] for c in comments] + ([[]] if empty_last else [])
    pages = []
    for i, chunk in enumerate(chunks):
        more = i < len(chunks) - 1
        if cursor:
            after = f"c{i + 1}" if more else None
            pages.append({"comments": chunk, "meta": {"has_more": more, "after_cursor": after, "before_cursor": f"c{i}"},
                          "links": {"next": f"{API}/tickets/1/comments.json?page%5Bafter%5D=c{i + 1}&page%5Bsize%5D=1" if more else None}})
        else:
            pages.append({"comments": chunk, "count": len(comments), "previous_page": None,
                          "next_page": f"{API}/tickets/1/comments.json?page={i + 2}" if more else None})
    return pages


@pytest.mark.parametrize("cursor,empty_last", [(True, False), (True, True), (False, False)])
def test_zendesk_comments_paged_one_at_a_time_are_all_read_once(cursor: bool, empty_last: bool) -> None:
    zd = ZendeskConnector(load_settings(ZENDESK).zendesk)  # type: ignore[arg-type]
    pages = _paged(load("ticket_comments.json")["comments"], cursor, empty_last)

    def page(request: Any) -> tuple[int, dict[str, str], str]:
        found = re.search(r"page%5Bafter%5D=c(\d+)|[?&]page=(\d+)", request.url)
        index = 0 if not found else int(found.group(1)) if found.group(1) else int(found.group(2)) - 1
        return 200, {}, json.dumps(pages[index])

    with responses.RequestsMock(assert_all_requests_are_fired=False) as api:
        api.get(f"{API}/tickets/1.json", json=load("ticket_show.json"))
        api.add_callback(responses.GET, re.compile(rf"{re.escape(API)}/tickets/1/comments\.json.*"), callback=page)
        api.get(f"{API}/users/show_many.json", json=load("users_show_many.json"))
        api.get(f"{API}/users/me.json", json=load("users_me.json"))
        ticket = zd.fetch(TicketRef(Source.ZENDESK, "1"))
        read = len([c for c in api.calls if "/comments.json" in c.request.url])
    assert [m.external_id for m in ticket.messages] == ["101", "102", "103", "104"]
    assert read == len(pages)


def _article(**fields: Any) -> dict[str, Any]:
    article = copy.deepcopy(load("hc_incremental_articles.json")["articles"][0])
    article.update(draft=False, user_segment_id=None, **fields)
    return article


@pytest.mark.parametrize("fields,kept", [
    ({"body": None}, True),  # NOTE(zendesk): an article may be saved with an empty body
    ({"label_names": None, "section_id": None, "edited_at": None}, True),
    ({"brand_new_field": {"x": None}}, True),
    # NOTE(zendesk): "user_segment_ids": "List of user segment ids which define who can see this article. Set
    # to null to make it accessible to everyone", beside the older single "user_segment_id".
    # https://developer.zendesk.com/api-reference/help_center/help-center-api/articles/#json-format
    ({"user_segment_ids": [360001]}, False),
    ({"user_segment_ids": []}, True),
    ({"user_segment_ids": None}, True),
])
def test_help_center_articles_of_documented_shapes(fields: dict[str, Any], kept: bool) -> None:
    article = mapping.article(_article(**fields))
    assert article.deleted is not kept


@pytest.mark.parametrize("with_end_time", [True, False])
def test_help_center_export_reads_pages_of_one_article_and_stops_at_an_empty_page(with_end_time: bool) -> None:
    # NOTE(zendesk): each page's next_page carries the next start_time; the last page may be empty. A page
    # without end_time (a stand-in that leaves it out) is followed by its next_page all the same.
    # https://developer.zendesk.com/documentation/help_center/help-center-api/understanding-incremental-article-exports/
    zd = ZendeskConnector(load_settings(ZENDESK).zendesk)  # type: ignore[arg-type]
    path = f"{API}/help_center/incremental/articles.json"
    pages = [{"articles": [_article(id=1)], "next_page": f"{path}?start_time=101", "end_time": 101, "count": 1},
             {"articles": [_article(id=2)], "next_page": f"{path}?start_time=102", "end_time": 102, "count": 1},
             {"articles": [], "next_page": None, "end_time": 102, "count": 0}]
    if not with_end_time:
        pages = [{k: v for k, v in page.items() if k != "end_time"} for page in pages]
    with responses.RequestsMock() as api:
        for page in pages:
            api.get(path, json=page)
        read = [a.external_id for a in zd.fetch_articles(None)]
    assert read == ["1", "2"]
