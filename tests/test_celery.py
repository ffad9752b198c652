"""The scaled-out mode: rows handed to a real Celery worker over Redis and over RabbitMQ (every test runs on both),
processed by the same handlers, on PostgreSQL. A lost hand-off is recovered by the sweeper, as in the embedded mode."""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Iterator

import pytest
from celery.contrib.testing.worker import start_worker
from sqlalchemy import select

from app import Hub, build_hub
from config import Settings, load_settings
from core import inbox
from core.celery_jobs import CeleryQueue, broker_queue, make_celery, register_worker_task
from core.db import InboxEvent
from core.models import TicketEvent
from tests.brokers import (BROKERS, CLOSED, SilentBroker, StallingProxy, delete_queues, eventually, lose_messages,
                           queue_length, require, unique_prefix)
from tests.conftest import _postgres_schema, settings_dict
from tests.test_inbox import make_event


@pytest.fixture(params=sorted(BROKERS))
def broker(request: pytest.FixtureRequest) -> str:
    """Which broker the scaled-out hub talks to: ``amqp`` (RabbitMQ) or ``redis``; one that is down fails the test."""
    require(BROKERS[request.param])
    return str(request.param)


def scaled_settings(database_url: str, broker: str, prefix: str) -> Settings:
    """A scaled-out hub's settings on ``broker`` whose broker queues are ``<prefix>.inbox``, ``<prefix>.outbox``."""
    return load_settings(settings_dict(database_url, HUB_QUEUE="celery", HUB_BROKER_URL=BROKERS[broker],
                                       HUB_BROKER_QUEUE_PREFIX=prefix))


@pytest.fixture
def prefix(broker: str) -> Iterator[str]:
    """The test's ``HUB_BROKER_QUEUE_PREFIX``, its own (:func:`unique_prefix`); its broker queues go afterwards."""
    name = unique_prefix()
    yield name
    delete_queues(BROKERS[broker], name)


@pytest.fixture
def scaled_hub(broker: str, prefix: str) -> Iterator[Hub]:
    for url in _postgres_schema():
        hub = build_hub(scaled_settings(url, broker, prefix))
        yield hub
        hub.close()


@pytest.fixture
def other_hub(broker: str, sqlite_url: str) -> Iterator[Hub]:
    """Another deployment on the same broker (staging beside production): a database and a prefix of its own."""
    name = unique_prefix()
    hub = build_hub(scaled_settings(sqlite_url, broker, name))
    yield hub
    hub.close()
    delete_queues(BROKERS[broker], name)


def test_a_celery_worker_processes_what_the_web_side_stored(scaled_hub: Hub) -> None:
    assert isinstance(scaled_hub.jobs, CeleryQueue)
    seen: list[str] = []
    done = threading.Event()

    def handle(event: TicketEvent, row_id: int, **_: bool) -> None:
        seen.append(event.delivery_id)
        done.set()

    handlers = {"inbox": lambda row_id: inbox.process(scaled_hub.db, row_id, handle, 5)}
    register_worker_task(scaled_hub.jobs.app, handlers)
    app = scaled_hub.jobs.app
    # NOTE(celery): an idle in-thread worker notices the stop request at its event loop's next timer, up to 10 s
    # later on RabbitMQ (1 s on Redis, which polls); a `hub worker` is woken by its signal instead.
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30, queues=[broker_queue(app, "inbox")]):
        accepted = inbox.accept(scaled_hub.db, scaled_hub.jobs, make_event("EvCelery"), b"{}")
        assert done.wait(timeout=30), "the worker did not process the event"
    assert seen == ["EvCelery"]
    with scaled_hub.db.session() as s:
        assert s.scalar(select(InboxEvent.status).where(InboxEvent.id == accepted.row_id)) == "done"


def test_a_hand_off_lands_in_the_inbox_queue_that_the_prefix_names(scaled_hub: Hub, broker: str, prefix: str) -> None:
    inbox.accept(scaled_hub.db, scaled_hub.jobs, make_event("EvPrefixed"), b"{}")
    scaled_hub.jobs.shutdown()  # published
    assert queue_length(BROKERS[broker], f"{prefix}.inbox") == 1
    assert queue_length(BROKERS[broker], f"{prefix}.outbox") == 0


