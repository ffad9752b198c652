"""``hub simulate slack``: the real pipeline and Slack connector against the recording Slack, isolated from
the configured database and from every vendor."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from config import load_settings
from conftest import settings_dict
from core.db import Database, DecisionRow, OutboxAction
from interceptor.kb.importer import import_articles, parse_markdown
from surfaces.simulate.command import render
from surfaces.simulate.slack import CHANNEL, TRIAGE, simulate_slack
from test_cli import run_hub

ARTICLES = {
    "reset-password.md": "---\ntitle: Reset your password\nurl: https://kb.example/reset-password\n---\n"
    "To reset your password, click Forgot password on the sign-in page and follow the link we email you.\n",
    "export-reports.md": "---\ntitle: Export reports to CSV\nurl: https://kb.example/export\n---\n"
    "Open Reports, pick a date range and click Export to download a CSV file.\n",
}
POLICY = {"HUB_CHANNEL_POLICIES": {CHANNEL: {"threshold": 0.5}}}  # the flow is under test, not the calibration


@pytest.fixture
def configured(database_url: str) -> dict[str, Any]:
    """A configured install on SQLite or PostgreSQL (the KB is copied from it into the simulation's SQLite)."""
    db = Database(database_url)
    import_articles(db, (parse_markdown(text, name) for name, text in ARTICLES.items()))
    db.dispose()
    return settings_dict(database_url, ZENDESK_URL="http://127.0.0.1:9", ZENDESK_EMAIL="a@example.com",
                         ZENDESK_API_TOKEN="never-used", HUB_ESCALATION_TARGET="zendesk", **POLICY)


def count(url: str, model: Any) -> int:
    db = Database(url)
    try:
        with db.session() as s:
            return int(s.scalar(select(func.count()).select_from(model)) or 0)
    finally:
        db.dispose()


def test_an_answer_is_posted_in_the_thread_with_its_buttons(configured: dict[str, Any], tmp_path: Path) -> None:
    sim = simulate_slack("I forgot my password, how do I reset it?", load_settings(configured), tmp_path)
    assert sim.status == 200 and sim.kb_source.startswith("2 articles copied")
    assert sim.decision is not None and sim.decision["verdict"] == "answer"
    [post] = sim.calls
    assert post.api == "chat.postMessage" and post.response["ok"]
    assert post.args["channel"] == CHANNEL and post.args["thread_ts"] == sim.thread_ts
    assert "Forgot password" in post.args["text"] and "https://kb.example/reset-password" in json.dumps(post.args)
    buttons = [e["action_id"] for b in post.args["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert buttons == ["hub_feedback_solved", "hub_feedback_not_solved"]
    shown = render(sim)
    assert "Decision: ANSWER" in shown and "hub_feedback_solved" in shown and "Forgot password" in shown
    # isolated: the configured database holds no trace of the simulation
    assert count(configured["HUB_DATABASE_URL"], DecisionRow) == 0 == count(configured["HUB_DATABASE_URL"], OutboxAction)


def test_clicking_this_solved_it_updates_the_answer(configured: dict[str, Any], tmp_path: Path) -> None:
    sim = simulate_slack("I forgot my password, how do I reset it?", load_settings(configured), tmp_path, click="solved")
    assert sim.click == "This solved it"
    [answer] = sim.calls
    [update] = [c for c in sim.after_click if c.api == "chat.update"]
    assert update.args["channel"] == CHANNEL and update.args["ts"] == answer.response["ts"] and update.response["ok"]
    assert "Then the person clicks" in render(sim)


def test_the_persons_replies_in_the_thread_show_what_follows(configured: dict[str, Any], tmp_path: Path) -> None:
    sim = simulate_slack("I forgot my password, how do I reset it?", load_settings(configured), tmp_path,
                         replies=["thanks! also how do I export a report to CSV?", "ok"])
    asked, ok = sim.replies
    assert asked.status == 200 and [d["trigger"] for d in asked.decisions] == ["follow_up"]
    assert asked.decisions[0]["verdict"] == "escalate" and "answered_before" in asked.decisions[0]["reasons"]
    assert {c.args["channel"] for c in asked.calls} == {CHANNEL, TRIAGE}
    assert "export a report" in json.dumps([c.args for c in asked.calls if c.args["channel"] == TRIAGE])
    assert ok.decisions == [] and ok.calls == []  # the thread is a person's now
    shown = render(sim)
    assert "Then the person replies in the thread: 'thanks! also how do I export a report to CSV?'" in shown
    assert "Follow-up decision: ESCALATE" in shown and "Slack would receive no writes." in shown


def test_a_refund_escalates_with_a_draft_in_triage_and_a_notice_in_the_thread(configured: dict[str, Any], tmp_path: Path) -> None:
    sim = simulate_slack("I want a refund", load_settings(configured), tmp_path)
    assert sim.decision is not None and sim.decision["verdict"] == "escalate"
    assert sim.decision["reasons"][0] == "sensitive_topic:refund"
    [triage] = [c for c in sim.calls if c.args["channel"] == TRIAGE]  # the outbox runs both writes in parallel
    [notice] = [c for c in sim.calls if c.args["channel"] == CHANNEL]
    assert triage.args["channel"] == TRIAGE and "thread_ts" not in triage.args
    assert "I want a refund" in json.dumps(triage.args["blocks"]) and "sensitive topic" in json.dumps(triage.args["blocks"])
    assert notice.args["channel"] == CHANNEL and notice.args["thread_ts"] == sim.thread_ts
    assert "a person will follow up" in notice.args["text"]
    assert any("zendesk" in note for note in sim.notes)  # says what a real escalation would also do


def test_an_empty_database_falls_back_to_the_sample_kb(sqlite_url: str, tmp_path: Path) -> None:
    sim = simulate_slack("How do I export a report?", load_settings(settings_dict(sqlite_url)), tmp_path)
    assert "sample knowledge base" in sim.kb_source and sim.decision is not None and sim.decision["candidates"]
    assert sim.calls and all(c.response["ok"] for c in sim.calls)


def test_the_command_prints_the_slack_calls(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'configured.db'}"
    env = {"HUB_DATABASE_URL": url, "HUB_DENSE": "off"}  # no database yet: the sample KB
    result = run_hub("simulate", "slack", "I want a refund", "--json", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert not (tmp_path / "configured.db").exists()  # no empty database left where the admin's would be
    assert doc["decision"]["verdict"] == "escalate" and [c["api"] for c in doc["calls"]] == ["chat.postMessage"] * 2
    assert [c["args"].get("thread_ts") for c in doc["calls"] if c["args"]["channel"] == doc["channel"]] == [doc["thread_ts"]]
    blank = run_hub("simulate", "slack", "  ", env=env, cwd=tmp_path)
    assert blank.returncode == 2 and "TEXT must not be empty" in blank.stderr
    blank_reply = run_hub("simulate", "slack", "hello", "--reply", " ", env=env, cwd=tmp_path)
    assert blank_reply.returncode == 2 and "--reply TEXT must not be empty" in blank_reply.stderr
    odd = run_hub("simulate", "slack", "hello", "--channel", "#general", env=env, cwd=tmp_path)
    assert odd.returncode == 2 and "Slack channel id" in odd.stderr


def test_the_admin_page_shows_the_messages_slack_would_get(configured: dict[str, Any]) -> None:
    from app import build_hub, create_app

    hub = build_hub(load_settings({**configured, "HUB_ADMIN_TOKEN": "page-token"}))
    try:
        client = create_app(hub=hub).test_client()
        auth = {"Authorization": "Bearer page-token", "Accept": "text/html"}
        assert client.post("/admin/simulate", data={"text": "I want a refund"}).status_code == 401
        form = client.get("/admin/simulate", headers=auth)
        assert form.status_code == 200 and 'name="text"' in form.get_data(as_text=True)
        page = client.post("/admin/simulate", data={"text": "I forgot my password, how do I reset it?"}, headers=auth)
        html = page.get_data(as_text=True)
        assert page.status_code == 200 and 'id="sim-verdict">answer<' in html
        assert 'data-action="hub_feedback_solved"' in html and "Forgot password" in html and "kb.example/reset-password" in html
        assert "(rich_text block)" not in html  # the answer's rich text is shown as Slack shows it
        assert client.post("/admin/simulate", data={"text": "  "}, headers=auth).status_code == 400
        clicked = client.post("/admin/simulate", data={"text": "How do I reset my password?", "click": "not_solved"},
                              headers=auth).get_data(as_text=True)
        assert 'id="after-click"' in clicked and "I still need help" in clicked and "chat.postMessage" in clicked.split('id="after-click"')[1]
        assert count(configured["HUB_DATABASE_URL"], DecisionRow) == 0  # the configured database is untouched
    finally:
        hub.close()


def test_a_channel_in_shadow_mode_leaves_a_draft_instead_of_answering(configured: dict[str, Any], tmp_path: Path) -> None:
    policies = {"CSHADOW01": {"threshold": 0.5, "dry_run": True}}
    settings = load_settings({**configured, "HUB_CHANNEL_POLICIES": policies})
    sim = simulate_slack("I forgot my password, how do I reset it?", settings, tmp_path, channel="CSHADOW01")
    assert sim.channel == "CSHADOW01" and sim.decision is not None and sim.decision["dry_run"]
    assert all(c.args["channel"] != "CSHADOW01" or "thread_ts" not in c.args or "Forgot password" not in c.args["text"]
               for c in sim.calls)  # nothing public answers in the channel
    assert any(c.args["channel"] == TRIAGE and "Forgot password" in json.dumps(c.args) for c in sim.calls)


def test_the_note_about_escalations_names_only_a_help_desk(configured: dict[str, Any]) -> None:
    from dataclasses import replace

    from surfaces.simulate.slack import _notes

    settings = load_settings(configured)
    assert "zendesk ticket" in _notes(settings)[0]
    assert _notes(replace(settings, escalation_target="slack")) == () == _notes(replace(settings, escalation_target=None))



def test_a_slack_message_is_scored_as_its_words_asked_of_the_api(sqlite_url: str, tmp_path: Path) -> None:
    # a Slack request's subject is its first line: counted once, or its words would weigh twice in Slack only
    # (on the sample KB, "How do I change my plan?" scored 0.988 in Slack and 0.965 asked of the API)
    from app import build_hub, create_app
    from interceptor.kb.importer import articles_at
    from surfaces.simulate.slack import SAMPLE_KB

    db = Database(sqlite_url)
    import_articles(db, articles_at(SAMPLE_KB))
    db.dispose()
    settings = load_settings(settings_dict(sqlite_url, HUB_DENSE="auto"))  # the embeddings see a repeated line
    hub = build_hub(settings)  # fits the KB's cold start and stores it: the simulation copies it
    try:
        client = create_app(hub=hub).test_client()
        for n, text in enumerate(("How do I change my plan?", "I forgot my password\nThe reset email never came.")):
            (tmp_path / str(n)).mkdir()
            sim = simulate_slack(text, settings, tmp_path / str(n))  # a simulation of its own, as each command's
            asked = client.post("/api/v1/ask", json={"text": text}).get_json()
            assert sim.decision is not None and sim.decision["confidence"] == pytest.approx(asked["confidence"], abs=1e-4)
    finally:
        hub.close()
