"""The work queues for people: /healthz degraded or 503, /metrics gauges, re-queueing from the API and
`hub retry`. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Iterator

import pytest
from sqlalchemy import update

from app import build_hub, create_app
from config import load_settings
from core import inbox, outbox
from core.db import InboxEvent, OutboxAction
from core.models import utcnow
from tests.conftest import settings_dict
from tests.test_cli import run_hub
from tests.test_inbox import RecordingQueue, make_event

TOKEN = "admin-token-for-tests-1234"


@pytest.fixture
def served(database_url: str) -> Iterator[tuple[Any, Any]]:
    hub = build_hub(load_settings(settings_dict(database_url, HUB_ADMIN_TOKEN=TOKEN)))
    yield hub, create_app(hub=hub).test_client()
    hub.close()


def answer_row(hub: Any, ref: str = "slack:T1:C1:1.0", **values: Any) -> int:
    with hub.db.session() as s:
        row_id = outbox.enqueue(s, outbox.NewAction(f"answer:{ref}", "slack", "post_reply", {"ref": ref, "text": "hi"}, ref))
        if values:
            s.execute(update(OutboxAction).where(OutboxAction.id == row_id).values(**values))
    assert row_id is not None
    return row_id


def test_healthy_queues_are_ok(served: tuple[Any, Any]) -> None:
    _, client = served
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok" and body["work"]["reasons"] == []
    assert body["work"]["queues"]["outbox"] == {"pending": 0, "running": 0, "retrying": 0, "failed": 0, "stuck": 0, "oldest_due_seconds": None}


def test_failing_vendor_writes_make_healthz_degraded_and_503(served: tuple[Any, Any]) -> None:
    hub, client = served
    answer_row(hub, status="failed", last_error="Fatal: slack chat.postMessage: not_in_channel", finished_at=utcnow())
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "degraded" and body["work"]["queues"]["outbox"]["failed"] == 1
    assert "vendor writes failing: 1 failed, 0 retrying" in body["work"]["reasons"]


def test_a_retrying_inbox_row_is_degraded_but_served(served: tuple[Any, Any]) -> None:
    hub, client = served
    row_id = inbox.accept(hub.db, RecordingQueue(), make_event(), b"{}").row_id
    with hub.db.session() as s:
        s.execute(update(InboxEvent).where(InboxEvent.id == row_id).values(
            last_error="Retriable: slack conversations.replies: HTTP 503", next_attempt_at=utcnow() + timedelta(seconds=30)))
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_json()["status"] == "degraded"


def test_a_stale_backlog_is_503(served: tuple[Any, Any]) -> None:
    hub, client = served
    row_id = inbox.accept(hub.db, RecordingQueue(), make_event(), b"{}").row_id
    with hub.db.session() as s:  # due for ten minutes and nobody took it (no worker is running)
        s.execute(update(InboxEvent).where(InboxEvent.id == row_id).values(next_attempt_at=utcnow() - timedelta(minutes=10)))
    response = client.get("/healthz")
    assert response.status_code == 503
    assert any(r.startswith("inbox backlog stale: oldest due row waited 6") for r in response.get_json()["work"]["reasons"])


def test_metrics_export_the_queues(served: tuple[Any, Any]) -> None:
    hub, client = served
    answer_row(hub, status="failed", last_error="x", finished_at=utcnow())
    text = client.get("/metrics").get_data(as_text=True)
    assert 'hub_queue_rows{queue="outbox",state="failed"} 1.0' in text
    assert 'hub_queue_rows{queue="inbox",state="pending"} 0.0' in text
    assert 'hub_queue_oldest_due_seconds{queue="outbox"} 0.0' in text


def test_the_dashboard_action_requeues_failed_rows(served: tuple[Any, Any]) -> None:
    hub, client = served
    failed = answer_row(hub, status="failed", attempts=7, last_error="Retriable: gave up", finished_at=utcnow())
    done = answer_row(hub, "slack:T1:C1:2.0", status="done")
    anonymous = client.post("/api/v1/queues/retry", json={"queue": "outbox"})
    assert anonymous.status_code == 401 and anonymous.headers["WWW-Authenticate"].startswith("Bearer")  # admin only
    auth = {"Authorization": f"Bearer {TOKEN}"}
    listed = client.get("/api/v1/queues", headers=auth).get_json()
    assert [r["id"] for r in listed["failed"]["outbox"]] == [failed] and listed["status"] == "failing"
    assert client.post("/api/v1/queues/retry", data="queue=outbox", headers=auth).status_code == 415  # JSON only
    for body in ({"queue": "nope"}, {"ids": [failed]}, {"queue": []}, {"queue": "outbox", "ids": [2**31]},
                 {"queue": "outbox", "ids": [0]}, {"queue": "outbox", "force": True}):
        refused = client.post("/api/v1/queues/retry", json=body, headers=auth)
        assert refused.status_code == 400 and refused.get_json()["error"], body
    response = client.post("/api/v1/queues/retry", json={"queue": "outbox", "ids": [failed, done]}, headers=auth)
    assert response.status_code == 200 and response.get_json()["requeued"] == {"inbox": [], "outbox": [failed]}
    hub.jobs.drain()
    with hub.db.session() as s:
        row = s.get_one(OutboxAction, failed)
        assert row.requeued_at is not None and row.status in ("pending", "running")  # handed out again (no performer here)
        assert s.get_one(OutboxAction, done).status == "done"


def test_hub_retry_requeues_failed_rows(sqlite_url: str, tmp_path: Any) -> None:
    hub = build_hub(load_settings(settings_dict(sqlite_url)))
    failed = answer_row(hub, status="failed", attempts=9, last_error="Retriable: gave up", finished_at=utcnow())
    hub.close()
    result = run_hub("retry", "--queue", "outbox", env={"HUB_DATABASE_URL": sqlite_url}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"outbox: re-queued 1 failed row ({failed})" in result.stdout
    hub = build_hub(load_settings(settings_dict(sqlite_url)))
    with hub.db.session() as s:
        row = s.get_one(OutboxAction, failed)
        assert (row.status, row.attempts, row.finished_at) == ("pending", 0, None) and row.requeued_at is not None
    hub.close()
    refused = run_hub("retry", "--id", "3", env={"HUB_DATABASE_URL": sqlite_url}, cwd=tmp_path)
    assert refused.returncode != 0 and "--id needs --queue" in refused.stderr


def test_hub_retry_refuses_ids_that_are_not_failed_rows(sqlite_url: str, tmp_path: Any) -> None:
    hub = build_hub(load_settings(settings_dict(sqlite_url)))
    failed = answer_row(hub, status="failed", attempts=9, last_error="Retriable: gave up", finished_at=utcnow())
    done = answer_row(hub, "slack:T1:C1:2.0", status="done")
    hub.close()
    env = {"HUB_DATABASE_URL": sqlite_url}
    not_failed = run_hub("retry", "--queue", "outbox", "--id", str(failed), "--id", str(done), env=env, cwd=tmp_path)
    assert not_failed.returncode == 2, not_failed.stderr
    assert (f"Invalid value for '--id': {done}: not a failed outbox row (failed outbox rows: {failed}); "
            "nothing was re-queued") in not_failed.stderr
    for huge in ("2147483648", "99999999999999999999", "0"):  # never a query past an INTEGER key: a usage error
        out_of_range = run_hub("retry", "--queue", "inbox", "--id", huge, env=env, cwd=tmp_path)
        assert out_of_range.returncode == 2 and "is not in the range 1<=x<=2147483647" in out_of_range.stderr
        assert "Traceback" not in out_of_range.stderr
    hub = build_hub(load_settings(settings_dict(sqlite_url)))
    with hub.db.session() as s:
        assert s.get_one(OutboxAction, failed).status == "failed"  # all or nothing
    hub.close()
