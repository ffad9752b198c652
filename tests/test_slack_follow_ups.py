"""The conversation going on in a Slack thread after the hub's answer: the hub answers a thread once, so a new
question or a problem met trying the answer goes to a person, with a draft for the whole conversation;
"thanks, I'll try that" does not, and a thread a person already has is left to them.

Slack is the local stub server; the triage channel is the hand-off (``HUB_ESCALATION_TARGET=slack``).
"""

from __future__ import annotations

import json
import time

import pytest

from app import Hub, create_app
from core.db import DecisionRow, OutcomeRow
from tests.slack_stub import SlackStub
from tests.test_slack_flow import CHANNEL, ROOT_TS, USER, _reply, ask, make_hub, rows, stub  # noqa: F401 - stub: a fixture

NOTICE = "I've passed this to our support team, and a person will follow up."


def thread(sqlite_url: str, stub: SlackStub, request: str, *replies: str) -> Hub:
    """Ask ``request`` in a channel with a triage hand-off, let the hub decide it, then reply ``replies`` in the
    thread as the person who asked, each after the decision (one written before it is part of the request)."""
    hub = make_hub(sqlite_url, stub, HUB_ESCALATION_TARGET="slack")
    client = create_app(hub=hub).test_client()
    ask(client, stub, request, ROOT_TS)
    hub.jobs.drain()  # type: ignore[attr-defined]
    for n, reply in enumerate(replies, 1):
        _reply(client, stub, USER, reply, f"{time.time() + n:.6f}")
        hub.jobs.drain()  # type: ignore[attr-defined]
    return hub


@pytest.mark.parametrize("text,said", [
    ("thanks, that worked! also how do I export a report to CSV?", ["solved"]),  # the answer did help: it counts
    ("Thanks! Where do I find the sign-in page?", []),  # manners, not word that it worked
    ("where do I find the sign-in page?", []),
    ("I get error 403 when I click the link in the email", []),
])
def test_a_new_question_after_the_answer_goes_to_a_person_with_a_draft(sqlite_url: str, stub: SlackStub, text: str,
                                                                        said: list[str]) -> None:
    hub = thread(sqlite_url, stub, "I forgot my password, how do I reset it?", text)

    posts = stub.calls_to("chat.postMessage")
    [triage] = [c for c in posts if c.args["channel"] == "CTRIAGE01"]
    assert text in json.dumps(triage.args["blocks"])  # the agents see the new question in the transcript
    assert [c.args["text"] for c in posts if c.args["channel"] == CHANNEL][1:] == [NOTICE]
    # it is no word that the answer failed: no "not solved" is recorded, and the draft does not claim it failed
    assert [o.kind for o in rows(hub, OutcomeRow)] == ["answer_posted", *said, "escalated"]
    request, follow_up = rows(hub, DecisionRow)
    assert (request.trigger, request.verdict) == ("request", "answer")
    assert (follow_up.trigger, follow_up.verdict) == ("follow_up", "escalate")
    assert "answered_before" in follow_up.reasons and "fallback_in_thread" not in follow_up.reasons
    hub.close()


@pytest.mark.parametrize("text", ["thanks, I'll try that later", "ok", "will try this afternoon, cheers"])
def test_a_reply_that_asks_nothing_leaves_the_answer_alone(sqlite_url: str, stub: SlackStub, text: str) -> None:
    hub = thread(sqlite_url, stub, "I forgot my password, how do I reset it?", text)
    assert [c.args["channel"] for c in stub.calls_to("chat.postMessage")] == [CHANNEL]  # the answer only
    assert [o.kind for o in rows(hub, OutcomeRow)] == ["answer_posted"]
    assert len(rows(hub, DecisionRow)) == 1
    hub.close()


def test_once_a_person_has_the_thread_further_questions_are_theirs(sqlite_url: str, stub: SlackStub) -> None:
    hub = thread(sqlite_url, stub, "I forgot my password, how do I reset it?",
                 "where do I find the sign-in page?", "and how do I export a report to CSV?")
    assert [c.args["channel"] for c in stub.calls_to("chat.postMessage")].count("CTRIAGE01") == 1
    assert [o.kind for o in rows(hub, OutcomeRow)] == ["answer_posted", "escalated"]
    assert len(rows(hub, DecisionRow)) == 2
    hub.close()


def test_a_question_on_a_request_that_went_to_a_person_is_not_handed_over_again(sqlite_url: str, stub: SlackStub) -> None:
    # a sensitive topic: to a person at once
    hub = thread(sqlite_url, stub, "I was charged twice and I want a refund", "how long does a refund take?")
    assert [c.args["channel"] for c in stub.calls_to("chat.postMessage")].count("CTRIAGE01") == 1
    assert [o.kind for o in rows(hub, OutcomeRow)] == ["escalated"]
    hub.close()
