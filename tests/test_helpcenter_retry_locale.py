"""``hub kb sync`` against the Help Center stand-in (tests/standin_helpcenter.py) when Zendesk says "wait" part way
(a 429 or a 503 with ``Retry-After``), and with ``ZENDESK_HC_LOCALE`` set. What is checked is what the KB holds,
what ``hub ask`` quotes, and what the command prints and exits with. The stand-in answers ``Retry-After: 1``, so
each wait is a real second."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from app import build_hub, cli
from config import load_settings
from tests.conftest import settings_dict
from tests.standin_helpcenter import HelpCenterStandin
from tests.test_standins_helpcenter import ENV, EXPORT, cited, hc, live, sync, topic  # noqa: F401 (hc: the stand-in fixture)

LISTING = r"/api/v2/help_center/articles(\.json)?"
BUSY = {"error": "APIRateLimitExceeded", "description": "Number of allowed API requests per minute exceeded"}


def hub_with(url: str, env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env={**ENV, "HUB_DATABASE_URL": url, **env})


def export_starts(hc: HelpCenterStandin) -> list[str]:
    """The ``start_time`` of each export page answered (a fault's answer is in ``hc.met`` only)."""
    return [q["start_time"][0] for _, path, q, _ in hc.calls if "incremental" in path]


@pytest.mark.parametrize("status", [429, 503])
def test_a_retry_after_part_way_is_waited_out_and_the_sync_goes_on(database_url: str, hc: HelpCenterStandin,
                                                                   status: int) -> None:
    """Page 2 of the export and then the id listing answer "wait 1 s": the sync waits and finishes in one run, each
    article read and counted once. Before, it stopped at page 2 (exit 1) and the admin ran it again."""
    ids = [hc.publish(f"Gadget {i}", topic(i)) for i in range(250)]
    hc.fail_later("GET", EXPORT, status, BUSY, {"Retry-After": "1"}, after=1)
    hc.fail_later("GET", LISTING, status, BUSY, {"Retry-After": "1"}, after=1)
    started = time.monotonic()
    result = sync(database_url)
    assert result.exit_code == 0, result.output
    assert time.monotonic() - started >= 2.0  # both waits were waited, not skipped
    assert result.stdout == "zendesk: 250 articles read, 250 new or changed, 0 deleted\n"
    assert sorted(live(database_url)) == sorted(str(i) for i in ids)
    assert [path for _, path, _, outcome in hc.met if outcome == "failed"] == [
        "/api/v2/help_center/incremental/articles.json", "/api/v2/help_center/articles.json"]
    page_2 = str(hc._ts(hc.articles[ids[99]]))  # asked again after the wait, from the stored cursor: the same page
    assert export_starts(hc) == ["0", page_2, str(hc._ts(hc.articles[ids[198]]))]


def test_a_rate_limit_that_outlasts_the_waits_stops_with_one_line_and_the_next_sync_resumes(sqlite_url: str,
                                                                                          hc: HelpCenterStandin) -> None:
    """Zendesk keeps answering 429 from page 2 on: after 3 waits the sync stops (exit 1) with one line naming the
    status, what it stored and that the next sync resumes; the next one reads the rest, nothing counted twice."""
    ids = [hc.publish(f"Gadget {i}", topic(i)) for i in range(250)]
    hc.fail_later("GET", EXPORT, 429, BUSY, {"Retry-After": "1"}, after=1)
    for _ in range(3):  # interceptor.kb.sync.WAITS
        hc.fail_later("GET", EXPORT, 429, BUSY, {"Retry-After": "1"})
    failed = sync(sqlite_url)
    assert failed.exit_code == 1 and isinstance(failed.exception, SystemExit), failed.output
    assert failed.stderr == ("Error: zendesk GET /help_center/incremental/articles.json: rate limited (429), still after "
                             "3 waits; 100 articles read this run are stored (100 new or changed, 0 deleted); the next "
                             "sync resumes from there\n")
    assert sorted(live(sqlite_url)) == sorted(str(i) for i in ids[:100])
    done = sync(sqlite_url)
    assert done.exit_code == 0, done.output
    assert done.stdout == "zendesk: 151 articles read, 150 new or changed, 0 deleted\n"  # the last of page 1 read again
    assert sorted(live(sqlite_url)) == sorted(str(i) for i in ids)


def test_a_retry_after_longer_than_a_minute_stops_at_once(sqlite_url: str, hc: HelpCenterStandin) -> None:
    """A 429 asking for 10 minutes is not slept through: the sync stops at once, saying how long Zendesk asked."""
    [hc.publish(f"Gadget {i}", topic(i)) for i in range(150)]
    hc.fail_later("GET", EXPORT, 429, BUSY, {"Retry-After": "600"}, after=1)
    started = time.monotonic()
    failed = sync(sqlite_url)
    assert failed.exit_code == 1 and time.monotonic() - started < 30
    assert failed.stderr == ("Error: zendesk GET /help_center/incremental/articles.json: rate limited (429), asked to "
                             "wait 600 s (a sync waits at most 60 s); 100 articles read this run are stored (100 new or "
                             "changed, 0 deleted); the next sync resumes from there\n")
    assert len(live(sqlite_url)) == 100


def test_the_scheduled_sync_ends_its_round_instead_of_waiting_and_the_next_round_resumes(
        sqlite_url: str, hc: HelpCenterStandin, caplog: pytest.LogCaptureFixture) -> None:
    """The scheduler's kb.sync job does not sleep through a Retry-After (the round would hold back the scheduler's
    shutdown): it ends, logging what it stored and that the next round resumes, and the next round does."""
    ids = [hc.publish(f"Gadget {i}", topic(i)) for i in range(150)]
    hc.fail_later("GET", EXPORT, 429, BUSY, {"Retry-After": "5"}, after=1)
    zendesk = {key: ENV[key] for key in ("ZENDESK_URL", "ZENDESK_EMAIL", "ZENDESK_API_TOKEN")}
    hub = build_hub(load_settings(settings_dict(sqlite_url, **zendesk, ZENDESK_WEBHOOK_SECRET="s")))
    try:
        (job,) = [func for name, func, _ in hub.scheduled_jobs() if name == "kb.sync"]
        started = time.monotonic()
        with caplog.at_level(logging.ERROR, logger="core.scheduler"):
            assert hub.scheduler.run_once("kb.sync", job)
        assert time.monotonic() - started < 5
        (failure,) = [r for r in caplog.records if r.getMessage() == "scheduler.job.failed"]
        assert failure.exc_info is not None
        assert str(failure.exc_info[1]).endswith("rate limited (429); 100 articles read this run are stored (100 new "
                                                 "or changed, 0 deleted); the next sync resumes from there")
        assert len(live(sqlite_url)) == 100
        assert hub.scheduler.run_once("kb.sync", job)
        assert sorted(live(sqlite_url)) == sorted(str(i) for i in ids)
    finally:
        hub.close()


def test_a_help_center_locale_keeps_only_its_articles(sqlite_url: str, hc: HelpCenterStandin, tmp_path: Path) -> None:
    """Articles in en-us, de and pt-br are stored while no locale is set; with ZENDESK_HC_LOCALE=EN-US (any case) the
    next sync removes the de and pt-br ones (and nothing else: the en-us one, a file imported in German), a German
    article published later is not stored, and German questions are no longer answered from them."""
    en = hc.publish("Reset your password", "<p>Open Settings, then Security, then Reset password.</p>")
    hc.translate(en, "de", "Passwort zurücksetzen", "<p>Öffnen Sie Einstellungen, dann Sicherheit.</p>")
    de = hc.publish("Rechnung herunterladen", "<p>Öffnen Sie Abrechnung und wählen Sie Rechnung herunterladen.</p>",
                    locale="de")
    pt = hc.publish("Alterar o e-mail", "<p>Abra Perfil e escolha Alterar o e-mail.</p>", locale="pt-br")
    (tmp_path / "versand.md").write_text("---\ntitle: Versand ins Ausland\nlocale: de\nurl: https://example.com/versand\n---\n"
                                         "Wir versenden in alle Länder der EU.\n")
    assert hub_with(sqlite_url, {}, "kb", "import", str(tmp_path)).exit_code == 0
    assert sync(sqlite_url).stdout == "zendesk: 3 articles read, 3 new or changed, 0 deleted\n"
    assert cited(sqlite_url, "Wie lade ich die Rechnung herunter?")[0] == hc.articles[de]["html_url"]

    english = {"ZENDESK_HC_LOCALE": "EN-US"}
    hc.edit(en, body="<p>Open Settings, then Security, then Reset password, and confirm by email.</p>")
    result = hub_with(sqlite_url, english, "kb", "sync")
    assert result.exit_code == 0, result.output
    assert result.stdout == "zendesk: 1 article read, 1 new or changed, 2 deleted\n"
    stored = live(sqlite_url)
    assert str(en) in stored and str(de) not in stored and str(pt) not in stored
    assert len(stored) == 2 and any(a.title == "Versand ins Ausland" for a in stored.values())
    assert hc.articles[de]["html_url"] not in cited(sqlite_url, "Wie lade ich die Rechnung herunter?")

    later = hc.publish("Konto löschen", "<p>Öffnen Sie Konto und wählen Sie Löschen.</p>", locale="de")
    again = hub_with(sqlite_url, english, "kb", "sync")
    assert again.exit_code == 0 and again.stdout.endswith(" read, 0 new or changed, 0 deleted\n"), again.output
    assert str(later) not in live(sqlite_url) and len(live(sqlite_url)) == 2
