"""A request far longer than anyone asks a question (a help desk takes a ticket of megabytes: a pasted log, a
forwarded thread) is read on its start and its end, :data:`interceptor.prefilter.REQUEST_CHARS` characters in
all (every stage read the whole text, and 5 MB kept a worker busy for seconds), and goes to a person: the
guards did not read its middle. The ticket is stored whole.

Zendesk and the LLM writer's API are faked at the transport with `responses`."""

from __future__ import annotations

import json
import re

import pytest
import responses
from sqlalchemy import select

from app import build_hub, create_app
from config import load_settings
from core.db import DecisionRow, InboxEvent, TicketRow
from core.models import Person, Source, Ticket, TicketRef
from core.models import Message as Said
from interceptor.engine import prefilter
from interceptor.intake import request_text
from interceptor.prefilter import REQUEST_CHARS, REQUEST_END_CHARS, read_part
from interceptor.kb.importer import import_articles, parse_markdown
from tests.conftest import settings_dict
from tests.sync_world import zendesk_signed
from tests.test_malformed_fetch import created_event, zendesk_ticket
from tests.test_slack_flow import ARTICLES
from tests.test_vendor_shapes_zendesk import serve
from tests.test_writer import completion
from tests.test_zendesk_connector import ZENDESK
from tests.test_zendesk_mapping import load

TICKET = 5181
LLM = "http://127.0.0.1:8766/v1"
LOG_LINE = "2026-03-02 04:00:01 INFO export-worker-3 GET /v2/exports/9137 200 in 31 ms\n"
OPENING, QUESTION = "Our nightly export stopped, the log is below.", "How do I reset my password?"
REQUESTER = Person("u1", "Ada")


def test_a_request_of_a_megabyte_goes_to_a_person_with_a_draft_from_its_start_and_its_end(database_url: str) -> None:
    # The question under the log is read (the draft suggests its article), but the middle is not, so the hub does
    # not answer: the writer is never asked, and agents get the draft as an internal note.
    description = f"{OPENING}\n{LOG_LINE * (1_000_000 // len(LOG_LINE))}\n{QUESTION}"
    hub = build_hub(load_settings(settings_dict(database_url, **ZENDESK, HUB_CHANNEL_POLICIES={"zendesk": {"threshold": 0.5}},
                                                HUB_LLM_URL=LLM, HUB_LLM_MODEL="tiny-model")))
    try:
        import_articles(hub.db, (parse_markdown(text, name) for name, text in ARTICLES.items()))
        show, listed = zendesk_ticket(TICKET)
        show["ticket"]["description"] = description
        listed["comments"][0].update(body=description, plain_body=description, html_body=description)
        with responses.RequestsMock(assert_all_requests_are_fired=False) as api:
            serve(api, TICKET, show, listed, load("users_show_many.json"))
            api.post(f"{LLM}/chat/completions", json=completion(
                "Click Forgot password on the sign-in page.\nSource: https://kb.example/reset-password"))
            raw, headers = zendesk_signed(created_event(TICKET), f"inv-{TICKET}")
            assert create_app(hub=hub).test_client().post("/webhooks/zendesk", data=raw, headers=headers).status_code == 200
            hub.jobs.drain()  # type: ignore[attr-defined]
            asked_writer = [c for c in api.calls if c.request.url.startswith(LLM)]
            updates = [json.loads(c.request.body)["ticket"] for c in api.calls if c.request.method == "PUT"]
        assert asked_writer == []
        [update] = updates
        note = update["comment"]
        assert note["public"] is False and "longer than the hub reads" in note["body"]
        assert "https://kb.example/reset-password" in note["body"], "the question under the log was read"
        with hub.db.session() as s:
            assert [(r.status, r.attempts) for r in s.scalars(select(InboxEvent))] == [("done", 1)]
            assert s.scalars(select(TicketRow.text)).one() == description, "the ticket is stored whole"
            [decision] = s.scalars(select(DecisionRow)).all()
            assert (decision.verdict, decision.reasons[0]) == ("escalate", "too_long")
    finally:
        hub.close()


def test_a_request_within_the_bound_is_read_whole_and_not_marked_cut() -> None:
    text = f"{OPENING} {QUESTION}"
    request = prefilter(text)
    assert (request.original, request.cut) == (text, False)
    long = prefilter(f"{QUESTION}\n{LOG_LINE * 1000}")
    assert long.cut and len(long.original) <= REQUEST_CHARS and long.original.startswith(QUESTION)


def _ticket(description: str, *later: str) -> Ticket:
    ref = TicketRef(Source.ZENDESK, str(TICKET))
    said = [Said(str(n), REQUESTER, text) for n, text in enumerate((description, *later))]
    return Ticket(ref, "Password", description, REQUESTER, messages=tuple(said))


@pytest.mark.parametrize("description,later,start,end", [
    (QUESTION, (), f"Password\n{QUESTION}", QUESTION),
    (f"{QUESTION}\n{LOG_LINE * 70_000}", ("I need to talk to a person.",), f"Password\n{QUESTION}\n", "\nI need to talk to a person."),
    (f"{LOG_LINE * 70_000}{QUESTION}", (), "Password\n2026-03-02 04:00:01 INFO", f"31 ms\n{QUESTION}"),
], ids=["short-whole", "5-mb-then-a-reply", "5-mb-question-last"])
def test_the_text_read_keeps_the_start_and_the_end_in_whole_words(description: str, later: tuple[str, ...], start: str, end: str) -> None:
    text = prefilter(request_text(_ticket(description, *later))).original
    assert len(text) <= REQUEST_CHARS and text.startswith(start) and text.endswith(end)
    assert set(text.split()) <= set(f"Password {description} {' '.join(later)}".split()), "no word cut in two"


def test_a_word_longer_than_its_share_is_cut_in_it() -> None:
    text = read_part("x" * 30_000)
    assert text == "x" * (REQUEST_CHARS - REQUEST_END_CHARS - 2) + "\n\n" + "x" * REQUEST_END_CHARS


def test_a_text_within_the_bound_is_read_whole() -> None:
    text = " ".join(["word"] * (REQUEST_CHARS // 5)) + "s"  # REQUEST_CHARS characters
    assert len(text) == REQUEST_CHARS and read_part(text) == text and len(read_part(text + " more")) < REQUEST_CHARS
