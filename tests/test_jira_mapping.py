"""Jira mapping, ADF and wiki text, webhook parsing and signatures: pure functions on fixture payloads."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY

from connectors.jira import events, mapping, poll
from connectors.text import adf_to_text, wiki_to_text
from core.errors import PayloadError, SignatureError
from core.models import EventKind, Priority, Status, Visibility

FIXTURES = Path(__file__).parent / "fixtures" / "jira"
ME = mapping.Self(user_id="hub-account", email="hub@example.com")


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def fresh_body(name: str, **changes: Any) -> bytes:
    """A fixture webhook body as bytes, sent now (its ``timestamp`` inside the replay window)."""
    body = load(name)
    body.update({"timestamp": int(time.time() * 1000), **changes})
    return json.dumps(body).encode()


def test_adf_to_text() -> None:
    doc = {"version": 1, "type": "doc", "content": [
        {"type": "heading", "attrs": {"level": 2}, "content": [{"type": "text", "text": "Steps"}]},
        {"type": "bulletList", "content": [
            {"type": "listItem", "content": [{"type": "paragraph", "content": [{"type": "text", "text": "open"}]}]},
            {"type": "listItem", "content": [{"type": "paragraph", "content": [
                {"type": "text", "text": "see "}, {"type": "text", "text": "docs", "marks": [{"type": "link", "attrs": {"href": "https://d.io"}}]}]}]}]},
        {"type": "paragraph", "content": [{"type": "mention", "attrs": {"id": "abc", "text": "@Ann"}},
                                          {"type": "hardBreak"}, {"type": "text", "text": "thanks"}]},
        {"type": "codeBlock", "content": [{"type": "text", "text": "x = 1"}]},
    ]}
    assert adf_to_text(doc) == "Steps\n\n- open\n- see docs (https://d.io)\n\n@Ann\nthanks\n\nx = 1"


@pytest.mark.parametrize("marks", [None, [None], [{"type": "link"}], [{"type": "link", "attrs": None}],
                                   [{"type": "link", "attrs": {"href": 7}}], "strong"])
def test_adf_text_with_marks_of_another_shape_keeps_its_words(marks: Any) -> None:
    # a link mark without attrs (or marks that are not a list) raised, and the whole issue could not be read
    doc = {"type": "doc", "content": [{"type": "paragraph", "content": [
        {"type": "text", "text": "see the docs", "marks": marks}, {"type": "text", "text": None}]}]}
    assert adf_to_text(doc) == "see the docs"


def test_wiki_to_text() -> None:
    markup = "h2. Steps\n* *Open* the [settings|https://a.io/s]\n* ask [~accountid:619a44]\n{code:java}x = 1{code}\n_snake_case_ stays"
    assert wiki_to_text(markup) == "Steps\n- Open the settings (https://a.io/s)\n- ask @619a44\nx = 1\nsnake_case stays"


def test_issue_mapping_from_rest_v3_adf() -> None:
    ticket = mapping.ticket(load("issue_get.json"), ME, "http://jira")
    assert ticket.ref.external_id == "TESTKEY13-1" and ticket.url == "http://jira/browse/TESTKEY13-1"
    assert ticket.subject == "My Summary" and ticket.text == "Test issue"
    assert ticket.status is Status.NEW and ticket.priority is Priority.LOW and ticket.tags == ("test",)
    assert ticket.requester.email == "integration-test@airbyte.io" and not ticket.requester.is_agent
    request, note, answer, reply = ticket.messages
    assert request.text == "The export still fails, see log (https://example.com/log)"
    assert note.visibility is Visibility.INTERNAL and note.author.is_agent
    assert answer.author.is_self and reply.text == "Closed" and not reply.author.is_agent
    assert "known bug" not in " ".join(m.text for m in ticket.public_messages())


def test_issue_mapping_from_webhook_v2_wiki() -> None:
    issue = load("webhook_issue_created.json")["issue"]
    issue["fields"]["description"] = "h3. Problem\nThe *printer* is on fire"
    ticket = mapping.ticket(issue, ME, "http://jira")
    assert ticket.text == "Problem\nThe printer is on fire"
    assert ticket.created_at.isoformat() == "2026-04-25T13:05:13.605000+00:00"


@pytest.mark.parametrize(
    ("status", "expected"),
    [({"name": "To Do", "statusCategory": {"key": "new"}}, Status.NEW),
     ({"name": "In Progress", "statusCategory": {"key": "indeterminate"}}, Status.OPEN),
     ({"name": "Waiting for customer", "statusCategory": {"key": "indeterminate"}}, Status.PENDING),
     ({"name": "Done", "statusCategory": {"key": "done"}}, Status.SOLVED),
     ({"name": "Closed", "statusCategory": {"key": "done"}}, Status.CLOSED)],
)
def test_status_mapping(status: dict[str, Any], expected: Status) -> None:
    assert mapping.status_of(status) is expected


def test_issue_created_webhook() -> None:
    event = events.parse({"X-Atlassian-Webhook-Identifier": "wh-1"}, load("webhook_issue_created.json"), ME)
    assert event is not None and event.kind is EventKind.CREATED and event.ref.external_id == "KAN-3"
    assert event.delivery_id == "issue:10033:created", "the issue, not the header"
    assert event.data["delivery"] == "wh-1"


def test_the_dedupe_key_is_the_event_and_falls_back_to_a_hash_of_the_body() -> None:
    body = load("webhook_issue_created.json")
    first = events.parse({}, body, ME)
    body["timestamp"] += 1  # re-rendered later: the same issue created once
    again = events.parse({}, body, ME)
    assert first is not None and again is not None and first.delivery_id == again.delivery_id == "issue:10033:created"
    comment = load("webhook_comment_created.json")
    assert events.event_key(comment) == "comment:10003"
    del comment["comment"]["id"]
    unnamed = events.event_key(comment)
    assert unnamed.startswith("body:") and unnamed == events.event_key(json.loads(json.dumps(comment)))
    comment["timestamp"] += 1
    assert events.event_key(comment) != unnamed


@pytest.mark.parametrize("unnamed", [None, "", "absent"])
def test_a_comment_webhook_naming_no_comment_id_is_a_message_of_its_own_delivery(unnamed: str | None) -> None:
    bodies = [load("webhook_comment_created.json") for _ in range(2)]
    for n, body in enumerate(bodies):
        body["comment"]["body"] = f"Still broken, attempt {n}"
        body["timestamp"] += n
        if unnamed == "absent":
            del body["comment"]["id"]
        else:
            body["comment"]["id"] = unnamed
    first, second = (events.parse({}, body, ME) for body in bodies)
    assert first is not None and second is not None and first.message is not None and second.message is not None
    assert first.message.external_id == first.delivery_id and first.delivery_id.startswith("body:")
    assert first.message.external_id != second.message.external_id  # not one message "None"


def test_comment_created_webhook_keeps_wiki_text() -> None:
    body = load("webhook_comment_created.json")
    body["comment"]["body"] = "It still fails for [~accountid:619a4432ebce470067f20384], *please* help"
    event = events.parse({}, body, ME)
    assert event is not None and event.kind is EventKind.COMMENTED and event.ref.external_id == "SB-1"
    assert event.message is not None and event.message.text == "It still fails for @619a4432ebce470067f20384, please help"


def test_server_comment_without_issue_uses_the_issue_id() -> None:
    event = events.parse({}, load("webhook_comment_created_server.json"), ME)
    assert event is not None and event.ref.external_id == "26313" and event.message.text == "12345"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "change",
    [{"jsdPublic": False}, {"visibility": {"type": "role", "value": "Developers"}},
     {"author": {"accountId": "hub-account"}}, {"author": {"accountId": "x", "emailAddress": "HUB@example.com"}}],
)
def test_comments_the_hub_must_ignore(change: dict[str, Any]) -> None:
    body = load("webhook_comment_created.json")
    body["comment"].update(change)
    assert events.parse({}, body, ME) is None


def test_every_comment_is_a_reply_and_an_app_accounts_is_automated() -> None:
    """A Jira issue's description is not one of its comments: each comment came after the request. One by an
    ``app`` account (Automation for Jira) is not a person's."""
    issue = load("issue_get.json")
    comments = issue["fields"]["comment"]["comments"]
    comments[0]["author"] = comments[0]["author"] | {"accountType": "app"}
    ticket = mapping.ticket(issue, ME, "http://jira")
    assert ticket.replies() == ticket.messages and len(ticket.messages) == len(comments)
    assert [m.automated for m in ticket.messages] == [True] + [False] * (len(comments) - 1)


