"""A request people took on while it waited for the hub (a read outage, a backlog) is left to them: an agent's
public reply means the conversation is theirs, and an answer from the hub would talk over it; an agent's internal
note means they are working on it, and a draft for them would be noise. A reply or a note a rule or an
integration wrote in an agent's name (an acknowledgement every new ticket gets) is not an agent's, nor is the
hub's own.

Zendesk and Jira are faked at the transport (tests/outage_world.py); the hub runs through its own handlers."""

from __future__ import annotations

import copy
from typing import Any, Callable, Iterator

import pytest
import responses

from core.db import DecisionRow
from tests.outage_world import ADMIN, Jira, Zendesk, inbox_row, make_hub, next_at, outbox_rows, run_inbox, server_error

AGENT = "6130907993114"  # an admin in users_show_many.json
APP = {"accountId": "557058:automation", "accountType": "app", "displayName": "Automation for Jira"}
JIRA_AGENT = {"accountId": "agent-1", "accountType": "atlassian", "displayName": "Sam Agent"}


@pytest.fixture
def api() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def zendesk_reply(desk: Zendesk, channel: str, public: bool = True, author: str = AGENT) -> None:
    """An agent's comment on the ticket (public, or an internal note), made via ``channel`` ("web": typed;
    "rule": a trigger; "api": an integration, the hub)."""
    reply = copy.deepcopy(desk.comments[0])
    reply.update(id=102, author_id=int(author), public=public, body="Looking into it now.", plain_body="Looking into it now.",
                 html_body="<p>Looking into it now.</p>", via={"channel": channel, "source": {"from": {}, "to": {}, "rel": None}})
    desk.comments.append(reply)


def jira_reply(issue: Jira, author: dict[str, Any], **marks: Any) -> None:
    """A comment on the issue by ``author``: public (``jsdPublic: true``) unless ``marks`` say otherwise."""
    issue.issue["fields"]["comment"]["comments"].append({
        "id": "10801", "author": author, "jsdPublic": True, "created": "2026-11-29T09:00:00.000+0000",
        "body": {"version": 1, "type": "doc", "content": [{"type": "paragraph", "content": [{"type": "text", "text": "We are on it."}]}]},
        **marks,
    })


def stats(client: Any) -> tuple[int, int, int]:
    counts = client.get("/api/v1/stats", headers=ADMIN).get_json()["counts"]
    return counts["requests"], counts["answered"], counts["escalated"]


def decisions(hub: Any) -> int:
    with hub.db.session() as s:
        return len(s.query(DecisionRow).all())


def solve(desk: Zendesk) -> None:
    desk.shown["ticket"]["status"] = "solved"


def reply(desk: Zendesk) -> None:
    zendesk_reply(desk, "web")


def note(desk: Zendesk) -> None:
    zendesk_reply(desk, "web", public=False)  # "checking with billing", typed in the agent interface


@pytest.mark.parametrize("meanwhile", [solve, reply, note], ids=["solved", "replied", "noted"])
def test_a_ticket_people_took_on_while_the_read_failed_is_neither_answered_nor_drafted(
        database_url: str, api: responses.RequestsMock, meanwhile: Callable[[Zendesk], None]) -> None:
    """Zendesk rate-limits the API user, not its agents: while the hub's read waits, an agent solves the ticket
    (answering it would set it back to pending, and a closed ticket refuses the comment), answers it, or writes
    an internal note on it."""
    desk = Zendesk(api)
    desk.reads.script = [server_error(503)]
    hub, client = make_hub(database_url, "zendesk")
    try:
        assert desk.deliver(client) == "accepted"
        hub.jobs.drain()  # type: ignore[attr-defined]
        row = inbox_row(hub)
        assert (row.status, row.attempts) == ("pending", 1)
        meanwhile(desk)
        assert run_inbox(hub, next_at(row)) == 1
        row = inbox_row(hub)
        assert (row.status, row.last_error) == ("done", None)
        assert desk.sent == [] and outbox_rows(hub) == [] and decisions(hub) == 0  # no answer, no draft, no reopen
        assert stats(client) == (0, 0, 0)
    finally:
        hub.close()


@pytest.mark.parametrize("channel, public", [("rule", True), ("rule", False), ("api", False)],
                         ids=["trigger-reply", "trigger-note", "integration-note"])
def test_a_zendesk_acknowledgement_a_trigger_wrote_does_not_stop_the_answer(database_url: str, api: responses.RequestsMock,
                                                                            channel: str, public: bool) -> None:
    desk = Zendesk(api)
    zendesk_reply(desk, channel, public)  # "We got your request" from a trigger, or its "VIP customer" note
    hub, client = make_hub(database_url, "zendesk")
    try:
        assert desk.deliver(client) == "accepted"
        hub.jobs.drain()  # type: ignore[attr-defined]
        assert len(desk.applied) == 1 and desk.applied[0]["public"] is True  # answered, once
        assert stats(client)[:2] == (1, 1)
    finally:
        hub.close()


INTERNAL = {"jsdPublic": False, "properties": [{"key": "sd.public.comment", "value": {"internal": True}}]}


@pytest.mark.parametrize("author, marks, drafts", [
    (JIRA_AGENT, {}, 0), (JIRA_AGENT, {"jsdPublic": False}, 0), (JIRA_AGENT, {"jsdPublic": None}, 0), (APP, {}, 1), (APP, INTERNAL, 1),
], ids=["agent-reply", "agent-note", "agent-comment-not-proven-public", "automation-reply", "automation-note"])
def test_a_jira_issue_is_left_to_an_agent_who_replied_but_not_to_automation(
        database_url: str, api: responses.RequestsMock, author: dict[str, Any], marks: dict[str, Any], drafts: int) -> None:
    """An agent's JSM internal comment, or one whose ``jsdPublic`` proves nothing, is an agent on the issue
    (public or not); Automation for Jira's comment, public or internal, is no one taking it on."""
    issue = Jira(api)
    jira_reply(issue, author, **marks)
    hub, client = make_hub(database_url, "jira")
    try:
        assert issue.deliver(client) == "accepted"
        hub.jobs.drain()  # type: ignore[attr-defined]
        assert inbox_row(hub).status == "done"
        assert len(issue.applied) == drafts  # the internal draft for agents, or nothing
        assert all(c["properties"] == [{"key": "sd.public.comment", "value": {"internal": True}}] for c in issue.applied)
        assert stats(client) == (drafts, 0, drafts)
    finally:
        hub.close()
