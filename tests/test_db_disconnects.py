"""PostgreSQL connections dropped under the acknowledgement (a failover, an admin's ``pg_terminate_backend``, a
proxy's idle cut): one dropped connection costs the vendor nothing, and a database that stays unreachable is a
503 with ``Retry-After`` (the vendor delivers again), never a 500.

The fault is real: a ``before_commit`` hook terminates the transaction's own server process from a second
connection, so the COMMIT meets a dead connection, as it does when a backend is killed mid-request.
"""

from __future__ import annotations

from typing import Any, Iterator

import pytest
from sqlalchemy import create_engine, event, func, select, text
from sqlalchemy.pool import NullPool
from sqlalchemy.orm import Session

from app import Hub, build_hub, create_app
from config import load_settings
from connectors.zendesk import verify
from core import inbox
from core.db import InboxEvent
from core.models import utcnow
from tests.conftest import POSTGRES_URL, _postgres_schema, settings_dict
from tests.test_inbox import make_event
from tests.test_zendesk_connector import ZENDESK
from tests.test_zendesk_mapping import FIXTURES


class DropConnections:
    """Terminates the server process of the next ``times`` transactions as they commit."""

    def __init__(self, hub: Hub, times: int) -> None:
        self.left = times
        self.admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        event.listen(hub.db.sessions, "before_commit", self)

    def __call__(self, session: Session) -> None:
        if self.left <= 0:
            return
        self.left -= 1
        pid = session.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar()
        with self.admin.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})


class Recorder:
    def __init__(self) -> None:
        self.handed: list[tuple[str, int]] = []

    def submit(self, queue: str, row_id: int) -> None:
        self.handed.append((queue, row_id))

    def shutdown(self, wait: bool = True) -> None: ...


@pytest.fixture
def pg_hub() -> Iterator[Hub]:
    for url in _postgres_schema():
        hub = build_hub(load_settings(settings_dict(url, **ZENDESK)))
        yield hub
        hub.close()


def stored(hub: Hub) -> int:
    with hub.db.session() as s:
        return int(s.scalar(select(func.count()).select_from(InboxEvent)) or 0)


def test_an_event_is_stored_once_when_its_connection_drops_at_commit(pg_hub: Hub) -> None:
    DropConnections(pg_hub, times=1)
    jobs = Recorder()
    accepted = inbox.accept(pg_hub.db, jobs, make_event("EvDropped"), b"{}")
    assert not accepted.duplicate and jobs.handed == [("inbox", accepted.row_id)]
    assert stored(pg_hub) == 1


def post_zendesk(client: Any) -> Any:
    body = (FIXTURES / "event_ticket_created.json").read_bytes()
    ts = utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")
    headers = {verify.SIGNATURE_HEADER: verify.sign(ZENDESK["ZENDESK_WEBHOOK_SECRET"], ts, body), verify.TIMESTAMP_HEADER: ts,
               "Content-Type": "application/json"}
    return client.post("/webhooks/zendesk", data=body, headers=headers)


def test_a_webhook_is_acknowledged_when_one_connection_drops(pg_hub: Hub) -> None:
    DropConnections(pg_hub, times=1)
    answer = post_zendesk(create_app(hub=pg_hub).test_client())
    assert answer.status_code == 200 and answer.get_json()["status"] == "accepted"
    assert stored(pg_hub) == 1


def test_an_unreachable_database_is_a_503_the_vendor_retries(pg_hub: Hub) -> None:
    DropConnections(pg_hub, times=100)
    answer = post_zendesk(create_app(hub=pg_hub).test_client())
    assert answer.status_code == 503 and answer.headers["Retry-After"]
    assert "database" in answer.get_json()["error"]
