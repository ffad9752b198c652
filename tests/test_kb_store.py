"""The KB store on SQLite and PostgreSQL: content-hash skips, versions, deletion, questions, calibrations."""

from __future__ import annotations

from core import kb
from core.db import Database


def _article(ext: str = "a1", body: str = "First paragraph.", **kw: object) -> kb.ArticleInput:
    return kb.ArticleInput(source="markdown", external_id=ext, title=f"Title {ext}", body=body,
                           passages=(kb.KBPassage(body, ("Steps",), "s1"),), questions=("how do I do it?",), **kw)  # type: ignore[arg-type]


def test_upsert_skips_unchanged_content_and_moves_the_version(database_url: str) -> None:
    db = Database(database_url)
    try:
        with db.session() as s:
            assert kb.kb_version(s) == kb.EMPTY_VERSION
            assert kb.upsert_article(s, _article()) is True
            first = kb.kb_version(s)
        with db.session() as s:
            assert kb.upsert_article(s, _article()) is False
            assert kb.kb_version(s) == first
        with db.session() as s:
            assert kb.upsert_article(s, _article(body="Changed text.")) is True
            assert kb.kb_version(s) != first
        with db.session() as s:
            [stored] = kb.load_articles(s)
        assert stored.passages == (kb.KBPassage("Changed text.", ("Steps",), "s1"),)
        assert stored.questions == ("how do I do it?",)
        assert stored.title == "Title a1"
    finally:
        db.dispose()


def test_deleted_articles_leave_retrieval_and_come_back_on_upsert(database_url: str) -> None:
    db = Database(database_url)
    try:
        with db.session() as s:
            kb.upsert_article(s, _article("a1"))
            kb.upsert_article(s, _article("a2"))
        with db.session() as s:
            before = kb.kb_version(s)
            assert kb.mark_deleted(s, "markdown", "a1") is True
            assert kb.mark_deleted(s, "markdown", "a1") is False
            assert kb.kb_version(s) != before
        with db.session() as s:
            assert [a.external_id for a in kb.load_articles(s)] == ["a2"]
            assert kb.upsert_article(s, _article("a1")) is True  # same content, but it was deleted
        with db.session() as s:
            assert sorted(a.external_id for a in kb.load_articles(s)) == ["a1", "a2"]
    finally:
        db.dispose()


def test_ticket_questions_are_replaced_and_kept_across_article_updates(database_url: str) -> None:
    db = Database(database_url)
    try:
        with db.session() as s:
            kb.upsert_article(s, _article("a1"))
            ids = kb.find_article_ids(s, ["a1", "missing"])
            assert list(ids) == ["a1"]
            kb.set_ticket_questions(s, [(ids["a1"], "old ticket", "T-1")])
            kb.set_ticket_questions(s, [(ids["a1"], "new ticket", "T-2")])
        with db.session() as s:
            kb.upsert_article(s, _article("a1", body="Edited."))
        with db.session() as s:
            [stored] = kb.load_articles(s)
        assert stored.questions == ("how do I do it?", "new ticket")
    finally:
        db.dispose()


def test_calibrations_are_stored_per_kb_version(database_url: str) -> None:
    db = Database(database_url)
    try:
        with db.session() as s:
            assert kb.load_calibration(s) is None
            kb.store_calibration(s, "v1", "logistic-v1", {"a": 1}, "first")
            kb.store_calibration(s, "v2", "logistic-v1", {"a": 2}, "second")
        with db.session() as s:
            v1 = kb.load_calibration(s, "v1")
            latest = kb.load_calibration(s)
            assert kb.load_calibration(s, "v3") is None
        assert v1 is not None and v1.params == {"a": 1} and v1.provenance == "first"
        assert latest is not None and latest.kb_version == "v2"
    finally:
        db.dispose()


def test_embeddings_are_stored_once_per_key_read_back_and_deleted(database_url: str) -> None:
    db = Database(database_url)
    try:
        vectors = {f"{n:040x}": n.to_bytes(4, "little") * 384 for n in range(1200)}
        with db.session() as s:
            kb.store_embeddings(s, "model-a|float32", vectors)
            kb.store_embeddings(s, "model-a|float32", {"0" * 40: b"other"})  # a key already stored is kept
            kb.store_embeddings(s, "model-b|float32", {"0" * 40: b"b"})
        wanted = [*list(vectors)[:1100], "f" * 40]  # many keys: one pass over the model's rows
        with db.session() as s:
            many = kb.load_embeddings(s, "model-a|float32", wanted)
            few = kb.load_embeddings(s, "model-a|float32", ["0" * 40, f"{5:040x}", "f" * 40])
        assert len(many) == 1100 and all(many[k] == vectors[k] for k in many)
        assert few == {"0" * 40: vectors["0" * 40], f"{5:040x}": vectors[f"{5:040x}"]}
        with db.session() as s:
            kb.delete_embeddings(s, "model-a|float32", list(vectors)[600:])
        with db.session() as s:
            assert kb.embedding_keys(s, "model-a|float32") == set(list(vectors)[:600])
            assert kb.embedding_keys(s, "model-b|float32") == {"0" * 40}
    finally:
        db.dispose()


def test_migration_0003_keeps_stored_passages_and_resets_the_sync_cursors(database_url: str) -> None:
    from alembic import command
    from sqlalchemy import text

    import migrations

    command.downgrade(migrations.alembic_config(database_url), "0002")
    db = Database(database_url)
    try:
        with db.engine.begin() as conn:
            conn.execute(text("INSERT INTO kb_articles (id, source, external_id, title, body, tags, content_hash, deleted,"
                              " updated_at) VALUES (1, 'zendesk_hc', '42', 'Old', 'Body.', '[]', 'x', false, '2026-01-01')"))
            conn.execute(text("INSERT INTO kb_passages (article_id, position, text) VALUES (1, 0, 'Body.')"))
            conn.execute(text("INSERT INTO cursors (name, value, updated_at) VALUES"
                              " ('kb.sync.zendesk', '2026-01-01T00:00:00+00:00', '2026-01-01'),"
                              " ('zendesk.poll', 'abc', '2026-01-01')"))
        migrations.upgrade(database_url)
        with db.session() as s:
            [article] = kb.load_articles(s)
            names = [r[0] for r in s.execute(text("SELECT name FROM cursors ORDER BY name"))]
        assert article.passages == (kb.KBPassage("Body.", (), None),)
        assert names == ["zendesk.poll"]  # the next KB sync re-reads every article and stores its sections
    finally:
        db.dispose()
