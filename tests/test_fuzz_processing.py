"""Property: what the door takes, processing survives. Every kind of event the hub takes (Slack message,
thread reply, app_mention, reaction_added, message_changed, message_deleted, a block_actions click; Zendesk
ticket created, comment added, status changed, and the trigger bodies; Jira issue created, comment created,
issue updated), mutated as the door's fuzz mutates it (:mod:`tests.fuzz_bodies`) and signed, is posted to the
real app, and the job runner then runs to the end, with the vendors at the transport: the Slack stub server,
and Zendesk and Jira stand-ins that answer any well-formed id with a valid ticket and anything else with
their 404 (:mod:`tests.fuzz_vendors`).

After each example:
- the answer was 2xx or 4xx;
- every inbox and outbox row ended ``done``, ``skipped`` with a reason, or ``failed`` (or waits to retry) with
  one of the hub's own errors (:mod:`core.errors`), never a raw ``KeyError``/``TypeError``/... of our code;
- no exception escaped the job runner, and it finished within a generous deadline (no input makes a worker spin);
- every vendor write went to a ticket, issue or thread the delivered body named (or one the hub opened).

A fixed seed keeps ``make test`` repeatable; ``HUB_FUZZ_EXAMPLES=3000`` runs a larger search (per vendor and
database).
"""

from __future__ import annotations

import copy
import json
import time
from typing import Any, Callable, Iterator

import pytest
import responses
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import delete, select

from app import Hub, build_hub, create_app
from config import load_settings
from core import errors
from core.db import DecisionRow, InboxEvent, OutboxAction, OutcomeRow, PersonRow, TicketRow
from interceptor.kb.importer import import_articles, parse_markdown
from tests.fuzz_bodies import ALIKE, DOOR, FUZZ, JIRA, SLACK, ZENDESK, encoded, mutate, signers, slack_request
from tests.fuzz_vendors import AnyJira, AnyZendesk, Named, seed_slack, slack_written
from tests.slack_stub import SlackStub, slack_settings
from tests.test_fuzz_webhooks import SECRETS, check, database
from tests.test_slack_flow import ARTICLES

ZENDESK_URL, JIRA_URL = "http://zendesk.fuzz.test", "http://jira.fuzz.test"
DEADLINE = 30.0  # seconds for one example's processing: generous, a spinning worker never makes it


def _named_errors(base: type[errors.HubError] = errors.HubError) -> frozenset[str]:
    """The names of the hub's own errors: :mod:`core.errors` and what connectors derive from them."""
    return frozenset({base.__name__}).union(*(_named_errors(sub) for sub in base.__subclasses__()))


HUB_ERRORS = _named_errors()


def _reaction(root: dict[str, Any]) -> dict[str, Any]:
    """``reaction_added`` with the ticket emoji on the fixture's question (https://docs.slack.dev/reference/events/reaction_added)."""
    body = copy.deepcopy(root)
    body["event_id"] = "EvREACT1"
    body["event"] = {"type": "reaction_added", "user": "U111", "reaction": "sos", "item_user": root["event"]["user"],
                     "item": {"type": "message", "channel": root["event"]["channel"], "ts": root["event"]["ts"]}, "event_ts": "1719209900.000200"}
    return body


SLACK_EVENTS = [b for b in SLACK if b.get("type") in ("event_callback", "block_actions")]
ROUTES: dict[str, tuple[str, list[dict[str, Any]]]] = {
    "slack": ("/slack/events", SLACK_EVENTS), "zendesk": ("/webhooks/zendesk", ZENDESK), "jira": ("/webhooks/jira", JIRA)}
# The request an example may deliver first, as it is, so that the mutated event finds a ticket already decided
# on (answered: a follow-up, a click, an edit or deletion of the request, a status change).
QUESTION = next(b for b in SLACK_EVENTS if b.get("event", {}).get("type") == "message" and "subtype" not in b["event"]
                and "thread_ts" not in b["event"] and b["team_id"].startswith("T06"))
PRELUDE = {"slack": QUESTION, "zendesk": next(b for b in ZENDESK if str(b.get("type")).endswith("ticket.created")),
           "jira": next(b for b in JIRA if b.get("webhookEvent") == "jira:issue_created")}
SLACK_EVENTS.append(_reaction(QUESTION))


