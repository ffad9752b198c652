"""``hub check``: before the first request, whether the hub can work with what it is configured for.

One line per check, ``ok`` or ``FAIL`` with what to do, in plain words; exit 0 when every check passes, 1
otherwise; ``--json`` for machines. The hub's own part reuses what ``hub`` already knows rather than working it
out again: the database and migration check every command makes (:func:`surfaces.cli.database.check_database`),
the stored KB ``/healthz`` reports (:func:`interceptor.kb.manage.kb_status`), and the stored calibration a
server would serve (:func:`interceptor.retrieval.coldstart.served`: nothing is fitted). Each enabled vendor's
part is its package's ``checks`` hook (:mod:`connectors.checks`), made through the connector's own client and
error mapping, so a vendor that cannot be reached is a FAIL line naming its address, never a traceback.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import click

from connectors.checks import Check
from core.errors import ConfigError
from core.words import plural

log = logging.getLogger("surfaces.cli.check")

# How KBScorer.calibration_source's kinds read (interceptor.retrieval.coldstart.source).
BASIS = {"coldstart": "fitted on the KB's own content", "stored": "fitted on your past tickets (hub kb calibrate)",
         "default": "the shipped default (the KB is too small to calibrate from its own content)"}


@click.command("check")
@click.option("--json", "as_json", is_flag=True, help="print the checks as JSON")
@click.pass_context
def check(ctx: click.Context, as_json: bool) -> None:
    """Check what the hub needs: the database migrated, a knowledge base and its calibration, and, for each
    configured vendor, that its credentials work, the hub's user may do what the hub does there, the
    configured channels or project exist, and its events have a way in. Exits 1 when a check fails."""
    root = logging.getLogger()
    if root.level == logging.WARNING:  # not -v: a failed vendor call is logged too (slack_sdk: as an error),
        root.setLevel(logging.CRITICAL)  # and its FAIL line says it already
    found = run_checks()
    failed = [c for c in found if not c.ok]
    if as_json:
        click.echo(json.dumps({"ok": not failed, "checks": [c.as_dict() for c in found]}, indent=2))
    else:
        for c in found:
            click.echo(f"{'ok' if c.ok else 'FAIL':<4}  {c.area} {c.name}: {c.detail}")
        click.echo(f"{len(failed)} of {len(found)} checks failed" if failed else f"all {len(found)} checks passed")
    ctx.exit(1 if failed else 0)


def run_checks(values: dict[str, Any] | None = None) -> list[Check]:
    """Every check, in order: settings, database, knowledge base, calibration, then each configured vendor's.

    Args:
        values: settings to check instead of the environment's (as :func:`config.load_settings` takes them).
    """
    from config import load_settings

    try:
        settings = load_settings(values)
    except ConfigError as e:
        return [Check("settings", "configuration", False, str(e))]
    return [*hub_checks(settings), *vendor_checks(settings)]


def hub_checks(settings: Any) -> list[Check]:
    """The database (reachable, migrated to the newest schema), the knowledge base and the calibration in use."""
    from sqlalchemy.exc import DBAPIError

    import migrations
    from core.db import Database
    from surfaces.cli.database import cannot_open, check_database, masked

    try:
        check_database(settings)
    except click.ClickException as e:
        return [Check("database", "schema", False, e.message)]
    db = Database(settings.database_url)
    try:
        return [Check("database", "schema", True, f"{masked(settings.database_url)}, migrated to "
                      f"{migrations.head_revision()} (the newest)"), *_knowledge(settings, db)]
    except DBAPIError as e:  # it went away meanwhile
        return [Check("database", "schema", False, cannot_open(settings.database_url, e).message)]
    finally:
        db.dispose()


def _knowledge(settings: Any, db: Any) -> list[Check]:
    """The stored KB's size, and the calibration a server would serve for it, with its threshold."""
    from interceptor.kb.manage import kb_status
    from interceptor.retrieval import coldstart
    from interceptor.retrieval.calibration import Calibrator
    from interceptor.retrieval.dense import dense_installed

    status = kb_status(db)
    if not status.articles:
        return [Check("knowledge base", "articles", False, "no articles: the hub has nothing to answer from; run hub kb "
                      "import PATH (the sample: hub kb import config/sample_kb), or hub kb sync for Zendesk Help Center")]
    sources = ", ".join(f"{n} {name}" for name, n in status.sources.items())
    found = [Check("knowledge base", "articles", True, f"{plural(status.articles, 'article')} ({sources}; "
                   f"{plural(status.passages, 'passage')}), KB version {status.kb_version}")]
    mode = "dense" if settings.dense != "off" and dense_installed() else "lexical"
    with db.session() as s:
        stored, latest = coldstart.stored_for(s, status.kb_version)
    chosen = coldstart.served(stored, latest, mode, status.articles)
    if chosen is None:
        return [*found, Check("knowledge base", "calibration", True, f"none stored for this KB version ({mode} "
                              "retrieval) yet: hub serve fits one from the KB's own content when it starts (or fit "
                              "it on past tickets now: hub kb calibrate FILE)")]
    source = coldstart.source(chosen)
    threshold = Calibrator.from_params(chosen.params["modes"][mode]).threshold_for(settings.target_precision)
    basis = f"{source}, {BASIS[source.partition(':')[0]]}, {mode} retrieval"
    if threshold >= 1.0:
        return [*found, Check("knowledge base", "calibration", False, f"{basis}: no threshold backs precision "
                              f"{settings.target_precision} on its evidence, so every request goes to a person; a "
                              "history of past tickets (hub kb calibrate FILE) or a lower HUB_TARGET_PRECISION lets "
                              "it answer")]
    return [*found, Check("knowledge base", "calibration", True, f"{basis}: threshold {threshold:.3f} for precision "
                          f"{settings.target_precision} (HUB_TARGET_PRECISION)")]


def vendor_checks(settings: Any) -> list[Check]:
    """Each configured vendor's ``checks`` hook, in the registry's order."""
    from connectors import enabled_modules

    built = enabled_modules(settings)
    if not built:
        return [Check("connectors", "vendors", True, "none configured: the hub answers only its web API (/api/v1/ask); "
                      "set SLACK_*, ZENDESK_* or JIRA_* to connect one (README, Configuration)")]
    found: list[Check] = []
    for name, (module, connector) in built.items():
        hook = getattr(module, "checks", None)
        if hook is None:
            found.append(Check(name, "checks", True, "this vendor has no checks"))
            continue
        try:
            found.extend(hook(connector, settings))
        except Exception as e:  # noqa: BLE001 - the command's boundary: a check reports, it never ends in a traceback
            log.exception("cli.check.failed", extra={"vendor": name})
            found.append(Check(name, "checks", False, f"the check itself failed ({type(e).__name__}); hub -v check "
                               "shows the log lines"))
    return found
