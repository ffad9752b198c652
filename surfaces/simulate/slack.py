"""``hub simulate slack "TEXT"``: the real pipeline, the real outbox and the real Slack connector, against a
recording Slack on loopback, so an admin sees exactly what Slack users would get before connecting anything.

What runs for real: Slack's signature check on a signed Events API body, the inbox, the interceptor's
decision on the configured knowledge base, the outbox and ``connectors/slack`` with slack_sdk's
``WebClient`` (pointed at :class:`RecordingSlack` through ``SLACK_API_URL``). What is isolated: a throw-away
SQLite database (the configured database's knowledge base is copied into it, so nothing the simulation does
shows in the dashboard), and no other vendor: Zendesk and Jira settings are dropped, so an escalation takes
the triage-channel path (``SLACK_TRIAGE_CHANNEL``, simulated when unset) instead of opening a ticket.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Sequence
from urllib.parse import urlencode

from sqlalchemy import create_engine, func, insert, make_url, select
from sqlalchemy.exc import SQLAlchemyError

import config
import migrations
from config import Settings, load_settings
from core.analytics.facts import is_shadow
from core.db import ArticleRow, Base, DecisionRow
from core.words import plural
from interceptor.kb.importer import articles_at, import_articles
from surfaces.http.app import create_http_app
from surfaces.services import build_services
from surfaces.simulate.recorder import TEAM, Call, RecordingSlack
from surfaces.simulate.replies import Reply, outcomes_of

CHANNEL, TRIAGE, USER = "CSIMULATE1", "CSIMTRIAGE", "USIMUSER01"
SIGNING_SECRET = "simulated-signing-secret"  # noqa: S105 - a throw-away secret for a loopback-only run
SAMPLE_KB = Path(config.__file__).resolve().parent / "sample_kb"


@dataclass(frozen=True)
class Simulation:
    """What one simulated Slack message led to."""

    text: str
    channel: str
    thread_ts: str
    kb_source: str  # where the knowledge base came from
    status: int  # the HTTP status ``/slack/events`` answered
    decision: dict[str, Any] | None  # verdict, confidence, threshold, reasons, candidates
    calls: list[Call]  # the Slack writes the hub made, in order
    notes: tuple[str, ...] = ()  # where the simulation differs from the configured install
    click: str | None = None  # the button the simulated person clicked on the answer, if any
    after_click: list[Call] = field(default_factory=list)  # the writes that click led to
    replies: tuple[Reply, ...] = ()  # then the person's replies in the thread, in order


def copy_kb(source_url: str, target_url: str) -> int:
    """Copy the knowledge base (every ``kb_*`` table: articles, passages, questions, calibrations, stored
    vectors), parents first, between databases.

    Returns:
        The number of live articles copied (0 when the source has none, is unreachable or not migrated).
    """
    parsed = make_url(source_url)
    if parsed.get_backend_name() == "sqlite" and not (parsed.database and Path(parsed.database).exists()):
        return 0  # connecting would create an empty database file where the admin's should be
    source, target = create_engine(source_url), create_engine(target_url)
    try:
        with source.connect() as read:
            articles = read.scalar(select(func.count()).select_from(ArticleRow).where(ArticleRow.deleted.is_(False))) or 0
            if not articles:
                return 0
            with target.begin() as write:
                for table in (t for t in Base.metadata.sorted_tables if t.name.startswith("kb_")):
                    rows = [dict(r) for r in read.execute(select(table)).mappings()]
                    for start in range(0, len(rows), 500):
                        write.execute(insert(table), rows[start:start + 500])
            return int(articles)
    except SQLAlchemyError:
        return 0
    finally:
        source.dispose()
        target.dispose()


def _signed(body: bytes) -> dict[str, str]:
    """Slack's request signature: ``v0=hex(HMAC_SHA256(secret, "v0:{timestamp}:{body}"))``."""
    ts = str(int(time.time()))
    digest = hmac.new(SIGNING_SECRET.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


def _event(text: str, ts: str, channel: str, thread_ts: str | None = None) -> bytes:
    """An Events API ``event_callback`` for a person's new message, or their reply in thread ``thread_ts``,
    shaped like Slack's."""
    reply = {"thread_ts": thread_ts, "parent_user_id": USER} if thread_ts else {}
    return json.dumps(
        {
            "token": "simulated", "team_id": TEAM, "api_app_id": "ASIMREQUEST", "type": "event_callback",
            "event_id": f"EvSIM{ts.replace('.', '')}", "event_time": int(float(ts)),
            "event": {"type": "message", "channel": channel, "channel_type": "channel", "user": USER, "text": text,
                      "ts": ts, "event_ts": ts, "team": TEAM, **reply},
            "authorizations": [{"team_id": TEAM, "user_id": "USIMHUB01", "is_bot": True}],
        }
    ).encode()


def simulated_settings(settings: Settings, database_url: str, api_url: str) -> Settings:
    """The configured settings with Slack pointed at the recorder, a throw-away database, the inline job
    runner, and no help desk: every decision setting (thresholds, policies, topics, shadow mode, the model, the
    writer) stays as configured."""
    slack = load_settings({"HUB_DATABASE_URL": database_url, "SLACK_BOT_TOKEN": "xoxb-simulated",
                           "SLACK_SIGNING_SECRET": SIGNING_SECRET, "SLACK_API_URL": api_url,
                           "SLACK_TRIAGE_CHANNEL": (settings.slack.triage_channel if settings.slack else None) or TRIAGE}).slack
    policies = {name: replace(policy, escalation_target=None) for name, policy in settings.channel_policies.items()}
    return replace(settings, database_url=database_url, queue="inline", broker_url=None, escalation_target=None,
                   vendors={"slack": slack}, channel_policies=policies)


def simulate_slack(
    text: str, settings: Settings, workdir: Path, *, click: str | None = None, channel: str = CHANNEL,
    replies: Sequence[str] = (),
) -> Simulation:
    """Post ``text`` as a new Slack message and run it through the hub; return what Slack would receive.

    Args:
        text: the message a person posts in a channel the hub answers in.
        settings: the configured settings: their database holds the knowledge base, their decision settings
            apply (``simulated_settings``).
        workdir: an empty folder for the throw-away database.
        channel: the Slack channel id to post in (its ``HUB_CHANNEL_POLICIES`` entry applies: threshold,
            shadow mode); a simulated one by default.
        click: then click this button on the answer (an ``action_id`` such as ``hub_feedback_solved``, or the
            part after ``hub_feedback_``), as the person would, through Slack's interactivity payload.
        replies: then post these in the thread, in order, as the person who asked (follow-ups such as "that
            didn't help" or a second question).

    Returns:
        The decision and every ``chat.postMessage`` / ``chat.update`` the hub made (after the click and each
        reply apart); for each reply, also the follow-up decisions and the outcomes it recorded.

    Raises:
        TimeoutError: the pipeline did not finish within 60 s.
    """
    url = f"sqlite:///{workdir / 'simulate.db'}"
    migrations.upgrade(url)
    copied = copy_kb(settings.database_url, url)
    kb_source = f"{plural(copied, 'article')} copied from the configured database"
    if not copied:
        import_articles_from_sample(url)
        kb_source = "the bundled sample knowledge base (the configured database has none)"
    profile = {"id": USER, "name": "sam", "real_name": "Sam Simulated", "is_bot": False,
               "profile": {"real_name": "Sam Simulated", "display_name": "sam", "email": "sam@example.com"}}
    with RecordingSlack(users={USER: profile}) as slack:
        hub = build_services(simulated_settings(settings, url, slack.url))
        try:
            ts = slack.post_user_message(channel, USER, text)
            status = _deliver(hub, _event(text, ts, channel))
            ref = f"slack:{TEAM}:{channel}:{ts}"
            decisions = _decisions(hub.db, ref)
            before = slack.writes()
            clicked = _click(hub, slack, before, click) if click else None
            after_click = slack.writes()[len(before):]
            posted = []
            for reply in replies:
                seen, decided = len(slack.writes()), len(_decisions(hub.db, ref))
                known = outcomes_of(hub.db, ref)
                reply_status = _deliver(hub, _event(reply, slack.post_user_message(channel, USER, reply, ts), channel, ts))
                posted.append(Reply(reply, reply_status, _decisions(hub.db, ref)[decided:], slack.writes()[seen:],
                                    outcomes_of(hub.db, ref, after=known[-1]["id"] if known else 0),
                                    with_person=any(o["kind"] == "escalated" for o in known)))
        finally:
            hub.close()
        return Simulation(text, channel, ts, kb_source, status, decisions[0] if decisions else None, before,
                          _notes(settings), clicked, after_click, tuple(posted))


def _deliver(hub: Any, body: bytes, content_type: str = "application/json") -> int:
    """Post ``body`` to ``/slack/events``, signed as Slack signs it, let the inline queue finish what it
    started, and return the HTTP status."""
    headers = {**_signed(body), "Content-Type": content_type}
    response = create_http_app(hub).test_client().post("/slack/events", data=body, headers=headers)
    hub.jobs.drain(timeout=60.0)  # the inline queue
    return response.status_code


def _click(hub: Any, slack: RecordingSlack, posted: list[Call], wanted: str) -> str | None:
    """Click the button ``wanted`` on the hub's message that carries it (a ``block_actions`` payload, form
    encoded and signed as Slack sends it); return the button's label, or ``None`` when no message has it."""
    action_id = wanted if wanted.startswith("hub_") else f"hub_feedback_{wanted.replace('-', '_')}"
    for call in posted:
        for block in call.args.get("blocks") or []:
            for button in block.get("elements", []) if block.get("type") == "actions" else []:
                if button.get("action_id") != action_id:
                    continue
                payload = {"type": "block_actions", "user": {"id": USER, "username": "sam", "team_id": TEAM},
                           "api_app_id": "ASIMREQUEST", "team": {"id": TEAM}, "channel": {"id": call.response["channel"]},
                           "container": {"type": "message", "message_ts": call.response["ts"],
                                         "channel_id": call.response["channel"], "is_ephemeral": False},
                           "trigger_id": "simulated.trigger",
                           "actions": [{**button, "block_id": block.get("block_id"), "action_ts": call.response["ts"]}]}
                _deliver(hub, urlencode({"payload": json.dumps(payload)}).encode(), "application/x-www-form-urlencoded")
                return str(button.get("text", {}).get("text") or action_id)
    return None


def _notes(settings: Settings) -> tuple[str, ...]:
    target = settings.escalation_target
    if not target or target == "slack":  # "slack": the triage channel is the real path too
        return ()
    return (f"HUB_ESCALATION_TARGET={target}: a real escalation also opens a {target} ticket with the transcript and "
            "the draft, and posts its link in the thread; the simulation contacts no help desk, so it shows the "
            "triage-channel path instead.",)


def import_articles_from_sample(url: str) -> None:
    """Load the bundled sample knowledge base into the database at ``url``."""
    from core.db import Database

    db = Database(url)
    try:
        import_articles(db, articles_at(SAMPLE_KB))
    finally:
        db.dispose()


def _decisions(db: Any, ref: str) -> list[dict[str, Any]]:
    """The decisions made on thread ``ref``, oldest first: the request's, then its follow-ups'."""
    with db.session() as session:
        return [_decision(row) for row in session.scalars(select(DecisionRow).where(DecisionRow.ticket_ref == ref)
                                                          .order_by(DecisionRow.id))]


def _decision(row: DecisionRow) -> dict[str, Any]:
    return {
        "trigger": row.trigger, "verdict": row.verdict, "dry_run": bool(row.dry_run),
        "shadow": is_shadow(row.verdict, bool(row.dry_run), [str(r) for r in (row.reasons or [])]), "confidence": round(float(row.confidence), 4),
        "threshold": round(float(row.threshold), 4), "reasons": list(row.reasons or []),
        "candidates": [{"title": c.get("title"), "score": round(float(c.get("score") or 0.0), 3)}
                       for c in (row.candidates or [])[:3] if isinstance(c, dict)],
    }
