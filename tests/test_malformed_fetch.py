"""A vendor record read while processing a request (``fetch``, Jira's ``resolve``, Zendesk's ``already_wrote``)
that is not of the documented shape fails its inbox row at once, naming the record, logged and counted as the
poll's passed-over records are: it used to be taken for a bug and retried up to the error cap, though it reads the
same every time. A well-formed request in the same run is answered as usual. A Slack user ``users.info`` gives of
another shape is passed over (a person without a name), and its request goes on.

Zendesk and Jira are mocked at the transport with `responses`, Slack by the loopback stub; each answers as the
vendor documents except for the one malformed field."""

from __future__ import annotations

import re
from typing import Any, Callable

import pytest
import responses

from app import build_hub, create_app
from config import load_settings
from connectors.jira import events as jira_events
from connectors.zendesk import ZendeskConnector
from connectors.zendesk.connector import key_tag
from core.db import InboxEvent
from core.errors import Fatal
from core.models import Source, TicketRef
from interceptor.kb.importer import import_articles, parse_markdown
from tests.conftest import settings_dict
from tests.sync_world import World, zendesk_signed
from tests.test_emoji_intake import QUESTION_TS, creates, reaction, seed_question, stub, world  # noqa: F401 - fixtures
from tests.test_jira_connector import API as JIRA_API
from tests.test_jira_connector import JIRA
from tests.test_jira_mapping import fresh_body
from tests.test_jira_mapping import load as load_jira
from tests.test_slack_flow import ARTICLES, CHANNEL
from tests.test_zendesk_connector import API, ZENDESK
from tests.test_zendesk_mapping import load

BAD, GOOD = 5158, 5159


def unreadable(client: Any, source: str, kind: str) -> float:
    """``hub_connector_records_unreadable_total{source,kind}`` as ``/metrics`` says it."""
    text = client.get("/metrics").get_data(as_text=True)
    found = re.search(rf'^hub_connector_records_unreadable_total\{{kind="{kind}",source="{source}"\}} (\S+)$', text, re.M)
    return float(found.group(1)) if found else 0.0


def inbox(hub: Any) -> dict[str, InboxEvent]:
    with hub.db.session() as s:
        return {row.ticket_ref: row for row in s.query(InboxEvent).all()}


