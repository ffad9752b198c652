"""The scaled-out job queue: stored rows are handed to Celery workers (Redis or RabbitMQ broker).

Web processes only ``submit``; ``hub worker`` processes run the same handlers as the embedded mode (claim
the row, process it, finish it), so both modes share one code path. Each hub queue is a broker queue of its
own (``hub.inbox``, ``hub.outbox``): ``hub worker --queues outbox`` runs vendor writes on workers that inbox
work can never hold up. ``hub`` is the deployment's ``HUB_BROKER_QUEUE_PREFIX``: two deployments on one broker,
each with a prefix of its own, never take each other's hand-offs. A failed hand-off leaves the row
``pending`` for the sweeper, exactly as in the embedded mode. Needs the ``scale`` extra.

``submit`` never waits for the broker: a thread of the process publishes the hand-offs, so a webhook is
acknowledged as soon as its row is stored, even while the broker is down, paused or partitioned away (a
synchronous publish to a broker that stopped answering waited for as long as the TCP connection lasted).
A hand-off already waiting for that thread is not buffered twice: while the broker does not answer, the
publisher gets through one hand-off per broker wait and every sweep hands every due row out again, so the
buffer filled with copies of the same rows and new requests' hand-offs were dropped from it.

On RabbitMQ a hand-off the broker cannot route (its queue was deleted) comes back, and is published once more on a
connection that declares the queue anew (:meth:`CeleryQueue._send`), instead of waiting for the next sweep.
"""

from __future__ import annotations

import logging
import queue as queues
import threading
from typing import Mapping

from amqp.exceptions import ChannelError
from celery import Celery

from core.jobs import JobFunc
from core.telemetry import count

log = logging.getLogger(__name__)

TASK = "hub.process"
BUFFER = 10_000  # hand-offs waiting for the publisher; past it they are dropped (the rows stay pending)
SOCKET_TIMEOUT_SECONDS = 10.0  # a broker that stops answering fails a publish or a count instead of holding it
CONNECT_TIMEOUT_SECONDS = 5.0  # a TCP connect (and, on AMQP, its handshake) that takes longer fails
NO_ROUTE = 312  # AMQP's reply code of a mandatory message that no queue took (basic.return)


def make_celery(broker_url: str, queue_prefix: str) -> Celery:
    """Return a Celery app for ``broker_url`` (acks late: a worker that dies mid-job leaves the message) whose
    broker queues are ``<queue_prefix>.inbox`` and ``<queue_prefix>.outbox`` (:func:`broker_queue`).

    ``queue_prefix`` is the deployment's ``HUB_BROKER_QUEUE_PREFIX``, validated by the settings. It has no
    default: two deployments on one broker (a RabbitMQ vhost, a Redis database) with the same prefix take each
    other's hand-offs and process them against the wrong database. It names the workers' remote-control and
    event exchanges too, so that ``celery inspect`` (or ``control``) reaches one deployment's workers only, and
    workers do not gossip and mingle with another deployment's.

    The worker keeps the hub's logging (``worker_hijack_root_logger`` off): Celery would otherwise replace the
    root logger's handlers with its own, which give a worker's lines another format than every other hub
    process's and, in a process that starts a worker in a thread (the tests), outlive it and print later
    warnings to the terminal.

    NOTE(celery): ``worker_enable_prefetch_count_reduction`` is off. After a reconnect with tasks running (a broker
    restart, or RabbitMQ cancelling the consumer of a deleted queue) Celery lowers the prefetch count, then raises it
    as each of those tasks is acknowledged, by a ``basic.qos`` call made in the thread that ran the task
    (``Consumer._restore_prefetch_count_after_connection_restart``, chained to the ack's promise in
    ``create_task_handler``, celery/worker/consumer/consumer.py, Celery 5.7). With ``--pool=threads`` that thread is
    not the event loop's, and py-amqp's connection is not thread-safe: two threads read its socket, one of them took
    the other's ``qos-ok`` or half a frame, and the worker hung in ``basic.qos`` for the socket's read timeout or until
    the broker dropped the connection (minutes), or failed on a garbled frame; in 4 of 6 runs of the test a worker took
    no hand-off for 10 s to over 60 s after its busy queue was deleted. Without the reduction, a reconnected worker
    may hold up to ``--concurrency`` further hand-offs while its running tasks finish.
    https://docs.celeryq.dev/en/stable/userguide/configuration.html#worker-enable-prefetch-count-reduction"""
    app = Celery("hub", broker=broker_url)
    app.conf.update(
        worker_hijack_root_logger=False,
        task_acks_late=True,
        task_ignore_result=True,
        worker_prefetch_multiplier=1,
        worker_enable_prefetch_count_reduction=False,  # its qos calls from pool threads hung reconnected workers
        task_default_queue=queue_prefix,
        control_exchange=queue_prefix,  # the workers' remote-control exchange (<prefix>.pidbox; Celery's: celery)
        event_exchange=f"{queue_prefix}.events",  # their events and gossip (Celery's: celeryev)
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=CONNECT_TIMEOUT_SECONDS,  # AMQP: the TCP connect and the AMQP handshake
        task_publish_retry_policy={"max_retries": 2, "interval_start": 0.1, "interval_step": 0.2},
        broker_transport_options=transport_options(broker_url),
    )
    return app