class World:
    """The app on one database, with the three vendors faked at the transport."""

    def __init__(self, url: str) -> None:
        self.stub = SlackStub().start()
        self.api = responses.RequestsMock(assert_all_requests_are_fired=False)
        self.api.add_passthru("http://127.0.0.1")  # the Slack stub (slack_sdk speaks urllib; only the vendors' requests)
        self.zendesk, self.jira = AnyZendesk(ZENDESK_URL), AnyJira(JIRA_URL)
        self.zendesk.install(self.api)
        self.jira.install(self.api)
        settings = slack_settings(
            url, self.stub, HUB_ESCALATION_TARGET="zendesk", SLACK_TICKET_EMOJI=":sos:", HUB_JOB_WORKERS=2,
            HUB_CHANNEL_POLICIES={"zendesk": {"threshold": 0.5}, "jira": {"threshold": 0.5}, "C06NRA6JLER": {"threshold": 0.5}},
            ZENDESK_URL=ZENDESK_URL, ZENDESK_EMAIL="hub@example.com", ZENDESK_API_TOKEN="tok",
            JIRA_URL=JIRA_URL, JIRA_EMAIL="hub@example.com", JIRA_API_TOKEN="tok", JIRA_PROJECT_KEY="SUP", **SECRETS)
        self.hub: Hub = build_hub(load_settings(settings))
        import_articles(self.hub.db, (parse_markdown(text, name) for name, text in ARTICLES.items()))
        self.client = create_app(hub=self.hub).test_client()
        self.escaped: list[BaseException] = []
        for queue in ("inbox", "outbox"):
            self.hub.handlers[queue] = self._observed(self.hub.handlers[queue])

    def _observed(self, handler: Callable[[int], object]) -> Callable[[int], object]:
        def run(row_id: int) -> object:
            try:
                return handler(row_id)
            except BaseException as e:  # what would reach the job runner's own boundary
                self.escaped.append(e)
                raise
        return run

    def fresh(self, keep: bool = False) -> tuple[int, int, int]:
        """Forget the last example's rows and Slack threads (with ``keep``, only what escaped the job runner);
        return where each vendor's call log stands."""
        if not keep:
            with self.hub.db.session() as s:
                for model in (OutboxAction, InboxEvent, OutcomeRow, DecisionRow, TicketRow, PersonRow):
                    s.execute(delete(model))
            seed_slack(self.stub)
        self.escaped.clear()
        return len(self.stub.calls), len(self.zendesk.calls), len(self.jira.calls)

    def close(self) -> None:
        self.hub.close()
        self.stub.stop()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    for url in database(request, tmp_path_factory):
        built = World(url)
        with built.api:
            yield built
        built.close()


def delivered(data: st.DataObject, vendor: str, body: Any, mutated: bool = True) -> tuple[Any, bytes, dict[str, str]]:
    """One signed delivery of ``body`` (a fixture of ``vendor``), mutated (mostly by values of the same type, which
    the door's schemas take) or, one time in six, as it is."""
    body = copy.deepcopy(body)
    if vendor == "jira":
        body["timestamp"] = int(time.time() * 1000)  # inside the replay window
    if mutated and data.draw(st.integers(0, 5)):
        body = mutate(data, body, data.draw(st.sampled_from([ALIKE, ALIKE, DOOR])))
    raw = encoded(data, body, garbage=False)
    headers = {"Content-Type": "application/json"}
    if vendor == "slack":
        raw, headers = slack_request(data, raw)
    return body, raw, {**headers, **signers()[vendor](raw)}


def unexplained(rows: list[Any]) -> list[tuple[int, str, str | None]]:
    """Rows not ended as the property asks: ``done``; ``skipped`` with a reason; ``failed``, or waiting to be
    retried, with one of the hub's own errors."""
    bad = []
    for row in rows:
        error = row.last_error or ""
        named = error.split(":", 1)[0] in HUB_ERRORS or error.startswith("gave up after the retry horizon")
        if row.status == "done" or (row.status in ("skipped", "failed", "pending") and named):
            continue
        bad.append((row.id, row.status, row.last_error))
    return bad


def unnamed_writes(world: World, since: tuple[int, int, int], named: Named) -> list[str]:
    """The vendor writes made to a ticket, issue or thread the body did not name (and the hub did not open)."""
    slack_at, zendesk_at, jira_at = since
    opened = world.zendesk.created | world.jira.created
    wrong = [f"zendesk ticket {t}" for t in world.zendesk.written(zendesk_at) if t not in named.ids and t not in opened]
    wrong += [f"jira issue {k}" for k in world.jira.written(jira_at) if not named.names_issue(k) and k not in opened]
    triage = world.hub.settings.slack.triage_channel
    for channel, ts in slack_written(world.stub, slack_at):
        if not (channel == triage or (channel in named.ids and (not ts or ts in named.ids or _posted_by_hub(world, channel, ts)))):
            wrong.append(f"slack {channel} {ts}")
    return wrong


def _posted_by_hub(world: World, channel: str, ts: str) -> bool:
    return any(c.api == "chat.postMessage" and c.args.get("channel") == channel and ts in json.dumps(c.args) for c in world.stub.calls)


@pytest.mark.parametrize("vendor", sorted(ROUTES))
def test_no_event_breaks_processing(world: World, vendor: str) -> None:
    route = ROUTES[vendor][0]
    statuses: list[int] = []

    @FUZZ
    @given(st.data())
    def run(data: st.DataObject) -> None:
        since = world.fresh()
        if data.draw(st.booleans()):
            _, raw, headers = delivered(data, vendor, PRELUDE[vendor], mutated=False)
            assert world.client.post(route, data=raw, headers=headers).status_code == 200
            world.hub.jobs.drain(timeout=DEADLINE)  # type: ignore[attr-defined]
            since = world.fresh(keep=True)
        body, raw, headers = delivered(data, vendor, data.draw(st.sampled_from(ROUTES[vendor][1])))
        started = time.monotonic()
        response = world.client.post(route, data=raw, headers=headers)
        check(response)
        statuses.append(response.status_code)
        world.hub.jobs.drain(timeout=DEADLINE)  # type: ignore[attr-defined]
        assert time.monotonic() - started < DEADLINE
        assert not world.escaped, [f"{type(e).__name__}: {e}" for e in world.escaped]
        with world.hub.db.session() as s:
            inbox = list(s.scalars(select(InboxEvent)))
            outbox = list(s.scalars(select(OutboxAction)))
        assert not unexplained(inbox), ("inbox", unexplained(inbox), raw[:600])
        assert not unexplained(outbox), ("outbox", unexplained(outbox), raw[:600])
        assert not unnamed_writes(world, since, Named.of(body)), (unnamed_writes(world, since, Named.of(body)), raw[:600])

    run()
    assert 200 in statuses, sorted(set(statuses))  # the search reached the job runner
