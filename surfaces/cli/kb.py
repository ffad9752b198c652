"""The ``hub kb ...`` (import, list, remove, calibrate, sync; ``index`` is :mod:`surfaces.cli.kb_index`) and
``hub eval`` commands; the KB logic they call lives in ``interceptor.kb`` (``importer``, ``manage``, ``sync``).

:mod:`surfaces.cli` registers them and hands in ``build_services`` for the configured connectors (``kb sync``)
and the migration runner (``eval``'s temporary KB).
Commands read settings from the environment (``config.load_settings()``).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, Callable

import click

from config import load_settings
from core.db import Database
from core.errors import HubError
from core.words import plural
from surfaces.cli.database import uses_database
from surfaces.cli.kb_index import Interrupted, index_command


def _progress(seen: int, changed: int, total: int) -> None:
    if total >= 200:
        click.echo(f"  {seen}/{total} articles read, {changed} changed", err=True)


def kb_group(build_hub: Callable[[Any], Any]) -> click.Group:
    """Return the ``kb`` command group.

    Args:
        build_hub: :func:`surfaces.services.build_services`; ``kb sync`` uses the configured connectors.
    """

    @click.group("kb")
    def kb() -> None:
        """Knowledge-base commands."""

    @kb.command("import")
    @click.argument("path", type=click.Path(exists=True, path_type=Path))
    @click.option("--force", is_flag=True, help="Also import files that are clearly not help articles "
                  "(a README or developer docs without front matter).")
    @uses_database()
    def kb_import(path: Path, force: bool) -> None:
        """Import Markdown (front matter: title, url, tags), HTML, or a bench pack's pack.json from PATH.
        Markdown without front matter that is clearly not a help article is skipped (the reason is printed)
        unless --force; a file without a title is imported with a warning."""
        from interceptor.kb.importer import KBImportError, articles_at, import_articles

        skipped: list[str] = []

        def notice(n: Any) -> None:
            click.echo(str(n), err=True)
            if n.kind == "skipped":
                skipped.append(n.path)

        stored = [0, 0]  # articles committed so far (a batch a transaction), of how many

        def progress(seen: int, changed: int, total: int) -> None:
            stored[:] = [seen, total]
            _progress(seen, changed, total)

        db = _database(load_settings())
        try:
            report = import_articles(db, articles_at(path, force=force, on_notice=notice), progress=progress)
        except KBImportError as e:  # every file is read before the first is stored
            raise click.ClickException(f"{e}; nothing was imported") from e
        except KeyboardInterrupt:  # the batch in flight is rolled back; the ones before it are stored
            raise _interrupted(*stored) from None
        except HubError as e:
            raise click.ClickException(str(e)) from e
        finally:
            db.dispose()
        if not report.seen and not skipped:  # an empty folder, a folder of other files, a pack without articles
            raise click.ClickException(f"found no articles in {path}: hub kb import reads Markdown (.md, .markdown), "
                                       "HTML (.html, .htm) and a bench pack's pack.json")
        click.echo(f"imported {plural(report.seen, 'article')} from {path}: {report.changed} new or changed, "
                   f"{report.unchanged} unchanged" + (f"; skipped {len(skipped)} (--force imports them)" if skipped else ""))

    @kb.command("list")
    @click.option("--source", default=None, help="Only this source: markdown, html, pack, zendesk_hc, ...")
    @click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
    @uses_database()
    def kb_list(source: str | None, as_json: bool) -> None:
        """List the live articles: id, source:where each came from, title, [sections, passages] and URL."""
        from interceptor.kb.manage import kb_status, list_articles

        db = _database(load_settings())
        try:
            articles, status = list_articles(db, source=source), kb_status(db)
        finally:
            db.dispose()
        if source and not articles:
            raise _unknown_source(source, status.sources)
        for a in articles:
            if as_json:
                click.echo(json.dumps({"id": a.id, "source": a.source, "external_id": a.external_id, "title": a.title,
                                       "url": a.url, "sections": a.sections, "passages": a.passages,
                                       "updated_at": a.updated_at.isoformat()}))
            else:
                click.echo(f"{a.id:>6}  {a.source}:{a.external_id}  {a.title}  "
                           f"[{plural(a.sections, 'section')}, {plural(a.passages, 'passage')}]" + (f"  {a.url}" if a.url else ""))
        if not as_json:
            click.echo(plural(len(articles), "article") + (f" from {source}" if source else "")
                       + f" (KB {status.kb_version}: {plural(status.articles, 'article')}, "
                       f"{plural(status.passages, 'passage')})", err=True)

    @kb.command("remove")
    @click.argument("refs", nargs=-1)
    @click.option("--source", default=None, help="Remove every article of this source (markdown, html, pack, ...).")
    @uses_database()
    def kb_remove(refs: tuple[str, ...], source: str | None) -> None:
        """Remove articles by REFS (a hub id, a URL, or the path or id an article was imported from, as
        `hub kb list` shows them) and/or every article of --source. A running server drops them within
        seconds; importing the file again brings an article back."""
        from interceptor.kb.manage import kb_status, remove_articles

        if not refs and not source:
            raise click.UsageError("name at least one article (id, URL or path) or a --source")
        db = _database(load_settings())
        try:
            sources = kb_status(db).sources
            if source and source not in sources:
                raise _unknown_source(source, sources)
            removed = remove_articles(db, refs, source=source)
        except HubError as e:
            raise click.ClickException(str(e)) from e
        finally:
            db.dispose()
        for a in removed:
            click.echo(f"removed {a.id} {a.source}:{a.external_id}  {a.title}")
        click.echo(f"{plural(len(removed), 'article')} removed")

    kb.add_command(index_command())

    @kb.command("calibrate")
    @click.argument("file", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--reset", is_flag=True, help="Forget the history an earlier calibrate stored (its past tickets' "
                  "questions and the calibration fitted on them): the threshold rests on the KB's own content again.")
    @uses_database()
    def kb_calibrate(file: Path | None, reset: bool) -> None:
        """Fit the confidence calibration on FILE: past tickets (JSONL or CSV: text, article, optionally
        sections) with the article that solved them, empty article for none, and the sections whose text
        answered them (section ids, or heading paths such as "Reset your password › If you sign in with SSO",
        or the article's title for its opening section; ";"-separated in CSV). Solved ones also become the
        articles' questions; the sections teach the hub which passage to quote. With --reset instead of FILE:
        go back to the calibration the hub makes from the KB's own content. A running server serves the
        result within seconds."""
        from core.kb import history_stored, load_calibration
        from interceptor.retrieval.history import read_history
        from interceptor.retrieval.scorer import build_scorer

        if reset and file is not None:
            raise click.UsageError("--reset takes no FILE: it forgets the stored history instead of fitting one")
        if not reset and file is None:
            raise click.UsageError("give a history FILE to calibrate on, or --reset to go back to the KB's own calibration")
        settings = load_settings()
        db = _database(settings)
        try:
            if file is None:
                with db.session() as s:
                    questions, kept = history_stored(s)
                scorer = build_scorer(settings, db)
                with db.session() as s:  # a cold start reused from a KB version about this size is not this KB's own
                    refit = load_calibration(s, scorer.kb_version) is None
                removed = scorer.forget_history() if questions or kept or refit else None
            else:
                labelled = read_history(file)
                _check_articles(db, labelled)
                scorer = build_scorer(settings, db)
                calibrator = scorer.calibrate(labelled, provenance=f"hub kb calibrate {file.name}: {plural(len(labelled), 'past ticket')}")
        except (HubError, ValueError) as e:
            raise click.ClickException(str(e)) from e
        finally:
            db.dispose()
        report = scorer.threshold_report(settings.target_precision)
        if file is not None:
            click.echo(f"calibrated on {plural(calibrator.examples, 'past ticket')} "
                       f"({plural(calibrator.positives, 'right top answer')}); "
                       f"{_threshold_sentence(report, settings.target_precision)} (KB {scorer.kb_version})")
            return
        done = ("no past-ticket history is stored, nothing to forget" if removed is None else
                f"forgot the past-ticket history (the calibration fitted on it, and its {removed} solved tickets "
                f"stored as the articles' questions)" if questions or kept else
                "no past-ticket history is stored; the calibration served was fitted on an earlier version of the KB, "
                "so it was fitted again on this one")
        basis, examples = _kb_only(scorer.calibration_source)
        click.echo(f"{done}; {basis}; {_threshold_sentence(report, settings.target_precision, examples)} "
                   f"(KB {scorer.kb_version})")

    @kb.command("sync")
    @uses_database()
    def kb_sync() -> None:
        """Pull every configured knowledge source (for example Zendesk Help Center) incrementally, waiting out a
        source's Retry-After (at most a minute, three times a source) before it stops."""
        from interceptor.kb.sync import WAITS, sync_all

        hub = build_hub(load_settings())
        try:
            reports = sync_all(hub.db, hub.connectors, waits=WAITS)
        except HubError as e:
            raise click.ClickException(str(e)) from e
        finally:
            hub.close()
        if not reports:
            raise _no_knowledge_source(sorted(hub.connectors))
        for r in reports:
            click.echo(f"{r.connector}: {plural(r.seen, 'article')} read, {r.changed} new or changed, {r.deleted} deleted")

    return kb


def _fraction(_ctx: click.Context, _param: click.Parameter, value: str | None) -> float | None:
    """``--target-precision`` read as ``HUB_TARGET_PRECISION`` is (:class:`config.policies.Fraction`): "95" is refused
    saying it is a fraction, e.g. 0.95."""
    from marshmallow import ValidationError

    from config.policies import Fraction

    if value is None:
        return None
    try:
        return float(Fraction(0.5).deserialize(value))
    except ValidationError as e:
        raise click.BadParameter(" ".join(map(str, e.messages))) from e


def eval_command(prepare_database: Callable[[str], None]) -> click.Command:
    """Return the ``eval`` command.

    Args:
        prepare_database: creates the schema at a database URL (``migrations.upgrade``).
    """

    @click.command("eval")
    @click.argument("pack_dir", type=click.Path(exists=True, path_type=Path))
    @click.option("--json", "as_json", is_flag=True, help="Print only the metrics JSON.")
    @click.option("--target-precision", default=None, callback=_fraction,
                  help="Precision the threshold is chosen for, a fraction from 0.5 to 1 (default: HUB_TARGET_PRECISION, 0.95).")
    @click.option("--no-history", is_flag=True,
                  help="Ignore the calibration split: the KB calibrates from its own content (a fresh install).")
    @click.option("--details", type=click.Path(dir_okay=False, path_type=Path), default=None,
                  help="Write one JSON line per test query: id, verdict, article_id, section_id, confidence, passage.")
    def eval_pack(pack_dir: Path, as_json: bool, target_precision: float | None, no_history: bool,
                  details: Path | None) -> None:
        """Measure answer quality on a bench pack (helpdesk-bench/v1 or v2): a fresh temporary KB, calibrated
        on the pack's calibration split (or on its own content with --no-history), every test query through
        the real decision path. Prints the metrics as JSON (v2 packs: answer_precision, answer_coverage too)."""
        from interceptor.evaluate import evaluate

        if details is not None and not (details.parent.is_dir() and os.access(details.parent, os.W_OK)):
            raise click.BadParameter(f"{details.parent} is not a folder this command can write in: the per-query "
                                     "lines would be lost after the whole run", param_hint="'--details'")
        settings = load_settings()
        target = target_precision if target_precision is not None else settings.target_precision
        say = None if as_json else (lambda line: click.echo(line, err=True))
        try:
            result = evaluate(pack_dir, settings, prepare_database, target_precision=target,
                              no_history=no_history, details=details, progress=say)
        except HubError as e:
            raise click.ClickException(str(e)) from e
        for warning in result["pack_warnings"]:  # on stderr: --json keeps stdout one JSON document
            click.echo(f"warning: {warning}", err=True)
        if not as_json:
            t = result["test"]
            click.echo(f"{result['pack']}: precision {t['precision']}, coverage {t['coverage']}, "
                       f"null let through {t['null_let_through']}, top-1 {t['top1_accuracy']}"
                       + (f"; answer precision {t['answer_precision']}, answer coverage {t['answer_coverage']}"
                          if "answer_precision" in t else ""), err=True)
        json.dump(result, sys.stdout, indent=1)
        sys.stdout.write("\n")

    return eval_pack


def _interrupted(stored: int, total: int) -> click.ClickException:
    """Ctrl-C during ``hub kb import``: what is in the KB now, and how to finish."""
    if not stored:
        return Interrupted("interrupted before any article was stored: nothing was imported")
    return Interrupted(f"interrupted: {stored} of {total} articles were stored, the rest not (a running server serves "
                        "those now): run the same `hub kb import` again to finish; the stored ones are skipped as unchanged")


def _unknown_source(source: str, sources: dict[str, int]) -> click.BadParameter:
    """The usage error for a ``--source`` no live article has, naming the sources that have some."""
    known = ", ".join(f"{name} ({plural(n, 'article')})" for name, n in sources.items())
    return click.BadParameter(f"no articles from source {source!r}; " +
                              (f"sources: {known}" if known else "the knowledge base is empty (hub kb import PATH)"),
                              param_hint="'--source'")


def _no_knowledge_source(connected: list[str]) -> click.ClickException:
    """The error for ``hub kb sync`` with nothing to sync: which settings turn a knowledge source on."""
    from config.settings import vendor_specs
    from interceptor.kb.sync import SOURCE_LABELS

    how = "; or ".join(f"{' + '.join(spec.required)} for {SOURCE_LABELS[spec.name]}"
                       for spec in vendor_specs() if spec.name in SOURCE_LABELS)
    which = (f"none of the configured connectors ({', '.join(connected)}) is a knowledge source" if connected
             else "no knowledge source is configured")
    return click.ClickException(f"{which}: set {how} (environment or the HUB_CONFIG file; see docs/connectors/), "
                                "or import files with `hub kb import PATH`")


def _database(settings: Any) -> Database:
    """The configured database (:func:`uses_database` checked that it is there and migrated)."""
    return Database(settings.database_url)


def _check_articles(db: Database, labelled: list[Any]) -> None:
    """Say which articles a history names that the KB does not have: a past request whose article is not
    there can never be answered right, so it only counts against the answers.

    Raises:
        click.ClickException: the KB has none of them (the ids are not the KB's external ids).
    """
    from core import kb

    named = sorted({item.article for item in labelled if item.article})
    with db.session() as s:
        known = kb.find_article_ids(s, named)
    unknown = [article for article in named if article not in known]
    if not unknown:
        return
    shown = ", ".join(unknown[:5]) + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
    how = "`article` is an article's external id, as `hub kb list` shows it after the source (e.g. reset-your-password.md)"
    if not known:
        which = "the article the history names is not" if len(named) == 1 else \
            f"none of the {len(named)} articles the history names is"
        raise click.ClickException(f"{which} in the knowledge base ({shown}): {how}")
    rows = sum(1 for item in labelled if item.article in unknown)
    names, count = ("names an article", "it counts") if rows == 1 else ("name articles", "they count")
    click.echo(f"warning: {plural(rows, 'past ticket')} {names} that {'is' if len(unknown) == 1 else 'are'} not in the "
               f"knowledge base ({shown}); {count} as answered wrong: {how}", err=True)


def _kb_only(source: str) -> tuple[str, str]:
    """Say what a calibration without history (``KBScorer.calibration_source``) rests on, and what its
    threshold report counts."""
    if source.startswith("coldstart:"):
        return "the calibration rests on the KB's own content", "the KB's own pseudo-requests"
    return ("the KB is too small to calibrate from its own content, so the hub uses its shipped default "
            "calibration (fitted on BANKING77)", "the default calibration's requests")


def _threshold_sentence(report: dict[str, Any], target: float, examples: str = "these past tickets") -> str:
    """Say what the threshold for ``target`` rests on (``KBScorer.threshold_report``), or that none is backed.

    Args:
        report: the threshold report.
        target: the target precision.
        examples: what the report's ``answered`` counts (a history's past tickets, or the KB's pseudo-requests).
    """
    if report["threshold"] >= 1.0:
        more = "a longer history" if examples == "these past tickets" else "a history of past tickets (hub kb calibrate FILE)"
        return (f"no threshold backs precision {target} on this evidence, so the hub answers nothing at it and "
                f"every request goes to a person ({more}, or a lower HUB_TARGET_PRECISION, lets it answer)")
    prior = (f" and {report['prior_answered']} of the KB's own pseudo-requests (precision {report['prior_precision']})"
             if report.get("prior_answered") else "")
    return (f"threshold for precision {target}: {report['threshold']:.3f}; at it {report['answered']} of {examples} "
            f"would have been answered (precision {report['precision']}){prior}, precision at least "
            f"{report['lower_bound']} with {report['level']:.0%} confidence")
