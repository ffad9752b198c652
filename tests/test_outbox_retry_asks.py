"""A write that may have happened is looked up before it is tried again, also when its attempt count says 1.

Performers ask the vendor (``already_wrote``, ``created_ticket``) only from the second attempt on, and the
attempt number was the row's ``attempts`` column, which two things lower: an attempt given back for a 429,
and ``hub retry`` / the dashboard's button (attempts back to 0). So:

- a Jira note that carries its key (``once``) was posted, the label call after it got a 429, the attempt was
  given back, and the retry (attempt 1 again) posted the note a second time;
- a Zendesk answer whose update went through but whose response was lost, then failed (the look-up refused),
  re-queued by an admin, was posted again without looking.

Vendors are faked at the transport (stateful ``responses`` callbacks).
"""

from __future__ import annotations

import json
from typing import Any

import requests
import responses

from app import build_hub
from config import load_settings
from core import outbox, work
from core.db import OutboxAction
from tests.conftest import settings_dict
from tests.test_crash_recovery import JIRA, JR, ZD, ZENDESK, FakeJiraIssue, FakeZendeskTicket, zendesk_api  # noqa: F401 (a fixture)
from tests.test_jsm_escalate_once import perform_due


def enqueue_one(hub: Any, action: outbox.NewAction) -> int:
    with hub.db.session() as s:
        row_id = outbox.enqueue(s, action)
    assert row_id is not None
    return row_id


def status_of(hub: Any, row_id: int) -> str:
    with hub.db.session() as s:
        return s.get_one(OutboxAction, row_id).status


class RateLimitedLabels(FakeJiraIssue):
    """The first label call answers 429 with Retry-After (after the comment it follows was created)."""

    def __init__(self, api: responses.RequestsMock) -> None:
        self.limited = 1
        super().__init__(api)

    def label(self, request: Any) -> tuple[int, dict[str, str], str]:
        if self.limited:
            self.limited -= 1
            return 429, {"Retry-After": "1", "Content-Type": "application/json"}, json.dumps({"errorMessages": ["Rate limit"]})
        return super().label(request)


def test_a_keyed_jira_note_is_not_posted_again_after_a_429_on_its_label(database_url: str, zendesk_api: responses.RequestsMock) -> None:
    issue = RateLimitedLabels(zendesk_api)
    hub = build_hub(load_settings(settings_dict(database_url, **JIRA)))
    try:
        row_id = enqueue_one(hub, outbox.NewAction("sync-note:jira:SUP-1:1719.0001", "jira", "add_internal_note",
                                                   {"ref": "jira:SUP-1", "text": "Bob wrote in Slack: same here", "once": True},
                                                   "jira:SUP-1"))
        perform_due(hub)
        status = status_of(hub, row_id)
    finally:
        hub.close()
    assert status == "done"
    assert len(issue.comments) == 1, [c["body"] for c in issue.comments]  # one note, found by its key on the retry


class LostResponseOnce(FakeZendeskTicket):
    """Ticket 1: the first update is applied but its response never arrives (a read timeout); the next reads
    of the ticket are refused with 401 until ``auth_ok`` (a token being rotated)."""

    def __init__(self, api: responses.RequestsMock) -> None:
        self.lost, self.auth_ok = 1, False
        super().__init__(api)

    def update(self, request: Any) -> tuple[int, dict[str, str], str]:
        answer = super().update(request)
        if self.lost:
            self.lost -= 1
            raise requests.exceptions.ReadTimeout("the response was lost")
        return answer

    def show(self, request: Any) -> tuple[int, dict[str, str], str]:
        if not self.auth_ok:
            return 401, {"Content-Type": "application/json"}, json.dumps({"error": "Couldn't authenticate you"})
        return super().show(request)


def test_a_requeued_answer_asks_zendesk_before_posting_again(database_url: str, zendesk_api: responses.RequestsMock) -> None:
    ticket = LostResponseOnce(zendesk_api)
    hub = build_hub(load_settings(settings_dict(database_url, **ZENDESK)))
    try:
        row_id = enqueue_one(hub, outbox.NewAction("answer:zendesk:1", "zendesk", "post_reply",
                                                   {"ref": "zendesk:1", "text": "Use the reset link.", "kind": "answer"},
                                                   "zendesk:1"))
        perform_due(hub)  # posted (response lost), then the look-up is refused: failed
        assert status_of(hub, row_id) == "failed"
        ticket.auth_ok = True  # the admin fixed the token and re-queues the row
        assert work.requeue(hub.db, OutboxAction, [row_id]) == [row_id]
        perform_due(hub)
        status = status_of(hub, row_id)
    finally:
        hub.close()
    assert status == "done"
    assert len(ticket.comments) == 1  # the retry found the write's tag instead of answering again