def test_agent_comment_is_passed_on_marked_as_an_agents_when_the_reporter_is_known() -> None:
    body = load("webhook_comment_created.json")
    body["issue"]["fields"]["reporter"] = {"accountId": "someone-else"}
    event = events.parse({}, body, ME)
    assert event is not None and event.message is not None and event.message.author.is_agent


def test_on_an_issue_the_hub_opened_only_agents_comments_are_passed_on() -> None:
    body = load("webhook_comment_created.json")
    body["issue"]["fields"]["labels"] = ["hub_created"]
    body["issue"]["fields"].pop("reporter", None)
    body["comment"]["author"]["accountType"] = "customer"
    assert events.parse({}, body, ME) is None  # a JSM customer: the requester's side
    body["comment"]["author"]["accountType"] = "atlassian"
    event = events.parse({}, body, ME)  # an agent or the reporter: the job tells which (JiraConnector.resolve)
    assert event is not None and event.data[mapping.IF_AGENT] == "public"
    body["issue"]["fields"]["reporter"] = {"accountId": "someone-else"}
    event = events.parse({}, body, ME)
    assert event is not None and event.message is not None and event.message.author.is_agent


def test_other_events_and_hub_opened_issues_are_ignored() -> None:
    body = load("webhook_issue_created.json")
    assert events.parse({}, {**body, "webhookEvent": "jira:issue_updated"}, ME) is None
    body["issue"]["fields"]["labels"] = ["hub_created"]
    assert events.parse({}, body, ME) is None


