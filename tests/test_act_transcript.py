"""The transcript a hand-over carries (``interceptor.act.transcript``): a table of threads, no I/O."""

from __future__ import annotations

import pytest

from core.models import Message, Person, Source, Ticket, TicketRef, Visibility
from interceptor.act import transcript

JIRA_DESCRIPTION_LIMIT = 32_767  # NOTE(jira): a longer description is a 400 (JRACLOUD-59124)
ADA, BOB = Person("U1", name="Ada"), Person("U2", name="Bob")
URL = "https://acme.slack.com/archives/C1/p1"


def thread(*texts: tuple[Person, str]) -> Ticket:
    messages = tuple(Message(f"1.{i:06d}", who, text) for i, (who, text) in enumerate(texts))
    return Ticket(TicketRef(Source.SLACK, "T1:C1:1.000000"), "subject", texts[0][1], ADA, messages=messages, url=URL)


@pytest.mark.parametrize(
    "ticket",
    [
        thread((ADA, "x " * 20_000)),  # one message of 40,000 characters (Slack's limit)
        thread((ADA, "First. " * 500), *((BOB if i % 2 else ADA, f"reply {i}. " + "word " * 700) for i in range(60))),
        thread(*((ADA, "short one") for _ in range(5_000))),
    ],
    ids=["one-long-message", "long-thread", "many-short-messages"],
)
def test_a_transcript_fits_a_jira_description_and_keeps_the_request_and_the_latest(ticket: Ticket) -> None:
    text = transcript(ticket)
    assert len(text) < JIRA_DESCRIPTION_LIMIT - 5_000  # room for the subject line and markup around it
    assert text.startswith(f"Ada: {ticket.messages[0].text[:50]}") and text.endswith(f"Original conversation: {URL}")
    last = ticket.messages[-1]
    assert f"{last.author.name}: {last.text[:40]}" in text


def test_a_short_thread_is_carried_whole_and_internal_notes_never() -> None:
    ticket = thread((ADA, "How do I export?"), (BOB, "Same question"))
    note = Message("1.9", BOB, "internal remark", visibility=Visibility.INTERNAL)
    ticket = Ticket(ticket.ref, ticket.subject, ticket.text, ADA, messages=(*ticket.messages, note), url=URL)
    assert transcript(ticket) == f"Ada: How do I export?\nBob: Same question\n\nOriginal conversation: {URL}"


def test_files_shared_in_the_thread_are_links_in_the_transcript() -> None:
    shot = Message("1.000000", ADA, "", attachments=(("error.png", "https://acme.slack.com/files/U1/F01/error.png"),))
    ticket = Ticket(TicketRef(Source.SLACK, "T1:C1:1.000000"), "Slack request", "", ADA, messages=(shot,), url=URL)
    assert transcript(ticket) == f"Ada: \nAttachment: error.png https://acme.slack.com/files/U1/F01/error.png\n\nOriginal conversation: {URL}"
