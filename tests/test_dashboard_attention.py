"""What the admin sees of the states that are neither failed nor done for them, through the real app on SQLite and
PostgreSQL with the admin token: thread messages a closed Zendesk ticket refused, held until the requester's next word
opens a follow-up (``GET /api/v1/queues`` ``held``, the dashboard's sentence and table), and Slack's
``app_rate_limited`` notices of the last 24 hours (``notices``), stored so that a restarted hub still shows them.
Both used to be in logs, raw rows and a per-process counter only."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Iterator

import pytest
import responses
from sqlalchemy import update

from app import build_hub, create_app
from config import load_settings
from core import outbox
from core.db import CursorRow, OutboxAction
from core.models import utcnow
from tests.conftest import settings_dict
from tests.slack_events_world import make_hub, post, rows
from tests.slack_stub import SlackStub, fixture
from tests.sync_world import stub  # noqa: F401 - a fixture
from tests.sync_world import OTHER, THREAD, World, running, say, serve_record, zendesk_world
from tests.test_cli import run_hub
from tests.test_slack_flow import USER
from tests.test_sync_zendesk_closed import CLOSED_422, creates, serve_follow_up, settle
from tests.test_zendesk_connector import API, BASE

TOKEN = "admin-token-for-tests-1234"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
RECORD = "zendesk:4014"


@pytest.fixture
def world(database_url: str, stub: SlackStub) -> Iterator[World]:  # noqa: F811 - stub is the fixture above
    with running(zendesk_world, database_url, stub, HUB_ADMIN_TOKEN=TOKEN) as built:
        serve_record(built.api, [], status="closed", tags=("hub_w_0123456789abcdef", "billing"))
        built.api.upsert(responses.PUT, f"{API}/tickets/4014.json", json=CLOSED_422, status=422)
        yield built


def queues(client: Any) -> dict[str, Any]:
    response = client.get("/api/v1/queues", headers=AUTH)
    assert response.status_code == 200
    return response.get_json()


def test_a_note_held_for_a_follow_up_is_counted_listed_and_said_until_the_requesters_word_carries_it(world: World) -> None:
    serve_follow_up(world, [])
    assert queues(world.client)["held"] == {"count": 0, "rows": [], "message": None}
    say(world, OTHER, "Same here since Monday, I told them to clear the cache", "1800000300.000100")
    settle(world)
    seen = queues(world.client)
    assert seen["status"] == "ok" and seen["failed"] == {"inbox": [], "outbox": []}, "done rows: no failure shows it"
    held = seen["held"]
    assert held["count"] == 1
    [row] = held["rows"]
    assert (row["closed"], row["ticket_url"], row["what"]) == (RECORD, f"{BASE}/agent/tickets/4014", "internal note")
    assert row["excerpt"] == "Bob Teammate wrote in Slack:\n\nSame here since Monday, I told them to clear the cache"
    assert row["thread"].startswith("slack:") and 0 <= row["age_seconds"] < 60
    assert held["message"].startswith("1 note waits for a follow-up on closed tickets, the oldest for ")
    assert "written on a follow-up ticket when the requester writes in its thread again" in held["message"]
    page = world.client.get("/admin", headers={**AUTH, "Accept": "text/html"}).get_data(as_text=True)
    assert 'id="attention"' in page and "Held for a follow-up" in page and 'id="held"' in page
    script = world.client.get("/admin/static/queues.js", headers=AUTH).get_data(as_text=True)
    assert "q.held.message" in script and "q.notices" in script, "the page prints the server's sentences"
    # The requester's next word opens the follow-up and carries the note: nothing is held any more.
    made = len(creates(world))
    say(world, USER, "It broke again this morning", "1800000301.000100")
    settle(world)
    assert len(creates(world)) == made + 1
    assert queues(world.client)["held"] == {"count": 0, "rows": [], "message": None}


def later(hub: Any, name_part: str, hours: float) -> None:
    with hub.db.session() as s:
        s.execute(update(CursorRow).where(CursorRow.name.contains(name_part))
                  .values(updated_at=utcnow() - timedelta(hours=hours)))


def test_slack_rate_limit_notices_show_for_24_hours_and_survive_a_restart(database_url: str, stub: SlackStub) -> None:  # noqa: F811
    notice = fixture("app_rate_limited")
    began = datetime.fromtimestamp(notice["minute_rate_limited"], timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    hub = make_hub(database_url, stub, [], SLACK_TEAM_ID=notice["team_id"], HUB_ADMIN_TOKEN=TOKEN)
    try:
        client = create_app(hub=hub).test_client()
        assert queues(client)["notices"] == []
        for body in (notice, notice, {**notice, "minute_rate_limited": notice["minute_rate_limited"] + 60}):
            response = post(client, body)  # the first twice: Slack's redelivery of one notice
            assert response.status_code == 200 and response.get_json() == {"status": "ignored"}
        # Another workspace's notice (the app distributed there) is not this install's.
        assert post(client, {**notice, "team_id": "T0OTHERWS1"}).get_json() == {"status": "ignored"}
        assert rows(hub) == [] and stub.calls == []
    finally:
        hub.close()
    hub = make_hub(database_url, stub, [], SLACK_TEAM_ID=notice["team_id"], HUB_ADMIN_TOKEN=TOKEN)  # a restart
    try:
        client = create_app(hub=hub).test_client()
        [shown] = queues(client)["notices"]
        assert (shown["vendor"], shown["kind"], shown["count"]) == ("slack", "app_rate_limited", 2)
        assert sorted(n["minute_rate_limited"] for n in shown["notices"]) == [notice["minute_rate_limited"], notice["minute_rate_limited"] + 60]
        assert {n["team"] for n in shown["notices"]} == {notice["team_id"]}
        last = datetime.fromisoformat(shown["last_at"]).strftime("%Y-%m-%d %H:%M UTC")
        assert shown["message"] == (f"Slack dropped events for this app: 2 notices in the last 24 h, the last at {last}, "
                                    f"rate limited from {began} (workspace {notice['team_id']}). Requests written then may "
                                    "never reach the hub: look in the channels.")
        # A day later they are no longer news.
        later(hub, f":{notice['minute_rate_limited']}", 25)
        assert queues(client)["notices"][0]["count"] == 1
        later(hub, "app_rate_limited", 25)
        assert queues(client)["notices"] == []
    finally:
        hub.close()


def test_hub_retry_says_what_waits_that_it_does_not_re_queue(sqlite_url: str, tmp_path: Any) -> None:
    hub = build_hub(load_settings(settings_dict(sqlite_url)))
    with hub.db.session() as s:  # a teammate's note a closed ticket refused, as connectors.follow_up.on_closed leaves it
        row_id = outbox.enqueue(s, outbox.NewAction(f"sync-note:{THREAD}:1800000300.000100", "zendesk", "add_internal_note",
                                                    {"ref": RECORD, "text": "Same here", "mirror_of": THREAD}, RECORD))
        s.execute(update(OutboxAction).where(OutboxAction.id == row_id).values(
            status="done", finished_at=utcnow(), result={"closed": RECORD, "held": f"follow-up:{RECORD}"}))
    hub.close()
    result = run_hub("retry", env={"HUB_DATABASE_URL": sqlite_url}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "outbox: re-queued 0 failed rows" in result.stdout
    assert "not re-queued: 1 note waits for a follow-up on closed tickets, the oldest for " in result.stdout
