"""``hub kb calibrate FILE``: the install's own history replaces the default, is kept with the KB version,
and is refitted when the KB changes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from core import kb
from core.db import Database
from interceptor.retrieval import history
from interceptor.retrieval.history import read_history
from interceptor.kb.importer import import_articles
from interceptor.retrieval.scorer import KBScorer

TOPICS = {
    "reset": ("Reset your password", ["forgot my password", "reset password link", "password expired"]),
    "invoice": ("Send an invoice", ["send invoice to client", "email an invoice", "invoice a customer"]),
    "slack": ("Connect Slack", ["connect slack", "slack integration", "link my slack workspace"]),
}
HISTORY = [
    {"text": "I forgot my password", "article": "reset", "ref": "T-1"},
    {"text": "how can I reset the password", "article": "reset"},
    {"text": "password reset email never came", "article": "reset"},
    {"text": "send the invoice to my client", "article": "invoice"},
    {"text": "how to email invoices", "article": "invoice"},
    {"text": "connect slack please", "article": "slack"},
    {"text": "set up the slack integration", "article": "slack"},
    {"text": "what time is lunch", "article": None},
    {"text": "the office printer is jammed", "article": ""},
    {"text": "where do I park my car", "article": None},
    {"text": "my invoice shows the wrong VAT", "article": None},
    {"text": "slack is down for everyone", "article": None},
]


def _seed(db: Database) -> None:
    import_articles(db, [kb.ArticleInput("md", ext, title, passages=(kb.KBPassage(f"{title}: step by step."),), questions=tuple(q))
                         for ext, (title, q) in TOPICS.items()])


def _history_file(tmp_path: Path) -> Path:
    path = tmp_path / "history.jsonl"
    path.write_text("\n".join(json.dumps(row) for row in HISTORY) + "\n", encoding="utf-8")
    return path


def test_history_reads_jsonl_and_csv(tmp_path: Path) -> None:
    items = read_history(_history_file(tmp_path))
    assert items[0].ref == "T-1" and items[8].article is None and len(items) == len(HISTORY)
    csv_path = tmp_path / "history.csv"
    csv_path.write_text("text,article\nforgot my password,reset\nwhat time is lunch,\n", encoding="utf-8")
    assert [(i.text, i.article) for i in read_history(csv_path)] == [("forgot my password", "reset"),
                                                                      ("what time is lunch", None)]


def test_calibrate_command_replaces_the_default_and_stores_tickets(sqlite_url: str, tmp_path: Path) -> None:
    from app import cli

    db = Database(sqlite_url)
    try:
        _seed(db)
        result = CliRunner().invoke(cli, ["kb", "calibrate", str(_history_file(tmp_path))],
                                    env={"HUB_DATABASE_URL": sqlite_url, "HUB_DENSE": "off"})
        assert result.exit_code == 0, result.output
        assert "calibrated on 12 past tickets" in result.output
        with db.session() as s:
            version = kb.kb_version(s)
            stored = kb.load_calibration(s, version)
            questions = {a.external_id: a.questions for a in kb.load_articles(s)}
        assert stored is not None and "hub kb calibrate history.jsonl" in stored.provenance
        assert "lexical" in stored.params["modes"] and len(stored.params["negatives"]) == 5
        assert questions["reset"][-3:] == ("I forgot my password", "how can I reset the password",
                                           "password reset email never came")
        scorer = KBScorer(db, None)
        assert scorer.calibration_source == f"stored:{stored.id}"
        # the admin is told what the threshold rests on, or that nothing is answered at the target
        report = scorer.threshold_report(0.95)
        if report["threshold"] < 1.0:
            assert f"threshold for precision 0.95: {report['threshold']:.3f}; at it {report['answered']} of" in result.output
            assert f"precision at least {report['lower_bound']} with 80% confidence" in result.output
        else:
            assert "no threshold backs precision 0.95 on this evidence, so the hub answers nothing" in result.output
    finally:
        db.dispose()


def test_a_history_text_with_a_nul_is_stored_without_it(database_url: str, tmp_path: Path) -> None:
    # PostgreSQL text holds no NUL: storing the solved requests as questions failed the whole calibration
    path = _history_file(tmp_path)
    path.write_text(path.read_text(encoding="utf-8").replace("I forgot my password", "I forgot\\u0000 my password"),
                    encoding="utf-8")
    db = Database(database_url)
    try:
        _seed(db)
        KBScorer(db, None).calibrate(read_history(path), provenance="test history")
        with db.session() as s:
            questions = {a.external_id: a.questions for a in kb.load_articles(s)}
    finally:
        db.dispose()
    assert "I forgot my password" in questions["reset"]


def test_a_kb_change_refits_the_calibration_from_the_kept_history(sqlite_url: str, tmp_path: Path) -> None:
    db = Database(sqlite_url)
    try:
        _seed(db)
        scorer = KBScorer(db, None)
        scorer.calibrate(read_history(_history_file(tmp_path)), provenance="test history")
        first = scorer.calibration_source
        import_articles(db, [kb.ArticleInput("md", "timer", "Start the timer", passages=(kb.KBPassage("Click Start."),))])
        scorer._checked = 0.0
        assert scorer.refresh() is True
        with db.session() as s:
            version = kb.kb_version(s)
            refitted = kb.load_calibration(s, version)
        assert refitted is not None and refitted.provenance == "test history"
        assert scorer.calibration_source == f"stored:{refitted.id}" != first
    finally:
        db.dispose()


def test_too_little_history_is_refused_and_the_kbs_own_calibration_stays(sqlite_url: str, tmp_path: Path) -> None:
    from app import cli

    db = Database(sqlite_url)
    try:
        _seed(db)
        path = tmp_path / "small.jsonl"
        path.write_text(json.dumps(HISTORY[0]) + "\n", encoding="utf-8")
        result = CliRunner().invoke(cli, ["kb", "calibrate", str(path)],
                                    env={"HUB_DATABASE_URL": sqlite_url, "HUB_DENSE": "off"})
        assert result.exit_code != 0 and "at least 10" in result.output
        assert "(1 given, " in result.output  # it said what it needs, not how far the history is from it
        source = KBScorer(db, None).calibration_source  # cold start from the KB's content (default if too small)
        assert source == "default" or source.startswith("coldstart:")
        with db.session() as s:
            stored = kb.load_calibration(s)
        assert stored is None or not stored.params.get("history")  # the refused history was not kept
    finally:
        db.dispose()


def test_calibrate_says_when_no_threshold_backs_the_target() -> None:
    from surfaces.cli.kb import _threshold_sentence

    report = {"threshold": 1.0, "answered": 0, "precision": 1.0, "lower_bound": 0.0, "level": 0.8}
    sentence = _threshold_sentence(report, 0.95)
    assert "no threshold backs precision 0.95" in sentence and "every request goes to a person" in sentence
    assert "HUB_TARGET_PRECISION" in sentence  # and what would let it answer


def test_a_refused_history_leaves_the_kb_and_the_kept_history_as_they_were(sqlite_url: str, tmp_path: Path) -> None:
    from app import cli

    db = Database(sqlite_url)
    try:
        _seed(db)
        KBScorer(db, None).calibrate(read_history(_history_file(tmp_path)), provenance="test history")
        with db.session() as s:
            version, questions = kb.kb_version(s), {a.external_id: a.questions for a in kb.load_articles(s)}
        path = tmp_path / "small.jsonl"
        path.write_text(json.dumps({"text": "reset it for me", "article": "reset"}) + "\n", encoding="utf-8")
        result = CliRunner().invoke(cli, ["kb", "calibrate", str(path)],
                                    env={"HUB_DATABASE_URL": sqlite_url, "HUB_DENSE": "off"})
        assert result.exit_code != 0 and "at least 10" in result.output
        with db.session() as s:
            assert kb.kb_version(s) == version  # a running server has nothing to rebuild
            assert {a.external_id: a.questions for a in kb.load_articles(s)} == questions
            kept = kb.load_calibration(s)
        assert kept is not None and kept.provenance == "test history"
    finally:
        db.dispose()


def test_a_server_polling_the_kb_version_serves_the_new_calibration(sqlite_url: str, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    db = Database(sqlite_url)
    try:
        _seed(db)
        server = KBScorer(db, None)  # the running server's scorer, checking the KB version as it serves
        fit = history.fit_calibrator

        def fit_while_the_server_polls(*args: Any, **kwargs: Any) -> Any:
            server._checked = 0.0
            server.refresh()  # the server's check during the seconds the command spends fitting
            return fit(*args, **kwargs)

        monkeypatch.setattr(history, "fit_calibrator", fit_while_the_server_polls)
        KBScorer(db, None).calibrate(read_history(_history_file(tmp_path)), provenance="hub kb calibrate history.jsonl")
        server._checked = 0.0
        server.refresh()
        with db.session() as s:
            stored = kb.load_calibration(s, kb.kb_version(s))
        assert stored is not None and stored.provenance == "hub kb calibrate history.jsonl"
        assert server.calibration_source == f"stored:{stored.id}"
    finally:
        db.dispose()


def test_a_history_naming_articles_the_kb_does_not_have_says_which(sqlite_url: str, tmp_path: Path) -> None:
    from app import cli

    db = Database(sqlite_url)
    try:
        _seed(db)
        env = {"HUB_DATABASE_URL": sqlite_url, "HUB_DENSE": "off"}
        path = tmp_path / "slugs.jsonl"  # every id mistyped: nothing could ever be answered right
        path.write_text("\n".join(json.dumps({**row, "article": f"{row['article']}.html" if row["article"] else None})
                                  for row in HISTORY) + "\n", encoding="utf-8")
        result = CliRunner().invoke(cli, ["kb", "calibrate", str(path)], env=env)
        assert result.exit_code != 0
        assert "none of the 3 articles the history names is in the knowledge base (invoice.html, reset.html, slack.html)" in result.output
        assert "`hub kb list`" in result.output
        with db.session() as s:
            kept = kb.load_calibration(s)
        assert kept is None or not kept.params.get("history")  # the refused history was not kept
        path.write_text("\n".join(json.dumps(row) for row in [*HISTORY, {"text": "refund me", "article": "refunds"}]) + "\n",
                        encoding="utf-8")
        result = CliRunner().invoke(cli, ["kb", "calibrate", str(path)], env=env)
        assert result.exit_code == 0, result.output
        assert "warning: 1 past ticket names an article that is not in the knowledge base (refunds); it counts" in result.output
        assert "calibrated on 13 past tickets" in result.output
    finally:
        db.dispose()


def _ticket_questions(db: Database) -> list[str]:
    from sqlalchemy import select

    from core.db import ArticleQuestionRow

    with db.session() as s:
        return list(s.scalars(select(ArticleQuestionRow.text).where(ArticleQuestionRow.origin == "ticket")))


def test_calibrate_reset_returns_to_the_kbs_own_calibration(sqlite_url: str, tmp_path: Path) -> None:
    from app import cli

    env = {"HUB_DATABASE_URL": sqlite_url, "HUB_DENSE": "off"}
    db = Database(sqlite_url)
    try:
        _seed(db)
        assert CliRunner().invoke(cli, ["kb", "calibrate", str(_history_file(tmp_path))], env=env).exit_code == 0
        with db.session() as s:
            calibrated = kb.kb_version(s)
        assert len(_ticket_questions(db)) == 7
        result = CliRunner().invoke(cli, ["kb", "calibrate", "--reset"], env=env)
        assert result.exit_code == 0, result.output
        assert "forgot the past-ticket history (the calibration fitted on it, and its 7 solved tickets" in result.output
        with db.session() as s:
            version, latest = kb.kb_version(s), kb.load_calibration(s)
            questions = {a.external_id: a.questions for a in kb.load_articles(s)}
        assert version != calibrated  # a running server rebuilds
        assert _ticket_questions(db) == [] and questions["reset"] == tuple(TOPICS["reset"][1])  # phrasings stay
        assert latest is not None and latest.kb_version == version and latest.params.get("coldstart")
        assert not latest.params.get("history") and not latest.params.get("negatives")
        scorer = KBScorer(db, None)  # what a restarted server serves: the stored cold start, no refit
        assert scorer.calibration_source in (f"coldstart:{latest.id}", "default")
        report = scorer.threshold_report(0.95)
        if scorer.calibration_source == "default":
            assert "the KB is too small to calibrate from its own content" in result.output
        else:
            assert "the calibration rests on the KB's own content" in result.output
        if report["threshold"] < 1.0:
            assert f"threshold for precision 0.95: {report['threshold']:.3f}; at it {report['answered']} of" in result.output
        else:
            assert "no threshold backs precision 0.95 on this evidence" in result.output
        again = CliRunner().invoke(cli, ["kb", "calibrate", "--reset"], env=env)
        assert again.exit_code == 0 and "no past-ticket history is stored, nothing to forget" in again.output
        with db.session() as s:
            assert kb.kb_version(s) == version  # nothing to rebuild
    finally:
        db.dispose()


def test_reset_refits_a_cold_start_reused_from_an_earlier_kb_version(sqlite_url: str, tmp_path: Path) -> None:
    from app import cli
    from interceptor.kb.importer import articles_at

    sample = list(articles_at(Path(__file__).resolve().parent.parent / "config" / "sample_kb"))
    db = Database(sqlite_url)
    try:
        import_articles(db, sample[:33])
        first = KBScorer(db, None).calibration_source  # the cold start of these 33 articles
        import_articles(db, sample[33:])  # 36 articles, within a tenth: the server reuses the 33 articles' fit
        reused = KBScorer(db, None)
        with db.session() as s:
            assert reused.calibration_source == first and kb.load_calibration(s, reused.kb_version) is None
        result = CliRunner().invoke(cli, ["kb", "calibrate", "--reset"], env={"HUB_DATABASE_URL": sqlite_url, "HUB_DENSE": "off"})
        assert result.exit_code == 0, result.output
        assert result.output.startswith("no past-ticket history is stored; the calibration served was fitted on an earlier "
                                        "version of the KB, so it was fitted again on this one; ")  # was: nothing to forget
        with db.session() as s:
            fitted = kb.load_calibration(s, kb.kb_version(s))
        assert fitted is not None and fitted.params["coldstart"] and fitted.params["articles"] == 36
        assert KBScorer(db, None).calibration_source == f"coldstart:{fitted.id}"  # what a restarted server serves
    finally:
        db.dispose()


def test_calibrate_takes_a_file_or_reset(sqlite_url: str, tmp_path: Path) -> None:
    from app import cli

    env = {"HUB_DATABASE_URL": sqlite_url, "HUB_DENSE": "off"}
    neither = CliRunner().invoke(cli, ["kb", "calibrate"], env=env)
    assert neither.exit_code == 2 and "give a history FILE to calibrate on, or --reset" in neither.output
    both = CliRunner().invoke(cli, ["kb", "calibrate", "--reset", str(_history_file(tmp_path))], env=env)
    assert both.exit_code == 2 and "--reset takes no FILE" in both.output


def test_reset_on_a_kb_too_small_to_calibrate_itself_names_the_default(sqlite_url: str) -> None:
    from app import cli

    db = Database(sqlite_url)
    try:
        import_articles(db, [kb.ArticleInput("md", "reset", "Reset your password", passages=(kb.KBPassage("Click Forgot."),))])
        result = CliRunner().invoke(cli, ["kb", "calibrate", "--reset"], env={"HUB_DATABASE_URL": sqlite_url, "HUB_DENSE": "off"})
        report = KBScorer(db, None).threshold_report(0.95)
    finally:
        db.dispose()
    assert result.exit_code == 0, result.output
    assert ("no past-ticket history is stored, nothing to forget; the KB is too small to calibrate from its own "
            "content, so the hub uses its shipped default calibration (fitted on BANKING77)") in result.output
    if report["threshold"] < 1.0:
        assert f"at it {report['answered']} of the default calibration's requests would have been answered" in result.output
    else:  # what would let it answer: a history, or a lower target
        assert "(a history of past tickets (hub kb calibrate FILE), or a lower HUB_TARGET_PRECISION" in result.output


def test_a_server_polling_the_kb_version_serves_the_reset(sqlite_url: str, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from interceptor.retrieval import coldstart

    db = Database(sqlite_url)
    try:
        _seed(db)
        KBScorer(db, None).calibrate(read_history(_history_file(tmp_path)), provenance="test history")
        server = KBScorer(db, None)  # the running server, serving the history's calibration
        served = server.calibration_source
        assert served.startswith("stored:") and "I forgot my password" in server.index.articles[0].questions
        fit = coldstart.fit_cold

        def fit_while_the_server_polls(*args: Any, **kwargs: Any) -> Any:
            server._checked = 0.0
            server.refresh()  # during the fit nothing has changed yet
            assert server.calibration_source == served
            return fit(*args, **kwargs)

        monkeypatch.setattr(coldstart, "fit_cold", fit_while_the_server_polls)
        KBScorer(db, None).forget_history()
        server._checked = 0.0
        assert server.refresh() is True
        with db.session() as s:
            stored = kb.load_calibration(s, kb.kb_version(s))
        assert stored is not None and stored.params.get("coldstart")
        assert server.calibration_source in (f"coldstart:{stored.id}", "default")
        assert all("I forgot my password" not in a.questions for a in server.index.articles)
    finally:
        db.dispose()


def _page(n: int, external_id: str, prefix: str) -> kb.KBArticle:
    return kb.KBArticle(n, "pack", external_id, "Apply for benefits", None, (), (
        kb.KBPassage("Who can apply and when.", (), f"{prefix}-s0"),
        kb.KBPassage("Apply online in about 30 minutes.", ("How to apply",), f"{prefix}-s1"),
        kb.KBPassage("Overview of what happens next.", ("Overview",), None),
    ), ())


@pytest.mark.parametrize("top,at,item,right", [
    (0, 1, history.Labelled("how do I apply", "a", None, ("a-s1",)), True),
    (0, 0, history.Labelled("how do I apply", "a", None, ("a-s1",)), False),  # the right page, the wrong part
    # the page twice in the KB, and the request labelled with both copies: either copy's section answers it
    (1, 1, history.Labelled("how do I apply", "a", None, ("a-s1", "b-s1")), True),
    (1, 0, history.Labelled("how do I apply", "a", None, ("a-s1", "b-s1")), False),
    (1, 1, history.Labelled("how do I apply", "a", None, ("a-s1",)), False),  # the copy not named: another article
    (1, 1, history.Labelled("how do I apply", "a", None, None), False),
    # a heading path names a section within its article only: the other page's "Overview" is not it
    (1, 2, history.Labelled("what happens next", "a", None, ("Overview",)), False),
    (0, 2, history.Labelled("what happens next", "a", None, ("Overview",)), True),
    (0, 1, history.Labelled("what time is lunch", None), False),
])
def test_an_answer_is_right_when_its_quote_is_of_a_named_section(top: int, at: int, item: history.Labelled,
                                                                  right: bool) -> None:
    from interceptor.retrieval.index import KBIndex, Retrieval

    index = KBIndex([_page(1, "a", "a"), _page(2, "b", "b")], None)
    r = Retrieval(order=(top, 1 - top), fused=(1.0, 0.5), lexical=(1.0, 0.5), dense=None, passage=("", ""),
                  knn=(0.0, 0.0), lexical_top=top, dense_top=top, negative=0.0, knn_negative=0.0, passage_at=(at, 0))
    assert history.is_right(index, r, item) is right
