"""A broker that accepts connections and never answers (paused, partitioned away), on an AMQP and a Redis URL: a
web request's hand-off never waits for it, the sweeper's broker count gives up within one bounded wait (one per
sweep, however many queues have due rows), and the rows stay ``pending`` until a broker that answers takes their
hand-offs."""

from __future__ import annotations

import time
from typing import Iterator

import pytest
from sqlalchemy import select

from core import inbox, outbox, queues
from core.celery_jobs import CONNECT_TIMEOUT_SECONDS, SOCKET_TIMEOUT_SECONDS, CeleryQueue, make_celery
from core.db import Database, InboxEvent, OutboxAction
from tests.brokers import BROKERS, SilentBroker, delete_queues, queue_length, unique_prefix
from tests.conftest import _postgres_schema
from tests.test_celery import broker  # noqa: F401 (fixture: each broker, which must answer)
from tests.test_inbox import make_event

# One attempt's wait: the AMQP handshake's (connect timeout), the first Redis reply's (socket timeout; the TCP
# connect itself succeeds). The margin is for a loaded machine; kombu's retry (a second wait after a sleep of 2 s:
# 12 s on AMQP, 22 s on Redis) is beyond it.
ONE_WAIT = {"amqp": CONNECT_TIMEOUT_SECONDS, "redis": SOCKET_TIMEOUT_SECONDS}
MARGIN_SECONDS = 5.0


@pytest.fixture
def db() -> Iterator[Database]:
    for url in _postgres_schema():
        database = Database(url)
        yield database
        database.dispose()


def test_a_silent_broker_holds_no_request_and_the_sweep_for_one_wait(db: Database, broker: str) -> None:
    prefix = unique_prefix()
    silent = SilentBroker(broker, guard=120)  # it never drops a connection during the test: the bounds are ours
    jobs = CeleryQueue(make_celery(silent.url, prefix))
    answering = CeleryQueue(make_celery(BROKERS[broker], prefix))  # the broker back (a failover, the partition healed)
    try:
        rows = []
        for n in range(3):
            started = time.monotonic()
            rows.append(inbox.accept(db, jobs, make_event(f"EvSilent{n}"), b"{}").row_id)
            assert time.monotonic() - started < 1.0, "the acknowledgement waited for the broker"

        started = time.monotonic()
        assert jobs.waiting("inbox") is None  # cannot be asked now
        counted_in = time.monotonic() - started
        assert counted_in < ONE_WAIT[broker] + MARGIN_SECONDS, f"the count gave up after {counted_in:.1f} s"

        with db.session() as s:  # a vendor write due too: a sweep with both queues to count
            action = outbox.enqueue(s, outbox.NewAction("silent:1", "slack", "post_reply", {"text": "hi"}, "slack:T1:C1:1.0"))
        started = time.monotonic()
        assert queues.sweep(db, jobs) == 4  # unknown backlog: every due row is handed out (to the silent broker)
        swept_in = time.monotonic() - started
        assert swept_in < ONE_WAIT[broker] + MARGIN_SECONDS, f"the sweep took {swept_in:.1f} s"  # one wait, not one a queue
        assert not silent.gave_up.is_set()
        with db.session() as s:  # nothing lost: stored, waiting for a broker that answers
            assert set(s.scalars(select(InboxEvent.status).where(InboxEvent.id.in_(rows)))) == {"pending"}
            assert s.scalar(select(OutboxAction.status).where(OutboxAction.id == action)) == "pending"

        assert queues.sweep(db, answering) == 4
        answering.shutdown()  # published
        assert queue_length(BROKERS[broker], f"{prefix}.inbox") == 3
        assert queue_length(BROKERS[broker], f"{prefix}.outbox") == 1
    finally:
        jobs.shutdown(wait=False)
        answering.shutdown(wait=False)
        silent.close()
        delete_queues(BROKERS[broker], prefix)
