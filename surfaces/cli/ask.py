"""``hub ask "TEXT" [--json] [--channel C]``: run the decision on one question against the current KB."""

from __future__ import annotations

import json
from typing import Any

import click
from sqlalchemy.exc import OperationalError

from config import load_settings
from core.db import Database
from surfaces.http.api import MAX_TEXT_CHARS, decision_json
from interceptor.engine import Interceptor, build_interceptor
from interceptor.types import Decision


def render(decision: Decision) -> str:
    """Return the decision as an admin reads it in a terminal."""
    lines = [
        f"verdict:    {decision.verdict.value}{' (dry run)' if decision.dry_run else ''}",
        f"confidence: {decision.confidence:.3f} (threshold {decision.threshold:.3f})",
        f"reasons:    {', '.join(decision.reasons)}",
    ]
    if decision.answer is not None:
        lines += ["", "answer:", decision.answer]
    lines += ["", "citations:"]
    lines += [f"- {c.title}{f' <{c.url}>' if c.url else ''}" for c in decision.citations] or ["(none)"]
    if decision.answer is None:
        lines += ["", "draft for agents:", decision.draft]
    return "\n".join(lines)


@click.command()
@click.argument("text")
@click.option("--json", "as_json", is_flag=True, help="Print the decision as JSON.")
@click.option("--channel", default=None, help="Decide with this channel's policy (a Slack channel id, zendesk, jira, web).")
def ask(text: str, as_json: bool, channel: str | None) -> None:
    """Decide on one question against the current knowledge base; print verdict, confidence, answer and
    citations."""
    if not text.strip():
        raise click.BadParameter("the question is empty", param_hint="TEXT")
    if len(text) > MAX_TEXT_CHARS:
        raise click.BadParameter(f"the question is longer than {MAX_TEXT_CHARS} characters", param_hint="TEXT")
    settings = load_settings()
    db = Database(settings.database_url)
    try:
        interceptor: Interceptor = build_interceptor(settings, db)
        decision = interceptor.decide(text, channel=channel)
    except OperationalError as e:
        raise click.ClickException(f"the database is not ready ({type(e.orig).__name__}): run `hub db upgrade`") from e
    finally:
        db.dispose()
    if as_json:
        payload: dict[str, Any] = decision_json(decision) | {"draft": decision.draft}
        click.echo(json.dumps(payload, indent=2, ensure_ascii=False))
    else:
        click.echo(render(decision))
