"""Managing the KB on SQLite and PostgreSQL: list, remove by id / URL / path / source, the stored status,
the import screen (warnings and skips), and the watcher that keeps a served index current."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from core import kb
from core.db import ArticleRow, Database
from interceptor.kb.importer import articles_at, import_articles
from interceptor.kb.manage import (
    KBManageError,
    KBWatcher,
    find_articles,
    health,
    kb_status,
    list_articles,
    remove_articles,
)
from interceptor.kb.screen import ImportNotice

ARTICLE = """---
title: Reset your password
url: https://help.example/reset
---
Use the reset link.

## If you sign in with SSO

Ask your admin.
"""

PROJECT_README = """# helpdesk-hub

Middleware that answers help-desk tickets.

## Install

```bash
git clone https://github.com/example/helpdesk-hub
pip install -e .
```
"""


def _kb(root: Path) -> Path:
    (root / "guides").mkdir(parents=True)
    (root / "reset.md").write_text(ARTICLE, encoding="utf-8")
    (root / "guides" / "slack.html").write_text("<title>Connect Slack</title><p>Click Connect.</p>", encoding="utf-8")
    pack = {"format": "helpdesk-bench/v1", "articles": [{"id": "card", "title": "Card delivery", "body": "Five days."}]}
    (root / "pack.json").write_text(json.dumps(pack), encoding="utf-8")
    return root


@pytest.fixture
def db(database_url: str, tmp_path: Path) -> Database:
    database = Database(database_url)
    import_articles(database, articles_at(_kb(tmp_path / "kb")))
    yield database  # type: ignore[misc]
    database.dispose()


def test_list_shows_live_articles_with_their_passages_and_sections(db: Database) -> None:
    listed = {a.external_id: a for a in list_articles(db)}
    assert sorted(listed) == ["card", "guides/slack.html", "reset.md"]
    reset = listed["reset.md"]
    assert (reset.source, reset.title, reset.url) == ("markdown", "Reset your password", "https://help.example/reset")
    assert (reset.passages, reset.sections) == (2, 2)
    assert [a.external_id for a in list_articles(db, source="pack")] == ["card"]


def test_remove_by_id_url_path_and_source_leaves_retrieval_and_moves_the_version(db: Database, tmp_path: Path) -> None:
    before = kb_status(db)
    assert (before.articles, before.sources) == (3, {"html": 1, "markdown": 1, "pack": 1})
    card_id = next(a.id for a in list_articles(db) if a.external_id == "card")
    removed = remove_articles(db, [str(card_id), "https://help.example/reset"])
    assert sorted(a.external_id for a in removed) == ["card", "reset.md"]
    assert find_articles(db, str(tmp_path / "kb" / "guides" / "slack.html"))[0].external_id == "guides/slack.html"
    after = kb_status(db)
    assert after.articles == 1 and after.kb_version != before.kb_version
    with db.session() as s:
        assert [a.external_id for a in kb.load_articles(s)] == ["guides/slack.html"]
        assert s.query(ArticleRow).filter(ArticleRow.deleted.is_(True)).count() == 2  # rows stay for old citations
    assert [a.external_id for a in remove_articles(db, source="html")] == ["guides/slack.html"]
    assert kb_status(db).articles == 0
    assert import_articles(db, articles_at(tmp_path / "kb")).changed == 3  # importing again brings them back


def test_remove_refuses_unknown_and_ambiguous_references_and_removes_nothing(db: Database) -> None:
    with pytest.raises(KBManageError, match="no live article"):
        remove_articles(db, ["card", "nope.md"])
    with db.session() as s:
        kb.upsert_article(s, kb.ArticleInput("zendesk_hc", "card", "Card (Help Center)"))
    with pytest.raises(KBManageError, match="names 2 articles"):
        remove_articles(db, ["card"])
    with pytest.raises(KBManageError, match="source jira_kb: no live articles"):
        remove_articles(db, source="jira_kb")
    assert kb_status(db).articles == 4


def test_the_screen_skips_a_project_readme_and_developer_docs_unless_forced(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text(PROJECT_README, encoding="utf-8")
    (tmp_path / "getting-started.md").write_text(PROJECT_README.replace("# helpdesk-hub", "# Getting started"))
    (tmp_path / "untitled.md").write_text("Click Export, then choose CSV.\n", encoding="utf-8")
    (tmp_path / "page.html").write_text("<p>No title here.</p>", encoding="utf-8")
    (tmp_path / "with-front-matter.md").write_text("---\ntitle: Install the desktop app\n---\n```\nmake install\n```\n")
    (tmp_path / "heading-only.md").write_text("# Refunds\n", encoding="utf-8")
    (tmp_path / "empty.md").write_text("", encoding="utf-8")
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "Refund policy.docx").write_bytes(b"PK\x03\x04")
    (tmp_path / "logo.png").write_bytes(b"\x89PNG")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "intro.mdx").write_text("# Intro\n\nimport Tabs from '@theme/Tabs';\n", encoding="utf-8")
    notices: list[ImportNotice] = []
    imported = sorted(a.external_id for a in articles_at(tmp_path, on_notice=notices.append))
    assert imported == ["empty.md", "heading-only.md", "page.html", "untitled.md", "with-front-matter.md"]
    by_path = {n.path: n for n in notices}
    assert by_path["README.md"].kind == "skipped" and "README file without front matter" in by_path["README.md"].reason
    assert by_path["getting-started.md"].kind == "skipped" and "git clone" in by_path["getting-started.md"].reason
    assert by_path["untitled.md"].kind == "warning" and '"Untitled"' in by_path["untitled.md"].reason
    assert by_path["page.html"].kind == "warning"
    assert by_path["heading-only.md"].reason == "no text under the title: imported, but no answer can quote it"
    assert by_path["empty.md"].reason == ('no title: imported as "Empty" (from the file name); '
                                          "no text under the title: imported, but no answer can quote it")
    assert by_path["old/Refund policy.docx"].reason == "not Markdown or HTML: not read (save it as .md or .html to import it)"
    assert by_path["docs/intro.mdx"].reason == by_path["old/Refund policy.docx"].reason  # a docs site's MDX too
    assert "with-front-matter.md" not in by_path and "logo.png" not in by_path
    forced = sorted(a.external_id for a in articles_at(tmp_path / "README.md", force=True, on_notice=notices.append))
    assert forced == ["README.md"]


def test_the_watcher_rebuilds_until_the_stored_version_is_served(db: Database) -> None:
    served = {"version": kb_status(db).kb_version}
    rebuilds: list[str] = []

    def rebuild() -> None:
        rebuilds.append("asked")
        if len(rebuilds) >= 2:  # the first request finds a rebuild in progress elsewhere
            served["version"] = kb_status(db).kb_version

    watcher = KBWatcher(db, lambda: served["version"], rebuild)
    assert watcher.check() is False and rebuilds == []
    remove_articles(db, ["card"])
    assert watcher.check() is True and watcher.check() is True and watcher.check() is False
    assert len(rebuilds) == 2
    assert KBWatcher(db, lambda: None, rebuild).check() is False  # nothing built yet: nothing to refresh


def test_health_reports_the_stored_kb_beside_the_served_index(db: Database) -> None:
    stored = kb_status(db)
    assert health(db, None) == {"retrieval": "not loaded yet", "kb_version": stored.kb_version, "articles": 3,
                                "passages": 4, "sources": {"html": 1, "markdown": 1, "pack": 1}, "index": None}
    served = {"retrieval": "lexical", "kb_version": stored.kb_version, "articles": 3}
    assert health(db, served)["index"] == {"kb_version": stored.kb_version, "articles": 3, "current": True}
    remove_articles(db, ["card"])
    report = health(db, served)
    assert (report["articles"], report["retrieval"]) == (2, "lexical")
    assert report["index"] == {"kb_version": stored.kb_version, "articles": 3, "current": False}


def test_a_running_server_notices_kb_changes_within_seconds(sqlite_url: str, tmp_path: Path) -> None:
    """The web process of ``hub serve`` (the index warmed up at boot; jobs run elsewhere) while the CLI
    changes the KB: nothing is scored, so only the KB watcher can bring the index up to date."""
    from app import build_hub, create_app
    from config import load_settings
    from tests.conftest import settings_dict

    services = build_hub(load_settings(settings_dict(sqlite_url)))
    client = create_app(hub=services).test_client()
    try:
        services.interceptor()
        empty = client.get("/healthz").get_json()["knowledge_base"]
        assert (empty["articles"], empty["index"]["current"]) == (0, True)
        import_articles(services.db, articles_at(_kb(tmp_path / "kb")))
        stored = client.get("/healthz").get_json()["knowledge_base"]  # the stored KB shows at once
        assert stored["articles"] == 3 and stored["kb_version"] != empty["kb_version"]
        deadline = time.monotonic() + 10
        while not client.get("/healthz").get_json()["knowledge_base"]["index"]["current"]:
            assert time.monotonic() < deadline, "the index did not follow the stored KB within 10 s"
            time.sleep(0.2)
        served = client.get("/healthz").get_json()["knowledge_base"]
        assert served["index"] == {"kb_version": stored["kb_version"], "articles": 3, "current": True}
        remove_articles(services.db, ["card"])
        deadline = time.monotonic() + 10
        while client.get("/healthz").get_json()["knowledge_base"]["index"]["articles"] != 2:
            assert time.monotonic() < deadline, "the index did not drop the removed article within 10 s"
            time.sleep(0.2)
        answer = services.interceptor().scorer.score("card delivery", k=3)
        assert "card" not in [c.external_id for c in answer.candidates]
    finally:
        services.close()


def test_the_kb_commands_import_with_the_screen_list_and_remove(sqlite_url: str, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from app import cli

    env = {"HUB_DATABASE_URL": sqlite_url, "HUB_DENSE": "off"}
    (tmp_path / "README.md").write_text(PROJECT_README, encoding="utf-8")
    run = CliRunner()
    refused = run.invoke(cli, ["kb", "import", str(tmp_path / "README.md")], env=env)
    assert refused.exit_code == 0, refused.output
    assert "skipped: README.md: a README file without front matter" in refused.output
    assert "imported 0 articles" in refused.output and "skipped 1 (--force imports them)" in refused.output
    forced = run.invoke(cli, ["kb", "import", "--force", str(tmp_path / "README.md")], env=env)
    assert "imported 1 article from" in forced.output and "1 new or changed" in forced.output
    assert run.invoke(cli, ["kb", "import", str(_kb(tmp_path / "kb"))], env=env).exit_code == 0

    listed = run.invoke(cli, ["kb", "list", "--json"], env=env)
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [(r["source"], r["external_id"]) for r in rows] == [
        ("markdown", "README.md"), ("html", "guides/slack.html"), ("pack", "card"), ("markdown", "reset.md")]
    assert rows[3]["sections"] == 2 and rows[3]["url"] == "https://help.example/reset"
    plain = run.invoke(cli, ["kb", "list", "--source", "pack"], env=env)
    assert "pack:card  Card delivery" in plain.output and "reset.md" not in plain.output
    for command in (["kb", "list", "--source", "nope"], ["kb", "list", "--json", "--source", "nope"],
                    ["kb", "remove", "--source", "nope"]):  # a usage error naming the sources there are
        unknown_source = run.invoke(cli, command, env=env)
        assert unknown_source.exit_code == 2 and unknown_source.stdout == "", command
        assert ("Invalid value for '--source': no articles from source 'nope'; sources: html (1 article), "
                "markdown (2 articles), pack (1 article)") in unknown_source.stderr

    removed = run.invoke(cli, ["kb", "remove", str(rows[0]["id"]), "https://help.example/reset"], env=env)
    assert removed.exit_code == 0, removed.output
    assert "markdown:README.md" in removed.output and "2 articles removed" in removed.output
    unknown = run.invoke(cli, ["kb", "remove", "nope.md"], env=env)
    assert unknown.exit_code == 1 and "no live article" in unknown.output
    assert run.invoke(cli, ["kb", "remove"], env=env).exit_code == 2
    db = Database(sqlite_url)
    try:
        assert sorted(a.external_id for a in list_articles(db)) == ["card", "guides/slack.html"]
    finally:
        db.dispose()
