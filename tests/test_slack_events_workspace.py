"""POST /slack/events for deliveries that are not this install's ordinary messages: an event made to another
workspace's installation of the app (signed with the same secret), a Slack Connect channel's event whose
``team_id`` names the other organisation, and Slack's ``app_rate_limited`` notice.

Through the real Flask app, on SQLite and PostgreSQL; the Web API is the local stub, which the request path never calls.
"""

from __future__ import annotations

import copy
import logging
import re
from typing import Any, Iterator

import pytest

from app import Hub, create_app
from core.models import TicketEvent
from tests.slack_events_world import CHANNEL, ROOT, ROOT_TS, TEAM, THREAD_REF, make_hub, post, rows
from tests.slack_events_world import stub  # noqa: F401 (a fixture)
from tests.slack_stub import SlackStub, fixture

OTHER, PARTNER = "T0OTHERWS1", "T0PARTNER1"


def metric(client: Any, name: str, labels: str = "") -> float:
    """``hub_<name>_total{labels}`` as ``/metrics`` says it (0 before it was first counted)."""
    text = client.get("/metrics").get_data(as_text=True)
    found = re.search(rf"^hub_{name}_total{re.escape('{' + labels + '}') if labels else ''} (\S+)$", text, re.M)
    return float(found.group(1)) if found else 0.0


def delivered_to(team: str, event_id: str, *, envelope_team: str | None = None, message_team: str | None = None,
                 **installation: Any) -> dict[str, Any]:
    """ROOT as Slack delivers it to ``team``'s installation of the app; ``envelope_team`` and ``message_team``: the
    ``team_id`` and ``event.team`` Slack writes (in a Slack Connect channel, the other organisation's)."""
    payload = copy.deepcopy(ROOT)
    payload["event_id"] = event_id
    payload["team_id"] = envelope_team or team
    payload["context_team_id"] = team
    payload["event"]["team"] = message_team or team
    payload["authorizations"][0].update({"team_id": team, **installation})
    return payload


@pytest.fixture
def world(database_url: str, stub: SlackStub) -> Iterator[tuple[Hub, Any, list[TicketEvent]]]:
    seen: list[TicketEvent] = []
    hub = make_hub(database_url, stub, seen, SLACK_TEAM_ID=TEAM)
    try:
        yield hub, create_app(hub=hub).test_client(), seen
    finally:
        hub.close()


def test_an_event_delivered_to_another_workspace_is_ignored_counted_and_never_read_with_our_token(
        world: tuple[Hub, Any, list[TicketEvent]], stub: SlackStub) -> None:
    hub, client, seen = world
    before = metric(client, "slack_events_ignored", 'reason="other_workspace"')
    # The app distributed to another workspace: the same signing secret, that workspace's ids everywhere.
    response = post(client, delivered_to(OTHER, "EvOTHERWS01"))
    assert response.status_code == 200 and response.get_json() == {"status": "ignored"}
    # An envelope without authorizations (the pre-2021 shape) is judged by its team_id.
    legacy = delivered_to(OTHER, "EvOTHERWS02")
    del legacy["authorizations"], legacy["context_team_id"]
    assert post(client, legacy).get_json() == {"status": "ignored"}
    assert metric(client, "slack_events_ignored", 'reason="other_workspace"') == before + 2
    hub.jobs.drain()  # type: ignore[attr-defined]
    assert rows(hub) == [] and seen == [] and stub.calls == []
    # This workspace's own message is still a request, and so is one in a Slack Connect channel of this workspace.
    # NOTE(slack): there team_id names the channel's owner and event.team the writer's workspace (the other
    # organisation's); authorizations[0] is the installation the event is delivered to: ours.
    assert post(client, ROOT).get_json()["status"] == "accepted"
    shared = delivered_to(TEAM, "EvSHARED001", envelope_team=PARTNER, message_team=PARTNER)
    shared["is_ext_shared_channel"] = True
    assert post(client, shared).get_json()["status"] == "accepted"
    hub.jobs.drain()  # type: ignore[attr-defined]
    assert [r.delivery_id for r in rows(hub)] == [f"{TEAM}:{CHANNEL}:{ROOT_TS}", f"{PARTNER}:{CHANNEL}:{ROOT_TS}"]
    assert sorted(str(e.ref) for e in seen) == sorted([THREAD_REF, f"slack:{PARTNER}:{CHANNEL}:{ROOT_TS}"])  # two workers
    assert stub.calls == []


def test_an_org_wide_installation_is_named_by_its_org(database_url: str, stub: SlackStub) -> None:
    seen: list[TicketEvent] = []
    hub = make_hub(database_url, stub, seen, SLACK_TEAM_ID="E0ORGWIDE1")
    try:
        client = create_app(hub=hub).test_client()
        org_wide = delivered_to(TEAM, "EvORGWIDE01", enterprise_id="E0ORGWIDE1", is_enterprise_install=True)
        assert post(client, org_wide).get_json()["status"] == "accepted"
        other_org = delivered_to(OTHER, "EvORGWIDE02", enterprise_id="E0OTHERORG", is_enterprise_install=True)
        assert post(client, other_org).get_json() == {"status": "ignored"}
        assert [r.delivery_id for r in rows(hub)] == [f"{TEAM}:{CHANNEL}:{ROOT_TS}"] and stub.calls == []
    finally:
        hub.close()


def test_app_rate_limited_is_acknowledged_logged_and_counted(database_url: str, stub: SlackStub,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    notice = fixture("app_rate_limited")  # the real capture: no event, its workspace's team_id
    seen: list[TicketEvent] = []
    hub = make_hub(database_url, stub, seen, SLACK_TEAM_ID=notice["team_id"])
    try:
        client = create_app(hub=hub).test_client()
        before = metric(client, "slack_app_rate_limited")
        with caplog.at_level(logging.WARNING, logger="connectors.slack.connector"):
            response = post(client, notice)
        assert response.status_code == 200 and response.get_json() == {"status": "ignored"}
        assert metric(client, "slack_app_rate_limited") == before + 1
        [record] = [r for r in caplog.records if r.getMessage() == "slack.events.app-rate-limited"]
        assert record.minute_rate_limited == notice["minute_rate_limited"]  # type: ignore[attr-defined]
        hub.jobs.drain()  # type: ignore[attr-defined]
        assert rows(hub) == [] and seen == [] and stub.calls == []
    finally:
        hub.close()


@pytest.mark.parametrize(("field", "value", "path"), [("minute_rate_limited", "soon", "minute_rate_limited"),
                                                      ("team_id", "T1:T2", "team_id")])
def test_a_malformed_rate_limit_notice_is_a_400_naming_the_field(database_url: str, stub: SlackStub, field: str,
                                                                  value: Any, path: str) -> None:
    hub = make_hub(database_url, stub, [])
    try:
        response = post(create_app(hub=hub).test_client(), {**fixture("app_rate_limited"), field: value})
        assert response.status_code == 400 and response.get_json()["error"].startswith(f"slack payload: {path}:")
        assert rows(hub) == [] and stub.calls == []
    finally:
        hub.close()
