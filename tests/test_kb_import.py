"""Importers (Markdown front matter, HTML, bench packs), re-import without re-index work, and KB sync."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import pytest
from click.testing import CliRunner

from connectors.base import KnowledgeArticle
from core import kb
from core.cursors import get_cursor
from core.db import Database
from interceptor.kb.importer import articles_at, import_articles, parse_html, parse_markdown
from interceptor.kb.sync import sync_all
from core.html import TextSection
from interceptor.kb.sections import section_passages, split_passages
from interceptor.retrieval.scorer import KBScorer

MARKDOWN = """---
title: Reset your password
url: https://help.example/reset
tags: [account, login]
---
If you forgot your password, use the reset link.

## If the email does not arrive

Check your spam folder.
"""


def test_markdown_front_matter_sets_title_url_and_tags() -> None:
    article = parse_markdown(MARKDOWN, "reset.md")
    assert (article.title, article.url, article.tags) == ("Reset your password", "https://help.example/reset",
                                                          ("account", "login"))
    assert article.external_id == "reset.md"
    assert article.passages == (kb.KBPassage("If you forgot your password, use the reset link."),
                                kb.KBPassage("Check your spam folder.", ("If the email does not arrive",)))


def test_markdown_without_front_matter_takes_the_first_heading_as_title() -> None:
    article = parse_markdown("# Export reports\n\nUse the Export button.\n", "export.md")
    assert article.title == "Export reports"
    assert article.body == "Use the Export button."


def test_html_takes_the_title_and_the_visible_text() -> None:
    html = ("<html><head><title>Connect Slack</title><style>p{}</style></head><body><nav>Menu</nav>"
            "<h1>Connect Slack</h1><p>Open <b>Settings</b>.</p><script>x()</script><p>Click Connect.</p></body></html>")
    article = parse_html(html, "slack.html")
    assert article.title == "Connect Slack"
    assert article.body == "Open Settings .\n\nClick Connect." or article.body == "Open Settings.\n\nClick Connect."
    assert "Menu" not in article.body and "x()" not in article.body


def test_long_paragraphs_are_cut_into_passages() -> None:
    body = " ".join(f"Sentence number {i} is here." for i in range(100))
    passages = split_passages(body, max_words=50)
    assert len(passages) > 1 and all(len(p.split()) <= 50 for p in passages)
    assert " ".join(passages).split() == body.split()
    [only] = {p.heading_path for p in section_passages([TextSection(("Long",), body)], max_words=50)}
    assert only == ("Long",)  # every piece of a long section keeps the section's heading path


def _write_folder(root: Path) -> None:
    (root / "guides").mkdir(parents=True)
    (root / "README.md").write_text("# About this folder\n", encoding="utf-8")
    (root / "reset.md").write_text(MARKDOWN, encoding="utf-8")
    (root / "guides" / "slack.html").write_text("<title>Connect Slack</title><p>Click Connect.</p>", encoding="utf-8")
    pack = {"format": "helpdesk-bench/v1", "name": "tiny", "articles": [
        {"id": "card", "title": "Card delivery", "body": "", "questions": ["where is my card?"]}], "queries": []}
    (root / "pack.json").write_text(json.dumps(pack), encoding="utf-8")


def test_a_folder_imports_markdown_html_and_packs_but_not_its_readme(tmp_path: Path) -> None:
    _write_folder(tmp_path / "kb")
    found = {a.external_id: a for a in articles_at(tmp_path / "kb")}
    assert sorted(found) == ["card", "guides/slack.html", "reset.md"]
    assert found["card"].questions == ("where is my card?",)
    assert found["card"].source == "pack"


def test_reimporting_unchanged_content_does_no_reindex_work(sqlite_url: str, tmp_path: Path) -> None:
    _write_folder(tmp_path / "kb")
    db = Database(sqlite_url)
    try:
        assert import_articles(db, articles_at(tmp_path / "kb")).changed == 3
        scorer = KBScorer(db, None)
        version = scorer.kb_version
        report = import_articles(db, articles_at(tmp_path / "kb"))
        assert (report.seen, report.changed, report.unchanged) == (3, 0, 3)
        scorer._checked = 0.0  # skip the once-a-second throttle
        assert scorer.refresh() is False
        assert scorer.kb_version == version
        (tmp_path / "kb" / "reset.md").write_text(MARKDOWN + "\nNew paragraph.\n", encoding="utf-8")
        assert import_articles(db, articles_at(tmp_path / "kb")).changed == 1
        scorer._checked = 0.0
        assert scorer.refresh() is True and scorer.kb_version != version
    finally:
        db.dispose()


def test_kb_import_command_reports_counts(sqlite_url: str, tmp_path: Path, monkeypatch: object) -> None:
    from app import cli

    _write_folder(tmp_path / "kb")
    env = {"HUB_DATABASE_URL": sqlite_url, "HUB_DENSE": "off"}
    first = CliRunner().invoke(cli, ["kb", "import", str(tmp_path / "kb")], env=env)
    again = CliRunner().invoke(cli, ["kb", "import", str(tmp_path / "kb")], env=env)
    assert first.exit_code == 0, first.output
    assert "3 new or changed, 0 unchanged" in first.output
    assert "0 new or changed, 3 unchanged" in again.output


def test_two_articles_of_one_import_with_one_id_are_refused_and_nothing_is_imported(sqlite_url: str, tmp_path: Path) -> None:
    from app import cli

    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / "a.md").write_text("---\ntitle: Alpha\nid: shared\n---\nAlpha is about llamas.\n", encoding="utf-8")
    (folder / "b.md").write_text("---\ntitle: Beta\nid: shared\n---\nBeta is about alpacas.\n", encoding="utf-8")
    (folder / "c.md").write_text("---\ntitle: Gamma\n---\nGamma is about camels.\n", encoding="utf-8")
    env = {"HUB_DATABASE_URL": sqlite_url, "HUB_DENSE": "off"}
    result = CliRunner().invoke(cli, ["kb", "import", str(folder)], env=env)  # was "2 new or changed": Beta replaced Alpha
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert result.stderr == ("Error: a.md and b.md have the same id 'shared': each article needs its own id (a Markdown "
                             "file's front matter `id`, a pack article's `id`); nothing was imported\n")
    assert _stored_articles(sqlite_url) == []
    pack = tmp_path / "pack" / "pack.json"
    pack.parent.mkdir()
    pack.write_text(json.dumps({"format": "helpdesk-bench/v1", "articles": [
        {"id": "card", "title": "Card", "body": "Order a card."}, {"id": "card", "title": "Lost card", "body": "Freeze it."}]}),
        encoding="utf-8")
    twice = CliRunner().invoke(cli, ["kb", "import", str(pack)], env=env)
    assert twice.exit_code == 1 and "article 1 and article 2 have the same id 'card'" in twice.stderr


def _stored_articles(url: str) -> list[kb.KBArticle]:
    db = Database(url)
    try:
        with db.session() as s:
            return kb.load_articles(s)
    finally:
        db.dispose()


def test_a_broken_file_in_a_folder_is_one_line_naming_it_and_nothing_is_imported(sqlite_url: str, tmp_path: Path) -> None:
    from app import cli

    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / "a.md").write_text("---\ntitle: Alpha\n---\nAlpha is about llamas.\n", encoding="utf-8")
    (folder / "notepad.md").write_text("---\ntitle: Caf\u00e9\n---\nBody.\n", encoding="cp1252")  # ANSI: no mark
    env = {"HUB_DATABASE_URL": sqlite_url, "HUB_DENSE": "off"}
    ansi = CliRunner().invoke(cli, ["kb", "import", str(folder)], env=env)
    assert ansi.exit_code == 1 and isinstance(ansi.exception, SystemExit), ansi.output
    assert ansi.stderr == (f"Error: {folder / 'notepad.md'}: not UTF-8 text (byte 14: invalid continuation byte): "
                           "save it as UTF-8; nothing was imported\n")
    (folder / "notepad.md").write_text("---\ntitle: Tags\ntags: [billing\nurl: https://help.example/tags\n---\nBody.\n",
                                       encoding="utf-8")
    yaml_error = CliRunner().invoke(cli, ["kb", "import", str(folder)], env=env)  # was the parser's six-line report
    assert yaml_error.exit_code == 1 and yaml_error.stderr == (
        "Error: notepad.md: bad front matter (line 4, column 4): expected ',' or ']', but got ':'; nothing was imported\n")
    assert _stored_articles(sqlite_url) == []


@pytest.mark.parametrize("name", ["Refund policy.pdf", "faq.DOCX", "notes.txt"])
def test_a_document_that_is_not_markdown_or_html_is_refused_by_name(sqlite_url: str, tmp_path: Path, name: str) -> None:
    from app import cli

    (tmp_path / name).write_text("%PDF-1.4 or plain words", encoding="utf-8")  # readable as text: once a "Markdown" article
    refused = CliRunner().invoke(cli, ["kb", "import", str(tmp_path / name)], env={"HUB_DATABASE_URL": sqlite_url, "HUB_DENSE": "off"})
    assert refused.exit_code == 1 and refused.stderr == (
        f"Error: {tmp_path / name}: not Markdown or HTML: not read (save it as .md or .html to import it); nothing was imported\n")
    assert _stored_articles(sqlite_url) == []


class FakeHelpCenter:
    """A KnowledgeSource that remembers the ``since`` it was asked for."""

    def __init__(self, articles: list[KnowledgeArticle]) -> None:
        self.articles = articles
        self.asked: list[datetime | None] = []

    def fetch_articles(self, since: datetime | None) -> Iterator[KnowledgeArticle]:
        self.asked.append(since)
        yield from (a for a in self.articles if since is None or a.updated_at > since)


def _hc(ext: str, day: int, *, deleted: bool = False) -> KnowledgeArticle:
    return KnowledgeArticle(ext, f"Article {ext}", "Some help text.", f"https://hc/{ext}", "en",
                            "General", datetime(2026, 1, day, tzinfo=timezone.utc), deleted=deleted)


def test_sync_pulls_incrementally_from_a_stored_cursor(sqlite_url: str) -> None:
    db = Database(sqlite_url)
    try:
        source = FakeHelpCenter([_hc("1", 1), _hc("2", 2)])
        [first] = sync_all(db, {"zendesk": source, "slack": object()})
        assert (first.seen, first.changed) == (2, 2)
        assert get_cursor(db, "kb.sync.zendesk") == "2026-01-02T00:00:00+00:00"
        source.articles.append(_hc("1", 3, deleted=True))
        [second] = sync_all(db, {"zendesk": source})
        assert source.asked[-1] == datetime(2026, 1, 2, tzinfo=timezone.utc)
        assert (second.seen, second.deleted) == (1, 1)
        with db.session() as s:
            [left] = kb.load_articles(s)
        assert left.external_id == "2" and left.source == "zendesk_hc" and left.passages == (kb.KBPassage("Some help text."),)
    finally:
        db.dispose()


def test_markdown_bodies_become_the_plain_text_answers_quote() -> None:
    article = parse_markdown(
        "---\ntitle: Reset\n---\n## Steps\n1. Click **Forgot password?** under the *sign-in* button.\n"
        "2. See [the guide](https://x.example/a) and `Settings > Security`.\n* keep snake_case_name and 2*3*4\n",
        "reset.md",
    )
    assert article.body == (
        "Steps\n1. Click Forgot password? under the sign-in button.\n"
        "2. See the guide (https://x.example/a) and Settings > Security.\n- keep snake_case_name and 2*3*4"
    )
    assert all("**" not in p.text and "`" not in p.text for p in article.passages)
