"""The commands that run the hub: ``hub db upgrade``, ``hub serve``, ``hub worker``, ``hub scheduler``."""

from __future__ import annotations

import errno
import logging
import signal
import socket
import threading
from multiprocessing.connection import Connection
from typing import Any, cast

import click

import migrations
from config import load_settings
from core.errors import ConfigError
from core.worker_process import PipeQueue, WorkerProcess, relay
from interceptor.retrieval.dense import check_embedding_model
from surfaces.cli.port import DEFAULT_PORT, Port
from surfaces.cli.database import cannot_open, masked, open_database, unreachable, uses_database
from surfaces.cli.logs import configure as configure_logs
from surfaces.http.app import create_http_app
from surfaces.services import Services, build_services


@click.group("db")
def db_group() -> None:
    """Database commands."""


@db_group.command("upgrade")
def db_upgrade() -> None:
    """Migrate the database to the newest schema."""
    settings = load_settings()
    open_database(settings.database_url)  # a database that cannot be opened is one line naming HUB_DATABASE_URL
    try:
        migrations.upgrade(settings.database_url)
    except Exception as e:  # noqa: BLE001 - only a database lost meanwhile is translated
        if unreachable(e):
            raise cannot_open(settings.database_url, e) from None
        raise
    click.echo(f"database at {migrations.head_revision()}: {masked(settings.database_url)}")


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, envvar="HUB_HOST", help="Address to listen on (HUB_HOST).")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=Port(), envvar="HUB_PORT",
              help="Port to listen on (HUB_PORT): 1 to 65535.")
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 1000),
              help="Request threads of the web server: 1 to 1000.")
@uses_database()  # before anything starts: nothing to stop, no empty database file left behind
def serve(host: str, port: int, threads: int) -> None:
    """Serve the web app with the job runner and scheduler (the embedded mode). The job runner runs in a
    worker process of its own (``HUB_JOB_PROCESS``, on by default), so acknowledgements never wait for it."""
    from surfaces.cli.web_server import web_server

    settings = load_settings()
    stop_on_sigterm()
    separate = settings.queue == "inline" and settings.job_process
    pipe = PipeQueue() if separate else None
    services = build_services(settings, jobs=pipe)
    worker_process: WorkerProcess | None = None
    socket_mode: Any = None
    try:
        # NOTE(waitress): it buffers whole bodies before the app sees them; past 4x HUB_MAX_BODY_BYTES it stops
        # reading and answers 413 itself (text), below that the app's JSON 413 answers (surfaces.http.door).
        body_cap = 4 * services.settings.edge.max_body_bytes
        try:  # bind before anything starts, so a taken port is one clear line
            listening = _listen(host, port)
        except OSError as e:
            raise click.ClickException(f"cannot listen on {host}:{port}: {e.strerror or e} ({_listen_advice(e)})") from None
        if pipe is not None:
            # Before the web server and app exist (both start threads): the worker process is then forked from a
            # process with no other thread, and starts at once.
            worker_process = WorkerProcess(run_worker_process, pipe, before_fork=services.db.dispose, close_in_child=[listening])
            worker_process.start()
        else:
            services.start_background()
        check_embedding_model(settings)  # a model that cannot load stops the boot: every decision would fail
        server = web_server(create_http_app(services), listening, threads=threads, max_request_body_size=body_cap)
        # Load the KB index before the first request needs it (the first decision would otherwise wait for it).
        threading.Thread(target=_warm_up, args=(services,), name="hub-kb-warmup", daemon=True).start()
        socket_mode = _start_socket_mode(services)
        click.echo(f"hub serving on http://{host}:{port} (connectors: {', '.join(services.connectors) or 'none'}"
                   f"{'; Slack over Socket Mode' if socket_mode is not None else ''})")
        try:
            server.run()
        except KeyboardInterrupt:
            pass
        finally:
            server.close()
    finally:
        if socket_mode is not None:
            socket_mode.close()
        if worker_process is not None:
            worker_process.stop()
        services.close()


def stop_on_sigterm() -> None:
    """Stop on SIGTERM (``docker stop``, systemd, a process manager) as on Ctrl-C: the web server closes, the
    worker process finishes its jobs, and what the process made for itself (its metrics directory) is removed.
    Python's default for SIGTERM ends the process where it stands, leaving its rows to the lease's expiry."""

    def interrupted(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)


def _warm_up(services: Services) -> None:
    """Load the KB index before the first request needs it. A configuration error (a model that cannot load)
    is one log line, not a thread's traceback: the decision that needs the index reports it again."""
    try:
        services.interceptor()
    except ConfigError as e:
        logging.getLogger("hub").error("serve.warm-up.config-error", extra={"error": str(e)})


