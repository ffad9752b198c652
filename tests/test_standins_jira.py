"""The hub's Jira flows against the independent stand-in (tests/standin_jira.py), which answers as Jira
Cloud documents: an issue arriving by webhook and by polling is answered once; a lost comment is found again
on retry; an issue of record is found again; an issue's ``comment`` field that is a partial page, or absent
from a search hit, is completed before the newest comment is judged; errors are the documented shapes."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any, Iterator

import pytest
import responses

from sqlalchemy import select

from app import build_hub, create_app
from config import load_settings
from connectors.jira import JiraConnector, events, poll
from connectors.jira.poll import CURSOR_NAME
from connectors.polling import poll_once
from core.db import InboxEvent
from core.errors import Fatal, NotFound, Retriable
from core.models import EventKind, Person, Source, TicketRef, Visibility, utcnow
from interceptor.kb.importer import import_articles, parse_markdown
from tests.conftest import settings_dict
from tests.test_slack_flow import ARTICLES
from tests.outage_world import run_outbox
from tests.truth_world import figures, outcomes, polled_comments
from tests.standin_jira import DONE, OPEN, JiraStandin
from tests.vendor_standins import attempts, enqueue, lost_hand_off

BASE = "http://127.0.0.1:8792"
SETTINGS = {"JIRA_URL": BASE, "JIRA_EMAIL": "hub@example.com", "JIRA_API_TOKEN": "tok", "JIRA_PROJECT_KEY": "SUP",
            "JIRA_WEBHOOK_SECRET": "s3cret"}
QUESTION = "I forgot my password, how do I reset it?"
ADA = "712020:ada"
AGENT = "5d53f3cbc6b9320d9ea5bdc2"


@pytest.fixture
def site() -> Iterator[JiraStandin]:
    standin = JiraStandin(BASE)
    standin.user(ADA, "Ada", None, "customer")  # Cloud hides emails by default
    standin.user(AGENT, "Agent Smith", "smith@example.com")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        standin.install(mock)
        yield standin


@pytest.fixture
def jira(site: JiraStandin) -> JiraConnector:
    return JiraConnector(load_settings(SETTINGS).jira)  # type: ignore[arg-type]


def hub_for(url: str, **more: Any) -> Any:
    hub = build_hub(load_settings(settings_dict(url, **SETTINGS, HUB_CHANNEL_POLICIES={"jira": {"threshold": 0.5}}, **more)))
    import_articles(hub.db, (parse_markdown(text, name) for name, text in ARTICLES.items()))
    return hub


def hub_comments(site: JiraStandin, key: str) -> list[dict[str, Any]]:
    return [c for c in site.comments[key] if c.get("author", {}).get("accountId") == site.me]


def delivery(site: JiraStandin, kind: str, key: str, identifier: str, **more: Any) -> tuple[bytes, dict[str, str]]:
    """A signed admin-webhook delivery as documented: epoch-ms ``timestamp``, the REST v2 issue, the actor."""
    body = json.dumps({"timestamp": int(time.time() * 1000), "webhookEvent": kind, "user": site.users[ADA],
                       "issue": site.issues[key]} | more).encode()
    return body, {"X-Hub-Signature": events.sign("s3cret", body), "X-Atlassian-Webhook-Identifier": identifier,
                  "Content-Type": "application/json"}


def test_an_issue_by_webhook_is_answered_once_in_public(sqlite_url: str, site: JiraStandin) -> None:
    key = site.issue("SUP-1", "Password", ADA, QUESTION)
    body, headers = delivery(site, "jira:issue_created", key, "wh-1", issue_event_type_name="issue_created")
    hub = hub_for(sqlite_url)
    client = create_app(hub=hub).test_client()
    assert client.post("/webhooks/jira", data=body, headers=headers).get_json()["status"] == "accepted"
    assert client.post("/webhooks/jira", data=body, headers=headers).get_json()["status"] == "duplicate"
    hub.jobs.drain()
    [answer] = hub_comments(site, key)
    assert answer["jsdPublic"] is True and "reset-password" in answer["body"]
    assert "hub_answered" in site.issues[key]["fields"]["labels"]

    # The requester writes back; the comment webhook's issue is partial (no reporter, no description).
    reply = site.comment(key, ADA, "It still does not work, I need a person")
    partial = {k: site.issues[key][k] for k in ("id", "key", "self")} | {"fields": {
        f: site.issues[key]["fields"][f] for f in ("summary", "issuetype", "priority", "status")}}
    body, headers = delivery(site, "comment_created", key, "wh-2", comment=reply, issue=partial, eventType="primaryAction")
    assert client.post("/webhooks/jira", data=body, headers=headers).get_json()["status"] == "accepted"
    hub.jobs.drain()
    note = hub_comments(site, key)[-1]
    assert note["jsdPublic"] is False and len(hub_comments(site, key)) == 2, "one public answer, then an internal draft"
    assert "hub_escalated" in site.issues[key]["fields"]["labels"]
    hub.close()


@pytest.mark.parametrize("variant", ["whole", "partial page", "no comment field"])
def test_a_polled_issue_is_judged_on_all_its_comments(jira: JiraConnector, site: JiraStandin, variant: str) -> None:
    """The requester wrote again after the hub's answer: a follow-up, whatever page of comments the search
    gave (their comment before the answer is passed on too; the pipeline reads it as part of the request).
    Judged on the first comments only, the issue would look answered (no follow-up) or, without any, like a
    new request."""
    site.time = utcnow  # written within the first poll's window
    key = site.issue("SUP-2", "Password", ADA, QUESTION)
    context = site.comment(key, ADA, "Some context first")
    site.comment(key, site.me, "Reset it from the login page.")
    follow_up = site.comment(key, ADA, "It still does not work")
    site.embedded_comments = 2 if variant == "partial page" else 5000
    site.search_has_comments = variant != "no comment field"
    found, _ = poll.poll(jira, None)
    assert [(e.kind, e.message and e.message.external_id) for e in found] == [(EventKind.COMMENTED, context["id"]),
                                                                              (EventKind.COMMENTED, follow_up["id"])]


def test_a_fetched_issue_has_every_comment_when_its_page_is_partial(jira: JiraConnector, site: JiraStandin) -> None:
    key = site.issue("SUP-3", "Long", ADA, QUESTION)
    for n in range(230):
        site.comment(key, ADA if n % 2 else AGENT, f"line {n}")
    site.embedded_comments = 50
    ticket = jira.fetch(TicketRef(Source.JIRA, key))
    assert len(ticket.messages) == 230 and ticket.messages[-1].text == "line 229"


ADF = {"version": 1, "type": "doc", "content": [{"type": "paragraph", "content": [{"type": "text", "text": "Printer on fire"}]}]}


@pytest.mark.parametrize("description,text", [(None, ""), ("*Printer* on fire", "Printer on fire"), (ADF, "Printer on fire")])
def test_an_issue_without_reporter_is_read_whatever_its_description(jira: JiraConnector, site: JiraStandin, description: Any,
                                                                     text: str) -> None:
    """No reporter (the key absent), a deleted author (no ``author``), a description null, wiki markup (v2) or ADF (v3)."""
    key = site.issue("SUP-4", "Imported", None, description)
    site.comment(key, None, "written by a deleted user")
    ticket = jira.fetch(TicketRef(Source.JIRA, key))
    assert ticket.text == text and ticket.requester.external_id == "unknown"
    assert ticket.messages[0].visibility is Visibility.INTERNAL


def test_a_lost_answer_is_found_on_retry_and_posted_once(sqlite_url: str, site: JiraStandin) -> None:
    key = site.issue("SUP-5", "Password", ADA, QUESTION)
    site.comment(key, site.me, "an older note of the hub's", public=False)
    site.lose("POST", f"/rest/api/2/issue/{key}/comment")
    hub = hub_for(sqlite_url)
    payload = {"ref": f"jira:{key}", "text": "Reset it from the login page.", "kind": "answer"}
    assert attempts(hub, enqueue(hub, "jira", "post_reply", payload, f"answer:jira:{key}")) == ["pending", "done"]
    assert [c["body"] for c in hub_comments(site, key)] == ["an older note of the hub's", "Reset it from the login page."]
    hub.close()


def test_an_issue_of_record_whose_answer_was_lost_is_found_not_opened_twice(sqlite_url: str, site: JiraStandin) -> None:
    hub = hub_for(sqlite_url)
    assert lost_hand_off(hub, site, "/rest/api/2/issue", "jira") == "jira:SUP-1"
    assert list(site.issues) == ["SUP-1"] and "hub_created" in site.issues["SUP-1"]["fields"]["labels"]
    hub.close()


@pytest.mark.parametrize("status,body,headers,error,retry_after", [
    (400, {"errorMessages": [], "errors": {"comment": "Comment body can not be empty!"}}, {}, Fatal, None),
    (401, {"errorMessages": ["You are not authenticated. Authentication required to perform this operation."], "errors": {}}, {}, Fatal, None),
    (403, {"errorMessages": ["You do not have the permission to comment on this issue."], "errors": {}}, {}, Fatal, None),
    (404, {"errorMessages": ["Issue does not exist or you do not have permission to see it."], "errors": {}}, {}, NotFound, None),
    (429, {"errorMessages": ["Rate limit exceeded."]}, {"Retry-After": "7", "X-RateLimit-Reset": "2026-01-01T10:05Z"}, Retriable, 7.0),
    (503, {"errorMessages": ["Service unavailable"]}, {"Retry-After": "3"}, Retriable, 3.0),
])
def test_documented_error_answers_become_hub_errors(jira: JiraConnector, site: JiraStandin, status: int, body: Any,
                                                     headers: dict[str, str], error: type, retry_after: float | None) -> None:
    key = site.issue("SUP-6", "Errors", ADA, QUESTION)
    site.fail("POST", f"/rest/api/2/issue/{key}/comment", status, body, headers)
    with pytest.raises(error) as raised:
        jira.post_reply(TicketRef(Source.JIRA, key), "hi", idempotency_key="k")
    assert getattr(raised.value, "retry_after", None) == retry_after
    assert site.comments[key] == [] and len(site.writes("POST", f"/rest/api/2/issue/{key}/comment")) == 1, "no retry inside the call"


def test_an_issue_of_record_is_opened_labelled_and_found_by_its_key(jira: JiraConnector, site: JiraStandin) -> None:
    ref = jira.create_ticket("Refund", "Transcript", Person("U1", "Ada", "ada@example.com"), tags=("slack",), idempotency_key="k1")
    fields = site.issues[ref.external_id]["fields"]
    assert "hub_created" in fields["labels"] and "Ada (ada@example.com)" in fields["description"]
    assert jira.created_ticket("k1") == ref and jira.created_ticket("k2") is None


def test_an_issue_of_record_moved_to_done_is_an_update_event(sqlite_url: str, site: JiraStandin) -> None:
    key = site.issue("SUP-7", "Escalated chat", site.me, "Transcript", labels=("hub_created",))
    site.issues[key]["fields"]["status"] = {"name": "Done", "statusCategory": {"key": "done"}}
    changelog = {"id": "10105", "items": [{"field": "status", "fieldtype": "jira", "fieldId": "status", "from": "10000",
                                          "fromString": "To Do", "to": "10001", "toString": "Done"}]}
    body, headers = delivery(site, "jira:issue_updated", key, "wh-7", issue_event_type_name="issue_generic", changelog=changelog)
    hub = hub_for(sqlite_url)
    client = create_app(hub=hub).test_client()
    assert client.post("/webhooks/jira", data=body, headers=headers).get_json()["status"] == "accepted"
    with hub.db.session() as s:
        [row] = s.scalars(select(InboxEvent)).all()
    assert (row.kind, row.ticket_ref) == ("updated", f"jira:{key}")
    hub.close()


def test_an_issue_its_requester_commented_on_before_a_poll_saw_it_is_a_request(database_url: str, site: JiraStandin) -> None:
    """Raised, then commented on by its requester before any poll saw it (between two polls, or while searches
    failed): the poll brings the request it is, answered once and counted. It was taken for a follow-up on a
    request the hub never had ("unknown ticket"): never answered, in no bucket of the stats."""
    key = site.issue("SUP-8", "Password", ADA, QUESTION)
    site.comment(key, ADA, "I tried the link in the email twice already")
    hub = hub_for(database_url, JIRA_POLL=True)
    for _ in range(2):  # polled again: nothing new
        poll_once(hub, hub.connectors["jira"], CURSOR_NAME)
        hub.jobs.drain()
    [answer] = hub_comments(site, key)
    assert answer["jsdPublic"] is True and "reset-password" in answer["body"]
    counts = figures(hub)
    assert (counts["requests"], counts["answered"]) == (1, 1)
    hub.close()


# -- polling: every reply of the requester's side, once or nearly ------------------------------------

IN_PROGRESS = {"name": "In Progress", "statusCategory": {"key": "indeterminate"}}


def polled_hub(database_url: str, site: JiraStandin, ahead: dict[str, timedelta]) -> tuple[Any, Any]:
    """A polling hub, with Jira's clock ``ahead["by"]`` ahead of the hub's (what the requester writes is dated
    after the hub's decision)."""
    site.time = lambda: utcnow() + ahead["by"]
    hub = hub_for(database_url, JIRA_POLL=True)
    return hub, lambda: (poll_once(hub, hub.connectors["jira"], CURSOR_NAME), hub.jobs.drain())


@pytest.mark.parametrize("then", ["agent_note", "hub_answer", "resolved"])
def test_a_reply_followed_by_a_note_or_the_hubs_answer_before_the_next_poll_is_heard(database_url: str, site: JiraStandin,
                                                                                    then: str) -> None:
    """The requester writes back, and before the next poll an agent adds an internal comment (or the hub's
    answer, whose first write failed, lands; or an agent resolves the issue): the reply is heard, recorded and
    escalated with a draft, and the answer is no deflection. Only the newest comment was passed on, and none on
    a resolved issue: the reply was never seen, and the stats counted a deflection the requester denied."""
    ahead = {"by": timedelta(0)}
    hub, job = polled_hub(database_url, site, ahead)
    key = site.issue("SUP-20", "Password", ADA, QUESTION)
    if then == "hub_answer":
        site.fail("POST", f"/rest/api/2/issue/{key}/comment", 503, {"errorMessages": ["Service unavailable"]})
    job()
    ahead["by"] = timedelta(minutes=1)
    reply = site.comment(key, ADA, "I still need a person, please" if then == "hub_answer" else "It still does not work")
    ahead["by"] = timedelta(minutes=2)
    if then == "agent_note":
        site.comment(key, AGENT, "Looking at the logs", public=False)
    elif then == "hub_answer":
        run_outbox(hub, utcnow() + timedelta(hours=1))  # the answer, retried, lands after the reply
    else:
        site.move(key, DONE)
    assert hub_comments(site, key) and (then == "resolved" or site.comments[key][-1]["author"]["accountId"] != ADA)
    job()
    assert polled_comments(hub) == [(f"comment:{reply['id']}", 0)]
    why = "human" if then == "hub_answer" else "not_solved"
    assert outcomes(hub) == [("answer_posted", None), ("escalated", why), ("not_solved", why)]
    answer, draft = hub_comments(site, key)
    assert (answer["jsdPublic"], draft["jsdPublic"]) == (True, False) and "reset" in draft["body"].lower()
    assert "hub_escalated" in site.issues[key]["fields"]["labels"]
    counts = figures(hub, utcnow() + timedelta(days=3))  # past the window in which silence counts as solved
    assert (counts["requests"], counts["answered"], counts["deflected"], counts["escalated"]) == (1, 1, 0, 1)
    hub.close()


def test_two_replies_between_polls_are_both_heard_in_order(database_url: str, site: JiraStandin) -> None:
    """"Thanks, that worked!", then "it still does not work" before the next poll: both are passed on, oldest first
    (the solve, then the denial and its escalation). Only the newest was: the first was lost."""
    ahead = {"by": timedelta(0)}
    hub, job = polled_hub(database_url, site, ahead)
    key = site.issue("SUP-21", "Password", ADA, QUESTION)
    job()
    ahead["by"] = timedelta(minutes=1)
    first = site.comment(key, ADA, "thanks, that worked!")
    ahead["by"] = timedelta(minutes=2)
    second = site.comment(key, ADA, "Sorry, it still does not work")
    job()
    assert polled_comments(hub) == [(f"comment:{first['id']}", 0), (f"comment:{second['id']}", 0)]
    assert outcomes(hub) == [("answer_posted", None), ("escalated", "not_solved"), ("not_solved", "not_solved"), ("solved", "reply")]
    assert [c["jsdPublic"] for c in hub_comments(site, key)] == [True, False]
    hub.close()


def test_a_busy_issue_polled_again_and_again_does_not_pass_its_reply_on_each_time(database_url: str, site: JiraStandin) -> None:
    """The requester's reply stays the issue's newest comment while agents keep moving the issue, each move seen
    by the next poll: the reply is passed on by the polls whose floor it is above, then no more, so its inbox
    row's duplicates stop growing. Only the newest comment was passed on, by every poll."""
    ahead = {"by": timedelta(0)}
    hub, job = polled_hub(database_url, site, ahead)
    key = site.issue("SUP-22", "Password", ADA, QUESTION)
    job()
    ahead["by"] = timedelta(minutes=1)
    site.comment(key, ADA, "thanks, that worked!")
    duplicates = []
    for n in range(1, 7):
        ahead["by"] = timedelta(minutes=1 + 5 * n)
        site.move(key, IN_PROGRESS if n % 2 else OPEN)
        job()
        [(_, seen)] = polled_comments(hub)
        duplicates.append(seen)
    assert duplicates[-1] <= 1 and len(set(duplicates[2:])) == 1, duplicates
    assert outcomes(hub) == [("answer_posted", None), ("solved", "reply")]
    hub.close()