def zendesk_ticket(ticket_id: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """``GET /tickets/{id}`` and its comments: one question from the requester."""
    show = load("ticket_show.json")
    show["ticket"].update(id=ticket_id, subject="Password", description="How do I reset my password?", status="new")
    listed = load("ticket_comments.json")
    listed["comments"] = [listed["comments"][0] | {"id": 101, "body": "How do I reset my password?", "plain_body": "How do I reset my password?"}]
    return show, listed


def created_event(ticket_id: int) -> dict[str, Any]:
    body = load("event_ticket_created.json")
    body["detail"]["id"], body["subject"], body["id"] = str(ticket_id), f"zen:ticket:{ticket_id}", f"event-{ticket_id}"
    return body


def _tags_not_a_list(show: dict[str, Any], listed: dict[str, Any]) -> None:
    show["ticket"]["tags"] = 7


def _requester_an_object(show: dict[str, Any], listed: dict[str, Any]) -> None:
    show["ticket"]["requester_id"] = {"id": show["ticket"]["requester_id"]}


def _comment_a_string(show: dict[str, Any], listed: dict[str, Any]) -> None:
    listed["comments"].append("It still does not work")


@pytest.mark.parametrize("spoil,error", [
    (_tags_not_a_list, "TypeError"), (_requester_an_object, "ValueError"), (_comment_a_string, "AttributeError")])
def test_a_malformed_zendesk_ticket_fails_its_row_at_once_and_the_next_is_answered(
        database_url: str, spoil: Callable[[dict[str, Any], dict[str, Any]], None], error: str) -> None:
    hub = build_hub(load_settings(settings_dict(database_url, **ZENDESK, HUB_CHANNEL_POLICIES={"zendesk": {"threshold": 0.5}})))
    import_articles(hub.db, (parse_markdown(text, name) for name, text in ARTICLES.items()))
    client = create_app(hub=hub).test_client()
    try:
        with responses.RequestsMock(assert_all_requests_are_fired=False) as api:
            api.get(f"{API}/users/me.json", json=load("users_me.json"))
            api.get(f"{API}/users/show_many.json", json=load("users_show_many.json"))
            for ticket_id in (BAD, GOOD):
                show, listed = zendesk_ticket(ticket_id)
                if ticket_id == BAD:
                    spoil(show, listed)
                api.get(f"{API}/tickets/{ticket_id}.json", json=show)
                api.get(f"{API}/tickets/{ticket_id}/comments.json", json=listed)
                api.put(f"{API}/tickets/{ticket_id}.json", json=load("ticket_update_response.json"))
            before = unreadable(client, "zendesk", "ticket")
            for ticket_id in (BAD, GOOD):
                raw, headers = zendesk_signed(created_event(ticket_id), f"inv-{ticket_id}")
                assert client.post("/webhooks/zendesk", data=raw, headers=headers).get_json()["status"] == "accepted"
            hub.jobs.drain()  # type: ignore[attr-defined]
            written = [c.request.url.split("/api/v2")[1] for c in api.calls if c.request.method == "PUT"]
        rows = inbox(hub)
        bad, good = rows[f"zendesk:{BAD}"], rows[f"zendesk:{GOOD}"]
        assert (bad.status, bad.attempts) == ("failed", 1), "not retried: it would read the same"
        assert bad.last_error.startswith(f"UnreadableRecord: zendesk ticket {BAD} is not of the documented shape: {error}")
        assert unreadable(client, "zendesk", "ticket") == before + 1
        assert good.status == "done" and written == [f"/tickets/{GOOD}.json"]
    finally:
        hub.close()


def test_a_zendesk_already_wrote_check_on_tags_not_a_list_is_fatal_and_names_the_ticket() -> None:
    zd = ZendeskConnector(load_settings(ZENDESK).zendesk)  # type: ignore[arg-type]
    show, _ = zendesk_ticket(BAD)
    show["ticket"]["tags"] = key_tag("answer:zendesk:5158")  # the tag itself, but as a string, not an array
    with responses.RequestsMock() as api:
        api.get(f"{API}/tickets/{BAD}.json", json=show)
        with pytest.raises(Fatal, match=f"zendesk ticket {BAD} is not of the documented shape: TypeError"):
            zd.already_wrote(TicketRef(Source.ZENDESK, str(BAD)), "answer:zendesk:5158")


def jira_issue(key: str, issue_id: str) -> dict[str, Any]:
    issue = load_jira("issue_get.json")
    issue.update(key=key, id=issue_id)
    issue["fields"].update(summary="Refund please", description="I was charged twice, please refund me", comment={"comments": []})
    return issue


def jira_created(key: str, issue_id: str, delivery: str) -> tuple[bytes, dict[str, str]]:
    webhook = load_jira("webhook_issue_created.json")
    body = fresh_body("webhook_issue_created.json", issue=webhook["issue"] | {"key": key, "id": issue_id})
    return body, {"X-Hub-Signature": jira_events.sign("s3cret", body), "X-Atlassian-Webhook-Identifier": delivery,
                  "Content-Type": "application/json"}


def test_a_jira_issue_whose_fields_are_a_list_fails_its_row_at_once_and_the_next_is_handled(database_url: str) -> None:
    hub = build_hub(load_settings(settings_dict(database_url, **JIRA)))
    client = create_app(hub=hub).test_client()
    broken = jira_issue("KAN-3", "10033")
    broken["fields"] = [broken["fields"]]
    try:
        with responses.RequestsMock(assert_all_requests_are_fired=False) as api:
            api.get(f"{JIRA_API}/myself", json=load_jira("myself.json"))
            api.get(f"{JIRA_API}/issue/KAN-3", json=broken)
            api.get(f"{JIRA_API}/issue/KAN-4", json=jira_issue("KAN-4", "10034"))
            api.put(f"{JIRA_API}/issue/KAN-4", status=204)
            api.post(f"{JIRA_API}/issue/KAN-4/comment", json=load_jira("comment_create_response.json"), status=201)
            before = unreadable(client, "jira", "issue")
            for key, issue_id, delivery in (("KAN-3", "10033", "wh-3"), ("KAN-4", "10034", "wh-4")):
                body, headers = jira_created(key, issue_id, delivery)
                assert client.post("/webhooks/jira", data=body, headers=headers).get_json()["status"] == "accepted"
            hub.jobs.drain()  # type: ignore[attr-defined]
            written = {c.request.url for c in api.calls if c.request.method in ("PUT", "POST")}
        rows = inbox(hub)
        assert (rows["jira:KAN-3"].status, rows["jira:KAN-3"].attempts) == ("failed", 1)
        assert "jira issue KAN-3 is not of the documented shape: AttributeError" in rows["jira:KAN-3"].last_error
        assert unreadable(client, "jira", "issue") == before + 1
        assert rows["jira:KAN-4"].status == "done" and written == {f"{JIRA_API}/issue/KAN-4", f"{JIRA_API}/issue/KAN-4/comment"}
    finally:
        hub.close()


def test_a_jira_comment_whose_issue_reads_malformed_in_resolve_fails_at_once(sqlite_url: str) -> None:
    # Jira Server/DC names the issue by its id: resolve reads it (its key, its reporter) before anything else.
    hub = build_hub(load_settings(settings_dict(sqlite_url, **JIRA)))
    client = create_app(hub=hub).test_client()
    body = fresh_body("webhook_comment_created_server.json")
    headers = {"X-Hub-Signature": jira_events.sign("s3cret", body), "X-Atlassian-Webhook-Identifier": "wh-c",
               "Content-Type": "application/json"}
    issue_id = load_jira("webhook_comment_created_server.json")["comment"]["self"].split("/issue/")[1].split("/")[0]
    try:
        with responses.RequestsMock(assert_all_requests_are_fired=False) as api:
            api.get(f"{JIRA_API}/myself", json=load_jira("myself.json"))
            api.get(f"{JIRA_API}/issue/{issue_id}", json={"id": issue_id, "key": "SUP-7", "fields": ["reporter"]})
            assert client.post("/webhooks/jira", data=body, headers=headers).get_json()["status"] == "accepted"
            hub.jobs.drain()  # type: ignore[attr-defined]
        [row] = inbox(hub).values()
        assert (row.status, row.attempts) == ("failed", 1)
        assert f"jira issue {issue_id} is not of the documented shape" in row.last_error
    finally:
        hub.close()


MALFORMED_TS = "1800000700.000100"


@pytest.mark.parametrize("root", ["The VPN drops every hour", 1800000700,
                                  {"type": "message", "user": "U0ERIN001", "text": 42, "ts": MALFORMED_TS}])
def test_a_slack_thread_whose_first_message_is_unreadable_is_handed_over_naming_the_message(world: World, root: Any) -> None:  # noqa: F811
    world.stub.seed_unreadable_thread(CHANNEL, MALFORMED_TS, root,
                                      {"type": "message", "user": "U0DAVE001", "text": "same here", "ts": "1800000701.000100"})
    seed_question(world)
    before, made = unreadable(world.client, "slack", "thread"), len(creates(world))
    for ts in (MALFORMED_TS, QUESTION_TS):
        assert world.slack(reaction("U0CAROL01", "sos", ts=ts)).get_json()["status"] == "accepted"
    world.drain()
    rows = {row.delivery_id: row for row in world.rows(InboxEvent) if row.delivery_id.startswith("reaction:")}
    [bad] = [r for d, r in rows.items() if MALFORMED_TS in d]
    [good] = [r for d, r in rows.items() if QUESTION_TS in d]
    # The thread read fails at once (no retries), and so does reading the message alone (reactions.get answers
    # it of the same shape): the request goes to people by the message's link, not to nobody as it used to.
    assert (bad.status, bad.attempts) == ("done", 1) and bad.last_error is None
    assert unreadable(world.client, "slack", "thread") == before + 1
    assert good.status == "done" and len(creates(world)) == made + 2
    [named] = [c for c in creates(world)[made:] if "could not read this Slack message" in c["comment"]["body"]]
    body = named["comment"]["body"]
    # an object whose text is a number is the root all the same: not the reply read as the request in its place
    assert "UnreadableRecord: slack thread " in body and "is not of the documented shape: " in body
    named_by = (f"It is the message {MALFORMED_TS} in channel {CHANNEL}.", "Open it in Slack: https://")  # no link: its ts
    assert any(n in body for n in named_by) and "same here" not in body


def test_a_slack_user_that_users_info_gives_as_a_string_is_passed_over(world: World) -> None:  # noqa: F811
    # a person the hub cannot read is one without a name, as one users.info does not find: the request goes on
    world.stub.users["U0MALLORY"] = "Mallory"  # documented: an object
    world.stub.seed_thread(CHANNEL, {"type": "message", "user": "U0MALLORY", "text": "The printer is on fire", "ts": MALFORMED_TS})
    seed_question(world)
    before, made = unreadable(world.client, "slack", "user"), len(creates(world))
    for ts in (MALFORMED_TS, QUESTION_TS):
        assert world.slack(reaction("U0CAROL01", "sos", ts=ts)).get_json()["status"] == "accepted"
    world.drain()
    rows = [row for row in world.rows(InboxEvent) if row.delivery_id.startswith("reaction:")]
    assert sorted((r.status, r.attempts) for r in rows) == [("done", 1), ("done", 1)]
    assert unreadable(world.client, "slack", "user") == before + 1
    assert len(creates(world)) == made + 2