@pytest.mark.parametrize("body", [[], {"issue": {}}, {"webhookEvent": "comment_created", "comment": {"id": "1"}}])
def test_malformed_bodies(body: Any) -> None:
    with pytest.raises(PayloadError):
        events.parse({}, body, ME)


def test_signature() -> None:
    body = b'{"webhookEvent":"jira:issue_created"}'
    events.verify("s3cret", {"X-Hub-Signature": events.sign("s3cret", body)}, body)
    events.verify(None, {}, body, allow_unsigned=True)  # the admin's explicit opt-out: nothing to check
    with pytest.raises(SignatureError, match="JIRA_WEBHOOK_SECRET is not set"):
        events.verify(None, {}, body)  # no secret and no opt-out: refused
    for headers in ({}, {"X-Hub-Signature": events.sign("other", body)}):
        with pytest.raises(SignatureError):
            events.verify("s3cret", headers, body)


def test_jql_is_written_in_the_users_time_zone() -> None:
    from datetime import datetime, timezone

    since = datetime(2026, 1, 1, 10, 5, 30, tzinfo=timezone.utc)
    assert poll.jql("SUP", since, "Europe/Berlin") == 'project = "SUP" AND updated >= "2026/01/01 11:05" ORDER BY updated ASC'
    assert poll.jql(None, since, "Not/AZone") == 'updated >= "2026/01/01 10:05" ORDER BY updated ASC'


def test_answer_body_uses_wiki_links() -> None:
    body = mapping.answer_body("Re-run it.", [{"title": "Exports", "url": "https://kb/exports"}])
    assert body == "Re-run it.\n\nSources:\n* [Exports|https://kb/exports]"


@pytest.mark.parametrize(("text", "body"), [
    ("Use -v- or +x+ or ^2^ or ~1~ or ??cite?? or _it_ or *b*.",
     "Use \\-v- or \\+x+ or \\^2^ or \\~1~ or \\??cite?? or \\_it_ or \\*b*."),
    ("5 * 3, file_name_v2, 2024-05-01, C++ and C#, H2O_a, ~/a and ~/b", "5 * 3, file_name_v2, 2024-05-01, C++ and C#, H2O_a, ~/a and ~/b"),
    ("--force and --- and -- stay; *a\nb* spans lines", "--force and --- and -- stay; *a\nb* spans lines"),
    ("*a *b* c*", "\\*a \\*b* c*"),
    ("See https://x.example/a_b_*c* and {id} [Enter]", "See https://x.example/a_b_*c* and \\{id} \\[Enter]"),
])
def test_plain_text_is_escaped_only_where_jira_would_render_a_mark(text: str, body: str) -> None:
    assert mapping.answer_body(text) == body


# -- who sees a comment with no jsdPublic (Jira Server/DC): its sd.public.comment property ---------------

SERVER_AGENT = {"name": "grace", "key": "JIRAUSER10200", "displayName": "Grace Hopper"}
SERVER_REPORTER = {"name": "ada", "key": "JIRAUSER10300", "displayName": "Ada"}