def test_two_deployments_on_one_broker_count_only_their_own_hand_offs(scaled_hub: Hub, other_hub: Hub) -> None:
    for n in range(2):
        inbox.accept(scaled_hub.db, scaled_hub.jobs, make_event(f"EvOurs{n}"), b"{}")
    for n in range(3):
        inbox.accept(other_hub.db, other_hub.jobs, make_event(f"EvTheirs{n}"), b"{}")
    scaled_hub.jobs.shutdown()
    other_hub.jobs.shutdown()
    assert isinstance(scaled_hub.jobs, CeleryQueue) and isinstance(other_hub.jobs, CeleryQueue)
    assert scaled_hub.jobs.waiting("inbox") == 2 and other_hub.jobs.waiting("inbox") == 3


def test_a_deployments_worker_takes_only_its_own_hand_offs(scaled_hub: Hub, other_hub: Hub) -> None:
    # Production's and staging's workers on one broker took each other's hand-offs and processed them against
    # their own database: another deployment's row id named an unrelated row there, or none.
    assert isinstance(scaled_hub.jobs, CeleryQueue) and isinstance(other_hub.jobs, CeleryQueue)
    inbox.accept(other_hub.db, other_hub.jobs, make_event("EvTheirs"), b"{}")
    other_hub.jobs.shutdown()  # published, before ours
    taken: list[int] = []
    done = threading.Event()

    def handle(event: TicketEvent, row_id: int, **_: bool) -> None:
        done.set()

    def process(row_id: int) -> None:
        taken.append(row_id)
        inbox.process(scaled_hub.db, row_id, handle, 5)

    app = scaled_hub.jobs.app
    register_worker_task(app, {"inbox": process})
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30, queues=[broker_queue(app, "inbox")]):
        ours = inbox.accept(scaled_hub.db, scaled_hub.jobs, make_event("EvOurs"), b"{}")
        assert done.wait(timeout=30), "the worker did not process our event"
    assert taken == [ours.row_id]
    assert other_hub.jobs.waiting("inbox") == 1  # theirs still waits for their workers


def test_a_lost_hand_off_stays_pending_for_the_sweeper(scaled_hub: Hub, broker: str) -> None:
    broken = CeleryQueue(make_celery(CLOSED[broker], scaled_hub.settings.broker_queue_prefix))
    accepted = inbox.accept(scaled_hub.db, broken, make_event("EvLost"), b"{}")
    with scaled_hub.db.session() as s:
        assert s.scalar(select(InboxEvent.status).where(InboxEvent.id == accepted.row_id)) == "pending"
    handed: list[tuple[str, int]] = []

    class Recorder:
        def submit(self, queue: str, row_id: int) -> None:
            handed.append((queue, row_id))

        def shutdown(self, wait: bool = True) -> None: ...

    assert replace(scaled_hub, jobs=Recorder()).sweep() == 1 and handed == [("inbox", accepted.row_id)]


def broker_length(hub: Hub, queue: str) -> int:
    """The messages waiting in ``queue``'s broker queue, read beside the hub."""
    return queue_length(hub.jobs.app.conf.broker_url, broker_queue(hub.jobs.app, queue))  # type: ignore[attr-defined]


def test_sweeps_do_not_pile_copies_up_while_no_worker_runs(scaled_hub: Hub) -> None:
    # Workers down (or busy) for an hour, a sweep every few seconds: each sweep used to hand every due row out
    # again, so the broker held rows x sweeps copies that the workers had to chew through before new work.
    for n in range(3):
        inbox.accept(scaled_hub.db, scaled_hub.jobs, make_event(f"EvPile{n}"), b"{}")
    for _ in range(4):
        scaled_hub.sweep()
    scaled_hub.jobs.shutdown()  # the publisher thread has handed everything submitted to the broker
    assert broker_length(scaled_hub, "inbox") == 3


def test_a_sweep_hands_out_again_what_the_broker_lost(scaled_hub: Hub, broker: str) -> None:
    for n in range(3):
        inbox.accept(scaled_hub.db, scaled_hub.jobs, make_event(f"EvGone{n}"), b"{}")
    scaled_hub.jobs.shutdown()  # published
    lose_messages(BROKERS[broker], broker_queue(scaled_hub.jobs.app, "inbox"))  # type: ignore[attr-defined]
    assert scaled_hub.sweep() == 3
    scaled_hub.jobs.shutdown()
    assert broker_length(scaled_hub, "inbox") == 3


