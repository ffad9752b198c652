"""An answer that waited is neither posted nor handed over once people took the ticket meanwhile, by the rule
the hub decides by (``Ticket.taken_by_people``): solved or closed, or an agent's public reply or internal note.

Zendesk (or Jira) refuses the hub's answer with a 503; Zendesk rate-limits the hub's API user, not its agents, so
while the answer waits an agent answers the requester in the agent interface (Zendesk ``via: web``; a Jira
person's comment). The retry reads the ticket first and posts nothing (the hub would talk over the agent): the
row ends ``done``, the request records ``already_replied``, and ``/api/v1/stats`` counts it in its own bucket,
neither answered nor escalated. An agent's internal note ("checking with billing": a Zendesk private comment
typed in the agent interface, a JSM internal comment) is an agent on it: ``already_noted``, the same way. A
reply or a note a trigger or Automation for Jira wrote in an agent's name is nobody taking the request on: the
answer is posted, once. At the answer deadline the same look is made: a ticket solved, closed, answered or
noted meanwhile gets no draft and is not counted as escalated (a closed Zendesk ticket would refuse the note,
and its row would fail). Vendors are faked at the transport (:mod:`tests.outage_world`);
the test drives the clock.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Callable, Iterator

import pytest
import responses

from core.models import as_utc
from tests.outage_world import Jira, Zendesk, health, make_hub, next_at, outbox_rows, run_outbox
from tests.test_outage_reads import settled
from tests.test_outbox_solved_meanwhile import answer_waits, counted, outcomes, shown_withheld, solve, stats, vendor
from tests.test_taken_by_people import APP, JIRA_AGENT, jira_reply, zendesk_reply

IN_PROGRESS = {"name": "In Progress", "statusCategory": {"key": "indeterminate", "name": "In Progress"}}


@pytest.fixture
def api() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def agent_replies(fake: Any) -> None:
    """A person answers the requester in public and leaves the ticket open: Zendesk's agent interface ("web"),
    a Jira agent who moves the issue to In Progress."""
    if isinstance(fake, Zendesk):
        zendesk_reply(fake, "web")
        solve(fake, {"status": "open"})
    else:
        jira_reply(fake, JIRA_AGENT)
        solve(fake, {"status": IN_PROGRESS})


def agent_notes(fake: Any) -> None:
    """A person writes an internal note and leaves the ticket open: a private comment typed in Zendesk's agent
    interface ("web"), a JSM internal comment (``jsdPublic: false``, as Jira Cloud reads it back)."""
    if isinstance(fake, Zendesk):
        zendesk_reply(fake, "web", public=False)
        solve(fake, {"status": "open"})
    else:
        jira_reply(fake, JIRA_AGENT, jsdPublic=False)
        solve(fake, {"status": IN_PROGRESS})


def automation_replies(fake: Any) -> None:
    """An acknowledgement in an agent's name, by a Zendesk trigger ("rule") or Automation for Jira."""
    if isinstance(fake, Zendesk):
        zendesk_reply(fake, "rule")
    else:
        jira_reply(fake, APP)


def automation_notes(fake: Any) -> None:
    """An internal note in an agent's name ("VIP customer"), by a Zendesk trigger or Automation for Jira."""
    if isinstance(fake, Zendesk):
        zendesk_reply(fake, "rule", public=False)
    else:
        jira_reply(fake, APP, jsdPublic=False, properties=[{"key": "sd.public.comment", "value": {"internal": True}}])


WHY = {"already_solved": "people solved the ticket", "already_replied": "an agent replied to the requester",
       "already_noted": "an agent wrote an internal note on the ticket"}


def no_write_after_the_refused_one(fake: Any) -> None:
    assert len(fake.sent) == 1 and fake.applied == []  # the 503'd answer only: no comment, no note
    if isinstance(fake, Jira):
        assert fake.labels == []  # nor the answer's "hub_answered" label


