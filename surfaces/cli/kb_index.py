"""``hub kb index``: build the retrieval index now, embedding what is not embedded yet, and say what a Ctrl-C
part way kept (the embedder stores its vectors in the database a chunk at a time, so nothing stored is lost).

:mod:`surfaces.cli.kb` adds it to the ``kb`` group; :class:`Interrupted` is the exit every ``kb`` command
that can be stopped part way ends with.
"""

from __future__ import annotations

import logging
import time

import click

from config import load_settings
from core.db import Database
from core.words import plural
from surfaces.cli.database import uses_database


class Interrupted(click.ClickException):
    """Ctrl-C part way through a command: one line saying what it kept and how to finish, not "Aborted!"."""

    exit_code = 130  # as a shell reports a command stopped by SIGINT


class _EmbeddingProgress(logging.Handler):
    """Echoes the embedder's progress events (``interceptor.dense.progress``) as lines an admin reads, and
    with ``warnings`` (the logger does not propagate meanwhile) its warnings and errors too. Keeps the last
    event's counts: what a Ctrl-C leaves stored."""

    def __init__(self, *, warnings: bool) -> None:
        super().__init__()
        self.warnings = warnings
        self.embedded = 0  # texts embedded and stored by this run so far
        self.of = 0  # of how many this run had to embed (0: no progress reported yet)

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage() == "interceptor.dense.progress":
            self.embedded, self.of = int(getattr(record, "embedded", 0)), int(getattr(record, "of", 0))
            click.echo(f"  {self.embedded}/{self.of} texts embedded", err=True)
        elif self.warnings and record.levelno >= logging.WARNING:
            click.echo(f"{record.levelname.lower()}: {record.getMessage()}", err=True)

    def interrupted(self) -> Interrupted:
        """Say what the vectors of this run that are stored come to, and that the same command finishes."""
        if not self.embedded:
            return Interrupted("interrupted before this run stored any vector (those stored earlier are kept): run "
                               "`hub kb index` again to build the index")
        if self.embedded < self.of:
            return Interrupted(f"interrupted: {self.embedded} of the {self.of} texts to embed were embedded and their "
                               f"vectors stored, the rest not: run `hub kb index` again to embed the other "
                               f"{self.of - self.embedded} (what is stored is not embedded again)")
        return Interrupted(f"interrupted after all {self.of} texts were embedded and their vectors stored, before the "
                           "index was finished: run `hub kb index` again to finish it (nothing is embedded again)")


def index_command() -> click.Command:
    """Return the ``kb index`` command."""

    @click.command("index")
    @uses_database()
    def kb_index() -> None:
        """Build the retrieval index now, embedding every text not embedded yet. The vectors are stored in
        the database, so the server and every worker then start in seconds: run it after importing a large
        KB, before starting many processes. Stopped part way (Ctrl-C), it keeps what it stored and the same
        command carries on from there."""
        from interceptor.retrieval.scorer import build_scorer

        settings = load_settings()
        db = Database(settings.database_url)
        dense_log = logging.getLogger("interceptor.retrieval.dense")
        quiet = not logging.getLogger().isEnabledFor(logging.INFO)  # without -v: progress lines, not log lines
        progress = _EmbeddingProgress(warnings=quiet)
        dense_log.addHandler(progress)
        if quiet:
            dense_log.setLevel(logging.INFO)
            dense_log.propagate = False
        started = time.perf_counter()
        try:
            scorer = build_scorer(settings, db)
        except KeyboardInterrupt:
            raise progress.interrupted() from None
        finally:
            dense_log.removeHandler(progress)
            dense_log.setLevel(logging.NOTSET)
            dense_log.propagate = True
            db.dispose()
        status = scorer.status
        how = f"hybrid (BM25 + {scorer.model}, {status['precision']})" if scorer.mode == "dense" else "lexical only"
        click.echo(f"indexed {plural(status['articles'], 'article')} ({plural(len(scorer.index.texts), 'unit')}) in "
                   f"{time.perf_counter() - started:.1f} s: {how}; KB {scorer.kb_version}")

    return kb_index
