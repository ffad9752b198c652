"""The ``hub`` command (click): :data:`cli` and the console script's :func:`main`.

Subcommands are imported when they run (or when ``--help`` lists them), so ``hub ask`` answered by a running
server does not first import the database, migration and web layers.
"""

from __future__ import annotations

import importlib
import logging

import click

from core.errors import ConfigError

# name -> "module:attribute" of the click command
COMMANDS = {
    "ask": "surfaces.cli.ask:ask",
    "db": "surfaces.cli.server:db_group",
    "eval": "surfaces.cli.wiring:eval_command",
    "kb": "surfaces.cli.wiring:kb_command",
    "retry": "surfaces.cli.queues:retry",
    "scheduler": "surfaces.cli.server:scheduler",
    "serve": "surfaces.cli.server:serve",
    "simulate": "surfaces.simulate.command:simulate",
    "worker": "surfaces.cli.server:worker",
}


class LazyGroup(click.Group):
    """A group whose subcommands (:data:`COMMANDS`) are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(COMMANDS))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in COMMANDS and cmd_name not in self.commands:
            module, _, attribute = COMMANDS[cmd_name].partition(":")
            self.add_command(getattr(importlib.import_module(module), attribute), cmd_name)
        return super().get_command(ctx, cmd_name)


@click.group(cls=LazyGroup)
def cli() -> None:
    """The help-desk hub."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


def main() -> None:
    """Entry point of the ``hub`` console script; configuration errors end it with their message."""
    try:
        cli(standalone_mode=True)
    except ConfigError as e:
        raise SystemExit(f"configuration error: {e}") from e