@pytest.mark.parametrize("meanwhile,kind", [(agent_replies, "already_replied"), (agent_notes, "already_noted")], ids=["replied", "noted"])
@pytest.mark.parametrize("name", ["zendesk", "jira"])
def test_an_answer_is_not_posted_over_an_agent_who_replied_while_it_waited(database_url: str, api: responses.RequestsMock,
                                                                          name: str, meanwhile: Callable[[Any], None], kind: str) -> None:
    fake = vendor(api, name)
    hub, client = make_hub(database_url, name)
    try:
        answer = answer_waits(fake, client, hub)
        meanwhile(fake)
        before = counted(name, kind)
        assert run_outbox(hub, next_at(answer)) == 1
        [row] = outbox_rows(hub)
        assert (row.status, row.attempts, row.last_error) == ("done", 2, None)
        assert row.result == {"withheld": kind, "status": "open"}
        no_write_after_the_refused_one(fake)
        assert counted(name, kind) == before + 1
        assert outcomes(hub) == [kind]  # never answer_posted

        shown_withheld(client, kind, f"{WHY[kind]} while it waited")
        assert run_outbox(hub, next_at(row)) == 0 and len(fake.sent) == 1  # nothing is tried again
    finally:
        hub.close()


@pytest.mark.parametrize("meanwhile", [automation_replies, automation_notes], ids=["reply", "note"])
@pytest.mark.parametrize("name", ["zendesk", "jira"])
def test_an_acknowledgement_a_rule_wrote_while_the_answer_waited_does_not_stop_it(database_url: str,
                                                                                  api: responses.RequestsMock, name: str,
                                                                                  meanwhile: Callable[[Any], None]) -> None:
    fake = vendor(api, name)
    hub, client = make_hub(database_url, name)
    try:
        answer = answer_waits(fake, client, hub)
        meanwhile(fake)
        assert run_outbox(hub, next_at(answer)) == 1
        [row] = outbox_rows(hub)
        assert (row.status, row.attempts) == ("done", 2) and "withheld" not in (row.result or {})
        assert len(fake.applied) == 1 and fake.sent[1] == fake.sent[0]  # the same answer, posted once
        assert fake.applied[0]["public"] is True if isinstance(fake, Zendesk) else fake.labels == ["hub_answered"]
        assert outcomes(hub) == ["answer_posted"]
        counts = stats(client)["counts"]
        assert (counts["requests"], counts["answered"], counts["escalated"]) == (1, 1, 0)
        assert (counts["already_replied"], counts["already_noted"]) == (0, 0)
        settled(client)
    finally:
        hub.close()


def closed(fake: Any) -> None:
    solve(fake, {"status": "closed"})


def solved(fake: Any) -> None:
    solve(fake, {"status": "solved"} if isinstance(fake, Zendesk) else {"status": {"name": "Done", "statusCategory": {"key": "done"}}})


@pytest.mark.parametrize("name,meanwhile,kind,status", [
    ("zendesk", solved, "already_solved", "solved"),
    ("zendesk", closed, "already_solved", "closed"),
    ("zendesk", agent_replies, "already_replied", "open"),
    ("zendesk", agent_notes, "already_noted", "open"),
    ("jira", solved, "already_solved", "solved"),
    ("jira", agent_notes, "already_noted", "open"),
], ids=["zendesk-solved", "zendesk-closed", "zendesk-replied", "zendesk-noted", "jira-solved", "jira-noted"])
def test_at_the_deadline_a_ticket_people_took_meanwhile_gets_no_draft(
        database_url: str, api: responses.RequestsMock, name: str, meanwhile: Callable[[Any], None], kind: str, status: str) -> None:
    fake = vendor(api, name)
    hub, client = make_hub(database_url, name)
    try:
        answer = answer_waits(fake, client, hub)
        meanwhile(fake)
        deadline = as_utc(answer.created_at) + timedelta(seconds=hub.settings.answer_deadline_seconds)
        before = counted(name, kind)
        assert hub.pipeline.escalate_unposted(now=deadline) == 0  # nothing handed over
        hub.jobs.drain()  # type: ignore[attr-defined]
        [row] = outbox_rows(hub)  # the answer alone: no draft row
        assert (row.status, row.last_error, row.result) == ("done", None, {"withheld": kind, "status": status})
        no_write_after_the_refused_one(fake)
        assert counted(name, kind) == before + 1
        assert outcomes(hub) == [kind]  # never escalated (answer_not_posted)

        shown_withheld(client, kind, f"{WHY[kind]} while it waited")  # counted as people's work, never escalated
        assert stats(client)["counts"]["human_handled"] == 0 and health(client)[0] == 200
        assert hub.pipeline.escalate_unposted(now=deadline + timedelta(hours=1)) == 0  # a later sweep does nothing
        assert run_outbox(hub, deadline + timedelta(hours=1)) == 0 and len(fake.sent) == 1
    finally:
        hub.close()
