"""The inbox stores each event as JSON (core.codec) and decodes it when the event is processed, maybe after a
restart: what a worker reads back is the event that was received, every field of its message included."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from core.codec import event_from_dict, event_to_dict
from core.models import EventKind, Message, Person, Source, TicketEvent, TicketRef, Visibility


def test_an_event_read_back_from_its_stored_json_is_the_event_received() -> None:
    author = Person("u1", "Automation for Jira", None, is_agent=True)
    message = Message("10801", author, "We got your request", Visibility.PUBLIC,
                      datetime(2026, 11, 29, 9, 0, tzinfo=timezone.utc), (("log.txt", "https://x/log.txt"),), automated=True)
    event = TicketEvent(Source.JIRA, "wh-1", EventKind.COMMENTED, TicketRef(Source.JIRA, "KAN-3"), message=message,
                        received_at=datetime(2026, 11, 29, 9, 0, 1, tzinfo=timezone.utc), data={"reply": True})
    assert event_from_dict(json.loads(json.dumps(event_to_dict(event)))) == event


def test_an_event_stored_before_messages_were_marked_automated_reads_as_a_persons() -> None:
    stored = event_to_dict(TicketEvent(Source.ZENDESK, "d-1", EventKind.COMMENTED, TicketRef(Source.ZENDESK, "5"),
                                       message=Message("1", Person("p"), "hi")))
    del stored["message"]["automated"]
    decoded = event_from_dict(stored).message
    assert decoded is not None and decoded.automated is False