def _listen_advice(error: OSError) -> str:
    """What to change when the server cannot listen: the host when it names no address of this machine (a
    name that does not resolve, an address another machine has), else the port (taken, or not allowed)."""
    if isinstance(error, socket.gaierror) or error.errno == errno.EADDRNOTAVAIL:
        return "--host (or HUB_HOST) must be an address of this machine: 127.0.0.1, or 0.0.0.0 for every interface"
    return "choose another port: hub serve --port N, or make run PORT=N"


def _listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (IPv4 or IPv6, as the host resolves), handed to waitress."""
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(1024)
    except OSError:
        sock.close()
        raise
    return sock


def _start_socket_mode(services: Services) -> Any:
    """Connect Slack over Socket Mode when ``SLACK_APP_TOKEN`` is set; return the receiver (or ``None``).

    Raises:
        click.ClickException: Slack refused the app-level token.
    """
    slack = services.connectors.get("slack")
    if slack is None:
        return None
    from slack_sdk.errors import SlackApiError

    from connectors.slack.socket_mode import build_receiver

    receiver = build_receiver(cast(Any, slack), services.db, services.jobs)
    if receiver is None:
        return None
    try:
        receiver.start()
    except SlackApiError as e:
        receiver.close()
        raise click.ClickException(f"Slack refused SLACK_APP_TOKEN for Socket Mode ({e.response.get('error')})") from None
    return receiver


def run_worker_process(conn: Connection) -> None:
    """The worker process of ``hub serve``: job pools, scheduler and sweeper, fed row ids by the web process
    until the pipe closes."""
    configure_logs(logging.INFO, "%(asctime)s %(levelname)s %(name)s [worker] %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    stop_on_sigterm()
    services = build_services(load_settings())  # hub serve checked the database before forking it
    services.start_background()
    threading.Thread(target=_warm_up, args=(services,), name="hub-kb-warmup", daemon=True).start()
    try:
        relay(conn, services.jobs)
    except KeyboardInterrupt:  # SIGTERM or Ctrl-C to the whole process group (systemd, a terminal): as the pipe closing
        pass
    finally:
        services.close()


@click.command()
@click.option("--concurrency", default=4, show_default=True, type=click.IntRange(1, 1000),
              help="Threads taking jobs from the broker queues: 1 to 1000.")
@click.option("--queues", default="inbox,outbox", show_default=True,
              help="the hub queues this worker takes (e.g. outbox): broker queues <HUB_BROKER_QUEUE_PREFIX>.<queue>")
@uses_database()
def worker(concurrency: int, queues: str) -> None:
    """Run a Celery worker (scaled-out mode, HUB_QUEUE=celery): processes inbox events and outbox actions.
    Run ``--queues outbox`` workers apart so that vendor writes never wait behind inbox work."""
    from core.celery_jobs import CeleryQueue, broker_queue, register_worker_task

    settings = load_settings()
    services = build_services(settings)
    if not isinstance(services.jobs, CeleryQueue):
        raise click.ClickException("hub worker needs HUB_QUEUE=celery and HUB_BROKER_URL; the embedded mode runs jobs in `hub serve`")
    register_worker_task(services.jobs.app, services.handlers)
    try:
        taken = [q.strip() for q in queues.split(",") if q.strip()]
        if not taken or any(q not in ("inbox", "outbox") for q in taken):
            # a broker queue's name (hub.inbox) is refused too: the prefix is HUB_BROKER_QUEUE_PREFIX's alone
            raise click.UsageError(f"--queues takes inbox, outbox or both, not {queues!r}")
        names = [broker_queue(services.jobs.app, q) for q in dict.fromkeys(taken)]
        if "inbox" in taken:  # it decides: a model that cannot load stops it, as it stops `hub serve`
            check_embedding_model(services.settings)
        click.echo(f"hub worker taking broker queues {', '.join(names)} (HUB_BROKER_QUEUE_PREFIX)")
        services.jobs.app.worker_main(
            ["worker", "--loglevel=INFO", "--pool=threads", f"--concurrency={concurrency}", "-Q", ",".join(names)]
        )
    finally:
        services.close()


@click.command()
@uses_database()
def scheduler() -> None:
    """Run the scheduler alone (scaled-out mode): sweepers, polling fallbacks, KB sync. Several may run;
    a lease in the database lets exactly one of them act at a time."""
    services = build_services(load_settings())
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    services.start_background()
    click.echo(f"scheduler {services.scheduler.owner} started")
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        services.close()

