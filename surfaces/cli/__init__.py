"""The ``hub`` command (click): :data:`cli` and the console script's :func:`main`."""

from __future__ import annotations

import logging

import click

import migrations
from core.errors import ConfigError
from surfaces.cli.ask import ask
from surfaces.cli.kb import eval_command, kb_group
from surfaces.cli.server import db_group, scheduler, serve, worker
from surfaces.services import build_services
from surfaces.simulate.command import simulate


@click.group()
def cli() -> None:
    """The help-desk hub."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


cli.add_command(ask)
cli.add_command(kb_group(build_services))
cli.add_command(eval_command(migrations.upgrade))
cli.add_command(db_group)
cli.add_command(serve)
cli.add_command(worker)
cli.add_command(scheduler)
cli.add_command(simulate)


def main() -> None:
    """Entry point of the ``hub`` console script; configuration errors end it with their message."""
    try:
        cli(standalone_mode=True)
    except ConfigError as e:
        raise SystemExit(f"configuration error: {e}") from e