@pytest.mark.parametrize(
    ("answer", "expected"),
    [(None, Visibility.PUBLIC),  # 404: no such property, nothing marks the comment internal
     ({"key": "sd.public.comment", "value": {"internal": False}}, Visibility.PUBLIC),
     ({"key": "sd.public.comment", "value": {"internal": True}}, Visibility.INTERNAL),
     ({"key": "sd.public.comment", "value": {"internal": "false"}}, Visibility.INTERNAL),
     ({"key": "sd.public.comment", "value": {}}, Visibility.INTERNAL),
     ({"key": "sd.public.comment", "value": None}, Visibility.INTERNAL),
     ({"key": "sd.public.comment"}, Visibility.INTERNAL),
     ({"key": "hub_key", "value": {"internal": False}}, Visibility.INTERNAL),
     ({}, Visibility.INTERNAL)],
)
def test_the_looked_up_property_decides_only_when_it_plainly_says_public(answer: Any, expected: Visibility) -> None:
    assert mapping.property_visibility(answer) is expected


@pytest.mark.parametrize(
    ("comment", "author", "looked_up", "expected"),
    [({}, SERVER_AGENT, Visibility.PUBLIC, Visibility.PUBLIC),
     ({}, SERVER_AGENT, Visibility.INTERNAL, Visibility.INTERNAL),
     ({}, SERVER_AGENT, Visibility.UNKNOWN, Visibility.UNKNOWN),  # the look-up failed: asked again
     ({}, SERVER_AGENT, None, Visibility.UNKNOWN),  # not looked up (a webhook, a poll)
     ({"jsdPublic": None}, SERVER_AGENT, Visibility.PUBLIC, Visibility.INTERNAL),  # present but malformed: ambiguous
     ({"jsdPublic": False}, SERVER_AGENT, Visibility.PUBLIC, Visibility.INTERNAL),
     ({"visibility": {"type": "role", "value": "Developers"}}, SERVER_AGENT, Visibility.PUBLIC, Visibility.INTERNAL),
     ({"properties": [{"key": "sd.public.comment", "value": {"internal": True}}]}, SERVER_AGENT, Visibility.PUBLIC, Visibility.INTERNAL),
     ({"properties": "garbage"}, SERVER_AGENT, Visibility.PUBLIC, Visibility.INTERNAL),
     ({}, SERVER_REPORTER, None, Visibility.PUBLIC),  # the requester's side's own words
     ({}, {"name": "helpdesk-hub", "key": "JIRAUSER10100"}, None, Visibility.INTERNAL)],  # the hub's own: never looked up
)
def test_a_comment_without_jsdPublic_is_public_only_by_its_looked_up_property(
        comment: dict[str, Any], author: dict[str, Any], looked_up: Visibility | None, expected: Visibility) -> None:
    me = mapping.Self(user_id="helpdesk-hub")
    raw = {"id": "31039", "author": author, "body": "Refunded.", **comment}
    assert mapping.message(raw, "ada", me, looked_up=looked_up).visibility is expected


def test_only_agents_comments_with_no_jsdPublic_and_a_numeric_id_are_looked_up_the_others_are_decided() -> None:
    me = mapping.Self(user_id="helpdesk-hub")
    comments = [{"id": "1", "author": SERVER_AGENT}, {"id": "2", "author": SERVER_AGENT, "jsdPublic": True},
                {"id": "3", "author": SERVER_REPORTER}, {"id": "4", "author": {"name": "helpdesk-hub"}},
                {"id": "../5", "author": SERVER_AGENT}, {"id": "6", "author": SERVER_AGENT, "visibility": {"type": "group", "value": "x"}},
                {"id": "7", "author": SERVER_AGENT}]
    issue = {"key": "SUP-42", "fields": {"reporter": SERVER_REPORTER, "comment": {"comments": comments}}}
    assert mapping.lookups_needed(issue, me) == ["1", "7"]
    ticket = mapping.ticket(issue, me, "http://jira", {"1": Visibility.PUBLIC, "7": Visibility.INTERNAL})
    assert [m.visibility for m in ticket.messages] == [Visibility.PUBLIC, Visibility.PUBLIC, Visibility.PUBLIC, Visibility.INTERNAL,
                                                       Visibility.INTERNAL, Visibility.INTERNAL, Visibility.INTERNAL]


