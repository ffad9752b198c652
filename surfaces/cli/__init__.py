"""The ``hub`` command (click): :data:`cli` and the console script's :func:`main`.

Subcommands are imported when they run (or when ``--help`` lists them), so ``hub ask`` answered by a running
server does not first import the database, migration and web layers.
"""

from __future__ import annotations

import atexit
import importlib
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path

import click

from core.errors import ConfigError
from core.processes import running
from surfaces.cli.logs import configure as configure_logs

# name -> "module:attribute" of the click command
COMMANDS = {
    "ask": "surfaces.cli.ask:ask",
    "check": "surfaces.cli.check:check",
    "db": "surfaces.cli.server:db_group",
    "eval": "surfaces.cli.wiring:eval_command",
    "kb": "surfaces.cli.wiring:kb_command",
    "metrics": "surfaces.cli.metrics:metrics_group",
    "retry": "surfaces.cli.queues:retry",
    "scheduler": "surfaces.cli.server:scheduler",
    "serve": "surfaces.cli.server:serve",
    "simulate": "surfaces.simulate.command:simulate",
    "slack-manifest": "surfaces.cli.slack_manifest:slack_manifest",
    "worker": "surfaces.cli.server:worker",
}


class LazyGroup(click.Group):
    """A group whose subcommands (:data:`COMMANDS`) are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(COMMANDS))

    def resolve_command(self, ctx: click.Context, args: list[str]) -> tuple[str | None, click.Command | None, list[str]]:
        if args and args[0] == "serve":  # before its module, and so prometheus_client, is imported
            share_serve_metrics()
        return super().resolve_command(ctx, args)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in COMMANDS and cmd_name not in self.commands:
            module, _, attribute = COMMANDS[cmd_name].partition(":")
            self.add_command(getattr(importlib.import_module(module), attribute), cmd_name)
        return super().get_command(ctx, cmd_name)


def share_serve_metrics() -> None:
    """``hub serve`` counts in two processes (the web process, and the worker process that decides and writes
    to vendors): unless ``PROMETHEUS_MULTIPROC_DIR`` is set, give both a private one, removed when it exits, so
    that ``/metrics`` sums them (:mod:`core.telemetry`). Only while prometheus_client is not imported yet (it
    picks its mode then; a test that invokes the command in-process keeps counting in memory). A ``hub serve``
    stopped by a signal leaves its directory behind; the next one removes it."""
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ or "prometheus_client" in sys.modules:
        return
    try:
        base = Path(tempfile.gettempdir())  # TMPDIR, else /tmp, ...: the first one that is writable
        for left in base.glob("hub-metrics-*"):
            pid = left.name.rpartition("-")[2]
            try:
                if pid.isdigit() and left.stat().st_uid == os.getuid() and not running(int(pid)):
                    shutil.rmtree(left, ignore_errors=True)
            except OSError:  # removed meanwhile by another hub serve
                continue
        path = base / f"hub-metrics-{os.getpid()}"
        shutil.rmtree(path, ignore_errors=True)  # a dead process's, with the id this one got
        path.mkdir(mode=0o700)
    except OSError as e:  # no writable temporary folder at all: serve anyway, each process counting alone
        click.echo(f"warning: no writable temporary folder for the metrics of hub serve's two processes "
                   f"({f'{e.filename}: {e.strerror}' if e.filename and e.strerror else e}): /metrics counts the web process only; set TMPDIR to a writable folder, "
                   "or PROMETHEUS_MULTIPROC_DIR", err=True)
        return
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(path)  # inherited by the worker process, forked or spawned
    atexit.register(shutil.rmtree, path, ignore_errors=True)


QUIET_ENV = {"TQDM_DISABLE": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1", "TRANSFORMERS_VERBOSITY": "error"}
# the commands that run until stopped: their log is what an operator reads; the others print what they did
SERVICES = frozenset({"serve", "worker", "scheduler"})


@click.group(cls=LazyGroup)
@click.option("-v", "--verbose", is_flag=True, help="Log lines (INFO) for every command, not only serve, worker and "
              "scheduler, and the model libraries' progress bars.")
@click.pass_context
def cli(ctx: click.Context, verbose: bool) -> None:
    """The help-desk hub.

    Raises:
        ConfigError: ``HUB_LOG_LEVEL`` is not a level (:func:`config.logs.read_log_levels`), for every command.
    """
    configure_logs(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    if ctx.invoked_subcommand in SERVICES:  # an operator reads their log
        logging.getLogger().setLevel(logging.INFO)
    apply_hub_log_level()
    if verbose:
        verbose_logs()
        return
    for name, value in QUIET_ENV.items():  # the model libraries' progress bars and notices, unless asked for
        if name not in os.environ:
            os.environ[name] = value
            _QUIETED.append(name)


_QUIETED: list[str] = []  # the QUIET_ENV names this process set (not the caller's own)


def apply_hub_log_level() -> None:
    """Set the levels ``HUB_LOG_LEVEL`` asks for (:func:`surfaces.log_levels.apply_log_levels`), read alone: every
    command honours it, and one that reads no other setting does not start to. Unset, nothing is read or imported.

    Raises:
        ConfigError: it is not a level.
    """
    if not (os.environ.get("HUB_LOG_LEVEL") or os.environ.get("HUB_CONFIG")):
        return
    from config.logs import read_log_levels
    from surfaces.log_levels import apply_log_levels

    apply_log_levels(read_log_levels(os.environ))


def verbose_logs() -> None:
    """Log INFO lines at least (DEBUG ones too where ``HUB_LOG_LEVEL`` asks), and let the model libraries show their
    progress bars."""
    root = logging.getLogger()
    root.setLevel(min(root.level, logging.INFO))
    while _QUIETED:
        os.environ.pop(_QUIETED.pop(), None)


def main() -> None:
    """Entry point of the ``hub`` console script; configuration errors end it with their message, under the
    ``Error:`` every other refusal of a command has (click's)."""
    try:
        cli(standalone_mode=True)
    except ConfigError as e:
        raise SystemExit(f"Error: {e}") from e