def transport_options(broker_url: str) -> dict[str, object]:
    """kombu's transport options for ``broker_url``: every wait on the broker bounded, a publish a success only
    once the broker has the message.

    NOTE(kombu): Redis sockets wait forever by default; a broker that disappears without closing the connection
    (paused, failover, partition) would hold a publish forever. The AMQP transport hands its options to
    ``amqp.Connection`` as keywords, which ignores the Redis keys: there ``read_timeout``/``write_timeout`` bound
    the socket's waits, and ``confirm_publish`` makes a publish wait for the broker's ack. Without it a publish
    on a connection the broker stopped answering went into the socket's buffer and was lost without an error.
    https://docs.celeryq.dev/projects/kombu/en/stable/reference/kombu.transport.pyamqp.html
    """
    if is_amqp(broker_url):
        return {"confirm_publish": True, "read_timeout": SOCKET_TIMEOUT_SECONDS, "write_timeout": SOCKET_TIMEOUT_SECONDS}
    return {"socket_timeout": SOCKET_TIMEOUT_SECONDS, "socket_connect_timeout": CONNECT_TIMEOUT_SECONDS}


def is_amqp(broker_url: str) -> bool:
    """Whether ``broker_url`` names a RabbitMQ (AMQP) broker rather than Redis."""
    return broker_url.split("://", 1)[0] in ("amqp", "amqps", "pyamqp")


def broker_queue(app: Celery, queue: str) -> str:
    """The broker queue of hub queue ``queue`` (``inbox``, ``outbox``): ``<task_default_queue>.<queue>``."""
    return f"{app.conf.task_default_queue}.{queue}"


