"""``hub retry``: re-queue failed work (and show the queues' health)."""

from __future__ import annotations

import json

import click

from config import load_settings
from core import queues
from core.db import MAX_ROW_ID, Database
from core.words import plural
from surfaces.attention import held_json, notices_json
from surfaces.cli.database import uses_database


class _Later:
    """A job queue that hands nothing out: the running hub's sweeper picks re-queued rows up (they are due now)."""

    def submit(self, queue: str, row_id: int) -> None:
        """Nothing: the row is due, the sweeper of ``hub serve`` or ``hub scheduler`` hands it out."""

    def shutdown(self, wait: bool = True) -> None:
        """Nothing to stop."""


@click.command("retry")
@click.option("--queue", type=click.Choice(sorted(queues.QUEUES)), default=None, help="only this queue (default: both)")
@click.option("--id", "ids", type=click.IntRange(1, MAX_ROW_ID), multiple=True,
              help="only these failed rows of --queue (repeatable)")
@click.option("--json", "as_json", is_flag=True, help="print the result as JSON")
@uses_database()
def retry(queue: str | None, ids: tuple[int, ...], as_json: bool) -> None:
    """Re-queue failed inbox events and outbox actions with a fresh retry horizon; the running hub picks
    them up within one sweep interval. Prints what was re-queued, the queues' health, and what else waits for an
    admin (notes held for a follow-up of a closed ticket, vendor notices of the last 24 h: not failed rows)."""
    if ids and queue is None:
        raise click.UsageError("--id needs --queue")
    db = Database(load_settings().database_url)
    try:
        if ids and queue is not None:
            _check_failed(ids, queue, queues.failed_ids(db, queue))
        done = queues.retry_failed(db, _Later(), queue, list(ids) if ids else None)
        status, details = queues.health_report(db)
        waiting = [held_json(db, {})["message"], *(n["message"] for n in notices_json(db))]
    finally:
        db.dispose()
    if as_json:
        click.echo(json.dumps({"requeued": done, "status": status, **details}, indent=2))
        return
    for name, row_ids in done.items():
        click.echo(f"{name}: re-queued {plural(len(row_ids), 'failed row')}" + (f" ({', '.join(map(str, row_ids))})" if row_ids else ""))
    click.echo(f"queues: {status}" + "".join(f"\n  - {reason}" for reason in details["reasons"]))
    for message in filter(None, waiting):  # not failed rows: nothing to re-queue, but the admin should know
        click.echo(f"not re-queued: {message}")


def _check_failed(ids: tuple[int, ...], queue: str, failed: list[int]) -> None:
    """Refuse ``--id`` values that are not failed rows of ``queue`` (nothing is re-queued then), naming those that are.

    Raises:
        click.BadParameter: an id is not a failed row.
    """
    missing = sorted(set(ids) - set(failed))
    if not missing:
        return
    shown = ", ".join(map(str, failed[:10])) + (f" and {len(failed) - 10} more" if len(failed) > 10 else "")
    raise click.BadParameter(f"{', '.join(map(str, missing))}: not a failed {queue} row "
                             f"(failed {queue} rows: {shown or 'none'}); nothing was re-queued", param_hint="'--id'")