def test_an_acknowledgement_never_waits_for_a_broker_that_does_not_answer(scaled_hub: Hub, broker: str) -> None:
    silent = SilentBroker(broker)
    jobs = CeleryQueue(make_celery(silent.url, scaled_hub.settings.broker_queue_prefix))
    try:
        accepted = inbox.accept(scaled_hub.db, jobs, make_event("EvSilent"), b"{}")
        assert not silent.gave_up.is_set(), "the acknowledgement waited until the broker's connection dropped"
    finally:
        jobs.shutdown(wait=False)
    with scaled_hub.db.session() as s:  # stored: the sweeper hands it out once the broker answers again
        assert s.scalar(select(InboxEvent.status).where(InboxEvent.id == accepted.row_id)) == "pending"


def test_the_broker_count_is_what_waits_in_the_broker(scaled_hub: Hub) -> None:
    jobs = scaled_hub.jobs
    assert isinstance(jobs, CeleryQueue)
    assert jobs.waiting("inbox") == 0  # nothing handed out yet: the broker queue does not exist
    for n in range(3):
        inbox.accept(scaled_hub.db, jobs, make_event(f"EvCount{n}"), b"{}")
    jobs.shutdown()  # published
    assert jobs.waiting("inbox") == 3 == broker_length(scaled_hub, "inbox")
    assert jobs.waiting("outbox") == 0
    assert scaled_hub.sweep() == 0  # three wait for three due rows: no copies


def test_a_sweep_hands_out_again_what_a_deleted_broker_queue_held(scaled_hub: Hub, broker: str) -> None:
    for n in range(2):
        inbox.accept(scaled_hub.db, scaled_hub.jobs, make_event(f"EvDeleted{n}"), b"{}")
    scaled_hub.jobs.shutdown()  # published
    name = broker_queue(scaled_hub.jobs.app, "inbox")  # type: ignore[attr-defined]
    delete_queues(BROKERS[broker], name.removesuffix(".inbox"))  # an operator's delete, a non-durable queue's restart
    assert scaled_hub.sweep() == 2
    scaled_hub.jobs.shutdown()
    assert broker_length(scaled_hub, "inbox") == 2


def test_a_hand_off_on_a_connection_the_broker_stopped_answering_reaches_the_broker(scaled_hub: Hub, broker: str) -> None:
    # On RabbitMQ, a publish on a connection the broker no longer answered went into the socket's buffer and was
    # lost without an error; the row waited for the sweeper, and the publisher went on losing every hand-off.
    proxy = StallingProxy(BROKERS[broker])
    jobs = CeleryQueue(make_celery(proxy.url, scaled_hub.settings.broker_queue_prefix))
    try:
        inbox.accept(scaled_hub.db, jobs, make_event("EvBefore"), b"{}")
        assert eventually(lambda: broker_length(scaled_hub, "inbox") == 1, seconds=10)
        proxy.stall()  # the publisher's connection: open, silent
        for n in range(2):
            inbox.accept(scaled_hub.db, jobs, make_event(f"EvStalled{n}"), b"{}")
        # the bounded wait (10 s) gives the connection up; the retry publishes on a new one
        assert eventually(lambda: broker_length(scaled_hub, "inbox") == 3, seconds=30)
    finally:
        jobs.shutdown(wait=False)
        proxy.close()



def test_a_deployments_workers_answer_only_its_own_remote_control(scaled_hub: Hub, other_hub: Hub) -> None:
    # The remote-control (pidbox) exchange was Celery's one "celery" for every deployment on a broker: staging's
    # `celery inspect` or `control shutdown` reached production's workers.
    assert isinstance(scaled_hub.jobs, CeleryQueue) and isinstance(other_hub.jobs, CeleryQueue)
    app = scaled_hub.jobs.app
    register_worker_task(app, {"inbox": lambda row_id: None})
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30, queues=[broker_queue(app, "inbox")]):
        ours = None
        for _ in range(10):  # the worker's mailbox is up a moment after it starts
            ours = app.control.inspect(timeout=1.0).ping()
            if ours:
                break
        theirs = other_hub.jobs.app.control.inspect(timeout=1.0).ping()
    assert ours and list(ours.values()) == [{"ok": "pong"}]
    assert theirs is None
