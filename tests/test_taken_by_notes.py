"""An agent's internal note on a request that waited (``Ticket.taken_by_people``: ``already_noted``): the vendors'
comments as the mappings read them, and the hub's own draft read back through its connector.

A note is an agent's (not the requester's, not the hub's, not a rule's or an integration's, not a comment whose
author the vendor does not name) comment the requester is not proven to see: a Zendesk private comment, a JSM
internal comment (``jsdPublic: false``, the ``sd.public.comment`` property, a role restriction), and on Jira a
comment whose visibility nothing proves (it is an agent's word either way). A public reply outranks a note.
"""

from __future__ import annotations

import copy
from typing import Any, Iterator

import pytest
import responses

from connectors.jira import mapping as jira
from connectors.zendesk import mapping as zendesk
from core.models import Source, TicketRef, Visibility
from tests.outage_world import Jira, Zendesk, make_hub
from tests.test_jira_mapping import ME, load as load_jira
from tests.test_taken_by_people import AGENT, APP, JIRA_AGENT, stats
from tests.test_zendesk_mapping import SELF_ID, load as load_zendesk, users

REQUESTER = "6130869168922"  # an end-user in users_show_many.json, the ticket's requester
REPORTER = {"accountId": "5fc9e78d2730d800760becc4", "accountType": "atlassian", "displayName": "Reporter"}
CUSTOMER = {"accountId": "qm:customer-1", "accountType": "customer", "displayName": "A customer"}
SERVER_AGENT = {"name": "sam", "key": "JIRAUSER10100", "displayName": "Sam Agent"}  # Jira Server/DC: no accountId
SERVER_HUB = {"name": "hub", "emailAddress": "hub@example.com"}  # the hub's own, known by its email
JSM_INTERNAL = [{"key": "sd.public.comment", "value": {"internal": True}}]


def zendesk_comment(author: str | None, public: bool, channel: str) -> dict[str, Any]:
    comment = copy.deepcopy(load_zendesk("ticket_comments.json")["comments"][1])
    comment.update(id=900 + len(channel) + public, author_id=int(author) if author else None, public=public,
                   via={"channel": channel, "source": {"from": {}, "to": {}, "rel": None}})
    return comment


def zendesk_taken(*later: dict[str, Any], requester: str = REQUESTER) -> str | None:
    data = load_zendesk("ticket_show.json")["ticket"] | {"status": "open", "requester_id": int(requester)}
    first = load_zendesk("ticket_comments.json")["comments"][0] | {"author_id": int(requester)}
    return zendesk.ticket(data, [first, *later], users(), SELF_ID, "http://zd").taken_by_people()


@pytest.mark.parametrize("later, taken", [
    ([zendesk_comment(AGENT, False, "web")], "already_noted"),  # typed in the agent interface
    ([zendesk_comment(AGENT, False, "email")], "already_noted"),  # an agent's e-mailed reply, made private
    ([zendesk_comment(AGENT, False, "web"), zendesk_comment(AGENT, True, "web")], "already_replied"),
    ([zendesk_comment(AGENT, False, "rule")], None),  # a trigger's note in an agent's name
    ([zendesk_comment(AGENT, False, "api")], None),  # an integration's
    ([zendesk_comment(SELF_ID, False, "api")], None),  # the hub's own draft
    ([zendesk_comment(SELF_ID, False, "web")], None),  # the hub's, however made
    ([zendesk_comment(REQUESTER, False, "email")], None),  # an end-user's e-mail made private
    ([zendesk_comment(None, False, "web")], None),  # no author named
], ids=["agent-note", "agent-emailed-note", "note-and-reply", "trigger-note", "integration-note", "hub-draft",
        "hub-note-via-web", "end-user-private", "no-author"])
def test_zendesk_an_agents_private_comment_is_a_note(later: list[dict[str, Any]], taken: str | None) -> None:
    assert zendesk_taken(*later) == taken


def test_zendesk_a_requester_who_is_an_agent_does_not_take_their_own_request() -> None:
    assert zendesk_taken(zendesk_comment(AGENT, False, "web"), requester=AGENT) is None


def jira_comment(author: dict[str, Any] | None, **marks: Any) -> dict[str, Any]:
    comment = {"id": "10801", "body": "Checking with billing.", "created": "2026-11-29T09:00:00.000+0000", **marks}
    return comment | ({"author": author} if author is not None else {})


