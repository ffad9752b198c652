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
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from sqlalchemy import create_engine, func, insert, select
from sqlalchemy.exc import SQLAlchemyError

import migrations
from config import load_settings
from core.db import ArticleRow, Base, DecisionRow
from interceptor.kb.importer import articles_at, import_articles
from surfaces.http.app import create_http_app
from surfaces.services import build_services
from surfaces.simulate.recorder import TEAM, Call, RecordingSlack

CHANNEL, TRIAGE, USER = "CSIMULATE1", "CSIMTRIAGE", "USIMUSER01"
SIGNING_SECRET = "simulated-signing-secret"  # noqa: S105 - a throw-away secret for a loopback-only run
KB_TABLES = ("kb_articles", "kb_passages", "kb_questions", "kb_calibrations", "kb_embeddings")
DROPPED_PREFIXES = ("ZENDESK_", "JIRA_", "SLACK_")
SAMPLE_KB = Path(__file__).resolve().parent.parent.parent / "config" / "sample_kb"


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


def copy_kb(source_url: str, target_url: str) -> int:
    """Copy the knowledge base (articles, passages, questions, calibrations, stored vectors) between databases.

    Returns:
        The number of live articles copied (0 when the source has none, is unreachable or not migrated).
    """
    source, target = create_engine(source_url), create_engine(target_url)
    try:
        with source.connect() as read:
            articles = read.scalar(select(func.count()).select_from(ArticleRow).where(ArticleRow.deleted.is_(False))) or 0
            if not articles:
                return 0
            with target.begin() as write:
                for name in KB_TABLES:
                    table = Base.metadata.tables[name]
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
    return {"Content-Type": "application/json", "X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


def _event(text: str, ts: str) -> bytes:
    """An Events API ``event_callback`` for a person's new message, shaped like Slack's."""
    return json.dumps(
        {
            "token": "simulated", "team_id": TEAM, "api_app_id": "ASIMREQUEST", "type": "event_callback",
            "event_id": f"EvSIM{ts.replace('.', '')}", "event_time": int(float(ts)),
            "event": {"type": "message", "channel": CHANNEL, "channel_type": "channel", "user": USER, "text": text,
                      "ts": ts, "event_ts": ts, "team": TEAM},
            "authorizations": [{"team_id": TEAM, "user_id": "USIMHUB01", "is_bot": True}],
        }
    ).encode()


def simulate_slack(text: str, sources: Mapping[str, Any], workdir: Path) -> Simulation:
    """Post ``text`` as a new Slack message and run it through the hub; return what Slack would receive.

    Args:
        text: the message a person posts in a channel the hub answers in.
        sources: the configuration (``config.read_sources()``): its database holds the knowledge base.
        workdir: an empty folder for the throw-away database.

    Returns:
        The decision and every ``chat.postMessage`` / ``chat.update`` the hub made.

    Raises:
        ConfigError: the configuration is invalid.
        TimeoutError: the pipeline did not finish within 60 s.
    """
    configured = load_settings(sources)
    url = f"sqlite:///{workdir / 'simulate.db'}"
    migrations.upgrade(url)
    copied = copy_kb(configured.database_url, url)
    kb_source = f"{copied} articles copied from the configured database"
    if not copied:
        import_articles_from_sample(url)
        kb_source = "the bundled sample knowledge base (the configured database has none)"
    values = {k: v for k, v in sources.items() if not k.startswith(DROPPED_PREFIXES) and k != "HUB_ESCALATION_TARGET"}
    values.update(HUB_DATABASE_URL=url, HUB_QUEUE="inline", SLACK_BOT_TOKEN="xoxb-simulated",
                  SLACK_SIGNING_SECRET=SIGNING_SECRET, SLACK_CHANNELS="*",
                  SLACK_TRIAGE_CHANNEL=str(sources.get("SLACK_TRIAGE_CHANNEL") or TRIAGE))
    profile = {"id": USER, "name": "sam", "real_name": "Sam Simulated", "is_bot": False,
               "profile": {"real_name": "Sam Simulated", "display_name": "sam", "email": "sam@example.com"}}
    with RecordingSlack(users={USER: profile}) as slack:
        values["SLACK_API_URL"] = slack.url
        hub = build_services(load_settings(values))
        try:
            ts = slack.post_user_message(CHANNEL, USER, text)
            body = _event(text, ts)
            response = create_http_app(hub).test_client().post("/slack/events", data=body, headers=_signed(body))
            hub.jobs.drain(timeout=60.0)  # type: ignore[attr-defined]  # the inline queue (HUB_QUEUE=inline)
            decision = _decision(hub.db, f"slack:{TEAM}:{CHANNEL}:{ts}")
        finally:
            hub.close()
        return Simulation(text, CHANNEL, ts, kb_source, response.status_code, decision, slack.writes(), _notes(sources))


def _notes(sources: Mapping[str, Any]) -> tuple[str, ...]:
    target = sources.get("HUB_ESCALATION_TARGET")
    if not target:
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


def _decision(db: Any, ref: str) -> dict[str, Any] | None:
    with db.session() as session:
        row = session.scalars(select(DecisionRow).where(DecisionRow.ticket_ref == ref).order_by(DecisionRow.id)).first()
        if row is None:
            return None
        return {
            "verdict": row.verdict, "dry_run": bool(row.dry_run), "confidence": round(float(row.confidence), 4),
            "threshold": round(float(row.threshold), 4), "reasons": list(row.reasons or []),
            "candidates": [{"title": c.get("title"), "score": round(float(c.get("score") or 0.0), 3)}
                           for c in (row.candidates or [])[:3] if isinstance(c, dict)],
        }
