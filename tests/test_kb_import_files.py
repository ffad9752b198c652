"""Files as an admin's folder really holds them: saved by a Windows editor with a byte order mark, links to
files elsewhere, a binary file under a text file's name; and a Help Center article with a NUL in it."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from click.testing import CliRunner

from connectors.base import KnowledgeArticle
from core import kb
from core.db import Database
from core.html import TextSection
from interceptor.kb.sync import sync_all
from tests.test_kb_import import _stored_articles


def _import(url: str, path: Path) -> tuple[int, str, str]:
    from app import cli

    result = CliRunner().invoke(cli, ["kb", "import", str(path)], env={"HUB_DATABASE_URL": url, "HUB_DENSE": "off"})
    return result.exit_code, result.stdout, result.stderr


def test_a_file_saved_with_a_byte_order_mark_keeps_its_heading_as_title(sqlite_url: str, tmp_path: Path) -> None:
    (tmp_path / "refunds.md").write_text("# Refund policy\r\n\r\nRefunds take 14 days.\r\n", encoding="utf-8-sig")
    (tmp_path / "page.html").write_text("<h1>Opening hours</h1><p>We open at nine.</p>", encoding="utf-8-sig")
    pack = {"format": "helpdesk-bench/v1", "name": "p", "articles": [{"id": "a1", "title": "Plans", "body": "Three plans."}],
            "queries": []}
    (tmp_path / "pack").mkdir()
    (tmp_path / "pack" / "pack.json").write_text(json.dumps(pack), encoding="utf-8-sig")
    code, out, err = _import(sqlite_url, tmp_path)
    assert code == 0 and err == "", err  # no "no title" warning: the heading was found
    stored = {a.title: a for a in _stored_articles(sqlite_url)}
    assert sorted(stored) == ["Opening hours", "Plans", "Refund policy"]
    assert stored["Refund policy"].passages == (kb.KBPassage("Refunds take 14 days."),)
    assert not any("\ufeff" in p.text for a in stored.values() for p in a.passages)


def test_links_in_a_folder_are_named_and_bring_nothing_in_from_outside(sqlite_url: str, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "secrets.md").write_text("# Tokens\n\nSLACK_BOT_TOKEN=xoxb-not-for-anyone\n", encoding="utf-8")
    folder = tmp_path / "kb"
    (folder / "guides").mkdir(parents=True)
    (folder / "guides" / "export.md").write_text("# Export a report\n\nOpen Reports, then Export.\n", encoding="utf-8")
    (folder / "tokens.md").symlink_to(outside / "secrets.md")
    (folder / "more").symlink_to(outside, target_is_directory=True)
    (folder / "latest.md").symlink_to(folder / "guides" / "export.md")
    code, out, err = _import(sqlite_url, folder)
    assert code == 0, err
    [article] = _stored_articles(sqlite_url)
    assert article.external_id == "guides/export.md"  # once, under its own name
    assert err.splitlines() == [
        "warning: latest.md: a link to guides/export.md, which is imported under its own name",
        "warning: more: a link to a folder outside the folder: not read (an article is quoted to anyone who asks; "
        "copy the folder in to import it)",
        "warning: tokens.md: a link to a file outside the folder: not read (an article is quoted to anyone who asks; "
        "copy the file in to import it)",
    ]
    assert out.startswith("imported 1 article from")


def test_a_binary_file_under_a_text_name_is_refused_by_name(sqlite_url: str, tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("# Alpha\n\nAlpha is about llamas.\n", encoding="utf-8")
    (tmp_path / "logo.md").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")  # \x89 alone: not UTF-8
    code, _, err = _import(sqlite_url, tmp_path)
    assert code == 1 and "logo.md: not UTF-8 text" in err
    (tmp_path / "logo.md").write_bytes(b"# Logo\n\n\x00\x00\x00\x01 valid UTF-8, still binary")
    code, _, err = _import(sqlite_url, tmp_path)
    assert code == 1 and err == (f"Error: {tmp_path / 'logo.md'}: holds NUL bytes, so it is not text (a binary file "
                                 "named .md?); nothing was imported\n")
    assert _stored_articles(sqlite_url) == []


class _HelpCenter:
    """A knowledge source giving its articles at every sync, whatever cursor it is asked from."""

    def __init__(self, articles: list[KnowledgeArticle]) -> None:
        self.articles = articles

    def fetch_articles(self, since: datetime | None) -> Iterator[KnowledgeArticle]:
        yield from self.articles


def test_a_help_center_article_with_a_nul_is_stored_without_it(database_url: str) -> None:
    # PostgreSQL text holds no NUL: the insert failed, and with it every sync of the source.
    nul = KnowledgeArticle("9", "Re\x00funds", "Refunds take\x00 14 days.", "https://hc/9", "en", "Billing",
                           datetime(2026, 1, 1, tzinfo=timezone.utc),
                           sections=(TextSection(("Time\x00s",), "Refunds take\x00 14 days."),))
    plain = KnowledgeArticle("10", "Plans", "Three plans.", "https://hc/10", "en", "Billing",
                             datetime(2026, 1, 2, tzinfo=timezone.utc))
    db = Database(database_url)
    try:
        [report] = sync_all(db, {"zendesk": _HelpCenter([nul, plain])})
        assert (report.seen, report.changed) == (2, 2)
        [again] = sync_all(db, {"zendesk": _HelpCenter([nul])})
        assert again.changed == 0  # stored as cleaned, compared as cleaned: no rewrite every sync
        with db.session() as s:
            stored = {a.external_id: a for a in kb.load_articles(s)}
    finally:
        db.dispose()
    assert sorted(stored) == ["10", "9"]
    assert stored["9"].title == "Refunds"
    assert stored["9"].passages == (kb.KBPassage("Refunds take 14 days.", ("Times",)),)


def test_front_matter_numbers_are_read_as_text(database_url: str, tmp_path: Path) -> None:
    # YAML reads `url: 2024` as a number: it reached the store as one (a traceback once text was cleaned there)
    (tmp_path / "plans.md").write_text("---\ntitle: 2024\nurl: 55\nlocale: 1\nsection: 2\ntags: [1, 2]\n---\nThree plans.\n",
                                       encoding="utf-8")
    code, _, err = _import(database_url, tmp_path)
    assert code == 0, err
    [article] = _stored_articles(database_url)
    assert (article.title, article.url, article.tags) == ("2024", "55", ("1", "2"))