def jira_taken(*comments: dict[str, Any], looked_up: dict[str, Visibility] | None = None) -> str | None:
    issue = load_jira("issue_get.json")
    issue["fields"].update(reporter=REPORTER, status={"name": "In Progress", "statusCategory": {"key": "indeterminate"}},
                           comment={"comments": list(comments)})
    return jira.ticket(issue, ME, "http://jira", looked_up).taken_by_people()


@pytest.mark.parametrize("comment, looked_up, taken", [
    (jira_comment(JIRA_AGENT, jsdPublic=False), None, "already_noted"),  # a JSM internal comment (Cloud)
    (jira_comment(SERVER_AGENT, properties=JSM_INTERNAL), None, "already_noted"),  # Server/DC: the property
    (jira_comment(SERVER_AGENT, visibility={"type": "role", "value": "Developers"}), None, "already_noted"),
    (jira_comment(JIRA_AGENT, jsdPublic=None), None, "already_noted"),  # ambiguous: internal, an agent's word either way
    (jira_comment(SERVER_AGENT), Visibility.UNKNOWN, "already_noted"),  # its look-up failed
    (jira_comment(SERVER_AGENT), None, "already_noted"),  # its look-up not made
    (jira_comment(SERVER_AGENT), Visibility.PUBLIC, "already_replied"),  # looked up: public
    (jira_comment(JIRA_AGENT, jsdPublic=True), None, "already_replied"),
    (jira_comment(APP, jsdPublic=False, properties=JSM_INTERNAL), None, None),  # Automation for Jira's note
    (jira_comment(load_jira("myself.json"), jsdPublic=False, properties=JSM_INTERNAL), None, None),  # the hub's draft
    (jira_comment(SERVER_HUB, properties=JSM_INTERNAL), None, None),  # the hub's, by its email
    (jira_comment(REPORTER, jsdPublic=False), None, None),  # the requester's side
    (jira_comment(CUSTOMER, jsdPublic=False), None, None),  # a JSM customer account
    (jira_comment(None, jsdPublic=False), None, None),  # a deleted or anonymous user's: nobody named
], ids=["jsm-internal", "server-property", "role-restricted", "jsdPublic-null", "look-up-failed", "look-up-not-made",
        "looked-up-public", "public-reply", "automation-note", "hub-draft", "hub-by-email", "reporter", "customer", "no-author"])
def test_jira_an_agents_comment_not_proven_public_is_a_note(comment: dict[str, Any], looked_up: Visibility | None,
                                                            taken: str | None) -> None:
    assert jira_taken(comment, looked_up={"10801": looked_up} if looked_up else None) == taken


def test_jira_a_public_reply_outranks_a_note() -> None:
    note, reply = jira_comment(JIRA_AGENT, jsdPublic=False), jira_comment(JIRA_AGENT, jsdPublic=True) | {"id": "10802"}
    assert (jira_taken(note, reply), jira_taken(reply, note)) == ("already_replied", "already_replied")


@pytest.fixture
def api() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.mark.parametrize("name", ["zendesk", "jira"])
def test_the_hubs_own_draft_read_back_is_not_people_taking_the_request(database_url: str, api: responses.RequestsMock,
                                                                       name: str) -> None:
    """A refund request goes to agents with the hub's internal draft. Read back as the vendor keeps it (Zendesk: a
    private comment via the API by the hub's user; JSM: an internal comment by the hub's account), the draft is
    the hub's: a later look (an answer's retry, its deadline) does not take it for an agent's note."""
    fake = Zendesk(api, "I was charged twice, please refund me") if name == "zendesk" else Jira(api)
    hub, client = make_hub(database_url, name)
    try:
        assert fake.deliver(client) == "accepted"
        hub.jobs.drain()  # type: ignore[attr-defined]
        [draft] = fake.applied
        assert stats(client) == (1, 0, 1)  # decided, handed to agents with a draft
        if isinstance(fake, Zendesk):
            assert draft["public"] is False
            fake.comments.append(zendesk_comment(SELF_ID, False, "api") | {"body": draft["body"]})
            ref = TicketRef(Source.ZENDESK, fake.TICKET)
        else:
            assert {"key": "sd.public.comment", "value": {"internal": True}} in draft["properties"]
            kept = {"id": "10001", "author": load_jira("myself.json"), "jsdPublic": False, **draft}
            fake.issue["fields"]["comment"]["comments"].append(kept)
            ref = TicketRef(Source.JIRA, fake.KEY)
        ticket = hub.connectors[name].fetch(ref)
        assert [m.author.is_self for m in ticket.replies()][-1] is True
        assert ticket.taken_by_people() is None
    finally:
        hub.close()