def test_a_server_agents_comment_webhook_is_passed_on_undecided_for_the_sync_to_judge() -> None:
    body = load("webhook_comment_created_server.json")  # Server: no jsdPublic
    body["issue"] = {"id": "10000", "key": "SUP-42", "fields": {"labels": ["hub_created"], "reporter": {"name": "helpdesk-hub"}}}
    event = events.parse({}, body, mapping.Self(user_id="helpdesk-hub"))
    assert event is not None and event.message is not None
    assert event.message.author.is_agent and event.message.visibility is Visibility.UNKNOWN


def test_a_comment_whose_webhook_names_no_reporter_is_judged_on_the_reporter_read_later() -> None:
    body = load("webhook_comment_created_server.json")  # Server: no issue; the author named by their self link only
    event = events.parse({}, body, mapping.Self(email="hub@example.com"))
    assert event is not None and event.message is not None and not event.message.author.is_agent
    assert event.message.author.external_id == "ii_ivanov" and event.data[mapping.IF_AGENT] == "unknown"  # looked up if an agent's
    agent = mapping.judged(event.message, "ada", Visibility.UNKNOWN, ME)
    assert agent.author.is_agent and agent.visibility is Visibility.UNKNOWN
    assert mapping.judged(event.message, "ii_ivanov", Visibility.UNKNOWN, ME) == event.message, "the reporter's own: the requester's"
    hub = mapping.judged(event.message, "ada", Visibility.UNKNOWN, mapping.Self(user_id="ii_ivanov"))
    assert hub.author.is_self, "the hub's own, once its user id is known"


@pytest.mark.parametrize("change", [{"id": None}, "a comment", 7])
def test_a_comment_not_of_the_documented_shape_is_passed_over_and_the_rest_is_read(change: Any) -> None:
    # two comments without an id would have been one message ("None"); a string failed the issue on every retry
    issue = load("issue_get.json")
    comments = issue["fields"]["comment"]["comments"]
    kept = [str(c["id"]) for c in comments]
    comments[1] = change if not isinstance(change, dict) else {k: v for k, v in comments[1].items() if k != "id"}
    before = REGISTRY.get_sample_value("hub_connector_records_unreadable_total", {"source": "jira", "kind": "comment"}) or 0.0
    ticket = mapping.ticket(issue, ME, "http://jira")
    assert [m.external_id for m in ticket.messages] == kept[:1] + kept[2:]
    assert ticket.messages[0].text == "The export still fails, see log (https://example.com/log)"
    assert REGISTRY.get_sample_value("hub_connector_records_unreadable_total", {"source": "jira", "kind": "comment"}) == before + 1


@pytest.mark.parametrize("author", [None, {}])
def test_a_comment_whose_author_is_unknown_is_an_internal_note_not_the_requesters_word(author: Any) -> None:
    # a deleted or anonymous user's comment has no author: it was read as the requester's public reply, which
    # the hub would answer; and as an agent's public one it would be mirrored to the requester
    issue = load("issue_get.json")
    comments = issue["fields"]["comment"]["comments"]
    comments.append({**comments[-1], "id": "99001", "author": author, "jsdPublic": True, "body": "+1, same here"})
    last = mapping.ticket(issue, ME, "http://jira").messages[-1]
    assert last.external_id == "99001" and last.text == "+1, same here"
    assert last.author.is_agent and not last.author.is_self
    assert last.visibility is Visibility.INTERNAL
    assert "99001" not in [m.external_id for m in mapping.ticket(issue, ME, "http://jira").public_messages()]


@pytest.mark.parametrize("markup,text", [
    ("# Open Billing\n# Pick a plan\n# Save", "1. Open Billing\n2. Pick a plan\n3. Save"),
    ("# one\n## sub a\n## sub b\n# two\n## sub c", "1. one\n  1. sub a\n  2. sub b\n2. two\n  1. sub c"),  # a sub-list counts anew
    ("# one\n#* a bullet under it\n# two", "1. one\n  - a bullet under it\n2. two"),
    ("* a bullet\n*# numbered under it\n*# and on", "- a bullet\n  1. numbered under it\n  2. and on"),
    ("# one\n\n# again", "1. one\n\n1. again"),  # a blank line ends a list, as in Jira
    ("# one\n* other kind\n# anew", "1. one\n- other kind\n1. anew"),
    ("{code}\n# a comment\n{code}\n# a step", "# a comment\n\n1. a step"),  # code is as written
])
def test_wiki_numbered_lists_read_numbered_as_adf_ones_do(markup: str, text: str) -> None:
    assert wiki_to_text(markup) == text