class CeleryQueue:
    """Hands committed rows to Celery workers, each hub queue on its own broker queue, from a publisher thread.

    Args:
        app: the Celery app (:func:`make_celery`).
        buffer: how many distinct hand-offs may wait for the publisher before further ones are dropped (their
            rows stay ``pending``: the sweeper hands them out again).
    """

    def __init__(self, app: Celery, buffer: int = BUFFER) -> None:
        self.app = app
        self._handoffs: queues.Queue[tuple[str, int] | None] = queues.Queue(maxsize=buffer)
        self._unsent: dict[str, int] = {}  # by hub queue: submitted, not yet in the broker (see :meth:`waiting`)
        self._held: set[tuple[str, int]] = set()  # the hand-offs in the buffer or being published (one each)
        self._lock = threading.Lock()
        self._publisher: threading.Thread | None = None
        self._mandatory = is_amqp(str(app.conf.broker_url))  # see :meth:`_send`

    def submit(self, queue: str, row_id: int) -> None:
        """Queue the hand-off of row ``row_id`` for the publisher thread; never waits for the broker.

        A hand-off of the same row that is still waiting, or being published, is not queued again (counted as
        ``hub_job_submits_total{outcome="duplicate"}``): one publish of it is enough, and if that one fails the
        row stays ``pending`` and the next sweep submits it again. A full buffer drops the hand-off
        (``outcome="dropped"``, logged ``jobs.celery.buffer-full``); its row stays ``pending`` too."""
        with self._lock:
            if self._publisher is None or not self._publisher.is_alive():
                # Started on first use, in the process that submits (a gunicorn worker, after the fork).
                self._publisher = threading.Thread(target=self._publish, name="hub-celery-publisher", daemon=True)
                self._publisher.start()
            if (queue, row_id) in self._held:
                count("job_submits", queue=queue, outcome="duplicate")
                log.debug("jobs.celery.submit-duplicate", extra={"queue": queue, "row_id": row_id})
                return
            try:
                self._handoffs.put_nowait((queue, row_id))
            except queues.Full:
                count("job_submits", queue=queue, outcome="dropped")
                log.warning("jobs.celery.buffer-full", extra={"queue": queue, "row_id": row_id})
                return
            self._held.add((queue, row_id))
            self._unsent[queue] = self._unsent.get(queue, 0) + 1

    def waiting_handoffs(self) -> int:
        """How many hand-offs wait in this process's buffer for the publisher thread (not the one it is
        publishing): at most one per row, and at most ``buffer``."""
        return self._handoffs.qsize()

    def _publish(self) -> None:
        while (item := self._handoffs.get()) is not None:
            queue, row_id = item
            try:
                self._send(queue, row_id)
            except Exception:  # noqa: BLE001 - the row stays pending; the sweeper hands it out again
                count("job_submits", queue=queue, outcome="failed")
                log.warning("jobs.celery.submit-failed", extra={"queue": queue, "row_id": row_id}, exc_info=True)
            finally:
                with self._lock:  # published or failed: a later submit of the row is queued again
                    self._held.discard((queue, row_id))
                    self._unsent[queue] -= 1

    def _send(self, queue: str, row_id: int) -> None:
        """Publish the hand-off of ``row_id``; on RabbitMQ, once more if its queue is gone (see the NOTE).

        Raises:
            Exception: whatever the publish raised (the broker is down, did not confirm, returned the message twice).
        """
        name = broker_queue(self.app, queue)
        if not self._mandatory:  # a Redis publish pushes onto a list, which creates it: nothing to come back
            self.app.send_task(TASK, args=(queue, row_id), queue=name)
            return
        # NOTE(kombu): kombu declares a queue once per connection (``maybe_declare``, kombu/common.py): after the
        # queue was deleted (``rabbitmqctl delete_queue``), hand-offs went to an exchange bound to nothing and RabbitMQ
        # dropped them, and confirmed them, until the next sweep. Published ``mandatory``, an unroutable one comes back
        # (basic.return, 312 NO_ROUTE) before its confirm. With no ``basic_return`` handler py-amqp raises it as a
        # ChannelError (``Channel._on_basic_return``), which kombu's retries do not count as recoverable, and kombu
        # closes the pooled connection on the error (``Producer.__exit__``), its confirm unread (py-amqp logs it as
        # ignored during the channel's close), so no later publish takes that confirm for its own. Nothing was queued:
        # published again, once, on a new connection, whose empty cache declares the queue, it is there once.
        # https://www.rabbitmq.com/docs/confirms#when-publishes-are-confirmed
        try:
            self.app.send_task(TASK, args=(queue, row_id), queue=name, mandatory=True)
        except ChannelError as e:
            if e.reply_code != NO_ROUTE:
                raise
            count("job_submits", queue=queue, outcome="returned")
            log.warning("jobs.celery.submit-returned", extra={"queue": queue, "row_id": row_id})
            with self.app.connection_for_write() as conn:
                self.app.send_task(TASK, args=(queue, row_id), queue=name, mandatory=True, connection=conn)

    def waiting(self, queue: str) -> int | None:
        """How many hand-offs of hub queue ``queue`` wait: in the broker (a Redis list's length, a RabbitMQ
        queue's ready count; not those a worker holds), plus those this process has not published yet (a
        hand-off is counted until the broker has it). ``None`` when the broker cannot be asked now: one attempt,
        so a broker that accepts connections and never answers costs one wait, :data:`CONNECT_TIMEOUT_SECONDS` on
        AMQP (the handshake), :data:`SOCKET_TIMEOUT_SECONDS` on Redis (the first reply). A broker queue that does
        not exist is declared, so that hand-offs published after the count are routed to it."""
        with self._lock:
            unsent = self._unsent.get(queue, 0)
        name = broker_queue(self.app, queue)
        try:
            with self.app.connection_for_read() as conn:
                # NOTE(kombu): max_retries counts the retries after the first attempt, each after a sleep of 2 s or
                # more: max_retries=1 made a silent broker cost two waits and the sleep (12 s on AMQP, 22 s on Redis)
                # per count, and a sweep counts each queue. The sweeper asks again at its next round.
                # https://docs.celeryq.dev/projects/kombu/en/stable/reference/kombu.html#kombu.Connection.ensure_connection
                conn.ensure_connection(max_retries=0)
                try:
                    declared = conn.default_channel.queue_declare(name, passive=True)
                except conn.channel_errors:
                    # NOTE(kombu): an empty Redis queue does not exist, and a passive declare says so. A RabbitMQ
                    # queue that does not exist was deleted (by an operator, or a restart lost it): kombu declares
                    # a queue once per connection, so publishes went on to an exchange bound to nothing and were
                    # dropped without an error (they now come back and are published again: :meth:`_send`).
                    # Declared here too, the queue is there for the sweep's hand-outs.
                    with conn.channel() as channel:
                        self.app.amqp.queues[name].bind(channel).declare()
                    return unsent
                return unsent + int(declared.message_count)
        except Exception:  # noqa: BLE001 - unknown: the sweeper hands the rows out, as without a broker count
            log.warning("jobs.celery.backlog-unknown", extra={"queue": queue}, exc_info=True)
            return None

    def shutdown(self, wait: bool = True) -> None:
        """Stop the publisher; with ``wait``, give it a few seconds to publish what was submitted (what it
        cannot is left to the sweeper: those rows are pending)."""
        with self._lock:
            publisher = self._publisher
        if publisher is None:
            return
        try:
            self._handoffs.put_nowait(None)
        except queues.Full:
            return  # a daemon thread: it ends with the process
        if wait:
            publisher.join(timeout=5.0)


def register_worker_task(app: Celery, handlers: Mapping[str, JobFunc]) -> None:
    """Register the task a worker runs for every submitted row: the handler of its queue (on ``app`` only)."""

    # NOTE(celery): tasks are shared by default: every Celery app finalized later in the process is given this
    # one, bound to these handlers, and keeps it over its own (a second hub in one process ran the first's).
    @app.task(name=TASK, ignore_result=True, shared=False)
    def process(queue: str, row_id: int) -> None:
        handler = handlers.get(queue)
        if handler is None:
            log.error("jobs.unknown-queue", extra={"queue": queue, "row_id": row_id})
            return
        handler(row_id)
