"""``hub metrics clear``: empty the multiprocess metrics directory when a deployment starts."""

from __future__ import annotations

import os
from pathlib import Path

import click

from core.telemetry import MULTIPROC_ENV, clear_shared_dir


@click.group("metrics")
def metrics_group() -> None:
    """The /metrics counts shared by several processes (PROMETHEUS_MULTIPROC_DIR)."""


@metrics_group.command("clear")
def clear() -> None:
    """Create PROMETHEUS_MULTIPROC_DIR, or empty it of a previous deployment's counts. Run it once when a
    deployment starts, before its processes (gunicorn, hub worker, hub scheduler); it refuses while a process
    that counts there still runs, whose counts would vanish from every scrape."""
    path = os.environ.get(MULTIPROC_ENV)
    if not path:
        raise click.ClickException(f"{MULTIPROC_ENV} is not set: a single process (hub serve) needs no directory")
    try:
        live = clear_shared_dir(Path(path))
    except OSError as e:  # a path under a file, a file, a folder of another user's
        raise click.ClickException(f"{MULTIPROC_ENV}={path}: cannot create or empty it ({e.strerror or e}): set it to "
                                   "a folder this user can write in, e.g. /run/hub-metrics") from None
    if live:
        raise click.ClickException(f"{path} holds the counts of running processes ({', '.join(map(str, live))}): "
                                   "stop the hub's processes first, or keep the counts")
    click.echo(f"{MULTIPROC_ENV} {path} is empty")
