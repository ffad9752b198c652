"""The asker's replies in a simulated thread: the replies field of ``/admin/simulate`` and ``hub simulate slack
--reply`` run the same simulation and show how the hub read each reply, what it recorded and what Slack gets."""

from __future__ import annotations

import json
from collections.abc import Iterator
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import surfaces.simulate.command
from app import cli
from config import load_settings
from conftest import settings_dict
from core.db import Database, DecisionRow
from core.errors import ConfigError
from interceptor.kb.importer import import_articles, parse_markdown
from surfaces.simulate.replies import MAX_REPLIES, MAX_REPLIES_CHARS, replies_field
from surfaces.simulate.slack import CHANNEL, TRIAGE
from test_cli import run_hub
from test_simulate import ARTICLES, POLICY, count

ANSWERED = "I forgot my password, how do I reset it?"  # the KB's reset-password article answers it
AUTH = {"Authorization": "Bearer page-token", "Accept": "text/html"}


@pytest.fixture
def configured(sqlite_url: str) -> dict[str, Any]:
    """A configured install whose knowledge base answers ``ANSWERED`` (the storage backend is not under test)."""
    db = Database(sqlite_url)
    import_articles(db, (parse_markdown(text, name) for name, text in ARTICLES.items()))
    db.dispose()
    return settings_dict(sqlite_url, HUB_ADMIN_TOKEN="page-token", **POLICY)


@pytest.fixture
def client(configured: dict[str, Any]) -> Iterator[Any]:
    from app import build_hub, create_app

    hub = build_hub(load_settings(configured))
    try:
        yield create_app(hub=hub).test_client()
    finally:
        hub.close()


def reply_section(html: str, n: int) -> str:
    """The text of the page's section for reply ``n`` (1-based), entities decoded."""
    start = html.index(f'id="reply-{n}"')
    end = html.find("</section>", start)
    return unescape(html[start:end])


def test_a_reply_that_says_it_worked_records_solved(client: Any, configured: dict[str, Any]) -> None:
    page = client.post("/admin/simulate", data={"text": ANSWERED, "replies": "thanks, that worked\r\n\r\n  ok  \r\n"},
                       headers=AUTH)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'id="sim-verdict">answer<' in html
    worked = reply_section(html, 1)
    assert "thanks, that worked" in worked and "Read as: says the answer worked." in worked
    assert "Then: recorded the answer as solved." in worked and "Recorded: solved (via reply)" in worked
    assert "Nothing would be posted." in worked  # a confirmation posts nothing
    ok = reply_section(html, 2)  # the blank line is no reply; "  ok  " is the second, trimmed
    assert ">ok<" in ok and "Then: nothing to do." in ok and "Recorded: nothing" in ok
    assert 'id="reply-3"' not in html
    assert '<textarea id="replies" name="replies"' in html and "thanks, that worked\r\n\r\n  ok  \r\n</textarea>" in html
    assert count(configured["HUB_DATABASE_URL"], DecisionRow) == 0  # the configured database is untouched


def test_a_reply_that_says_it_did_not_help_goes_to_a_person(client: Any) -> None:
    html = client.post("/admin/simulate", data={"text": ANSWERED, "replies": "that didn't help"},
                       headers=AUTH).get_data(as_text=True)
    section = reply_section(html, 1)
    assert "Read as: says the answer did not help." in section
    assert "Then: recorded that the answer did not help and handed the thread to a person." in section
    assert "Recorded: not solved (via not_solved), escalated (reason not_solved)" in section
    assert ">escalate<" in section  # the follow-up decision's badge
    assert f'data-channel="{TRIAGE}"' in section and f'data-channel="{CHANNEL}"' in section  # draft and notice
    # the triage post's mrkdwn as Slack shows it, not its control sequences
    assert f"A request in #{CHANNEL} needs a person: open the thread (https://" in section and "<#" not in section


def test_a_new_question_goes_to_a_person_as_a_new_ask(client: Any) -> None:
    html = client.post("/admin/simulate", data={"text": ANSWERED, "replies": "how do I export a report to CSV?\nhello?"},
                       headers=AUTH).get_data(as_text=True)
    section = reply_section(html, 1)
    assert "Read as: asks something new. Then: handed the thread to a person." in section
    assert "Recorded: escalated (reason new_ask)" in section
    assert f'data-channel="{TRIAGE}"' in section and "export a report to CSV" in section
    after = reply_section(html, 2)  # the thread is a person's now: the hub leaves it to them
    assert "Then: nothing to do: a person already has the thread." in after and "Recorded: nothing" in after


def test_every_field_is_escaped(client: Any) -> None:
    evil = "<script>alert(1)</script>"
    page = client.post("/admin/simulate", data={"text": f"{evil} how do I reset my password?",
                                                "replies": f"{evil} where is that?\n{evil}"}, headers=AUTH)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'id="reply-2"' in html
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt; where is that?" in html
    refused = client.post("/admin/simulate", data={"text": evil, "replies": (evil + "\n") * 11}, headers=AUTH)
    assert refused.status_code == 400 and "<script>" not in refused.get_data(as_text=True)


def test_too_many_or_too_long_replies_are_refused_with_the_limit_named(client: Any) -> None:
    eleven = "\n".join(f"reply {i}" for i in range(MAX_REPLIES + 1))
    page = client.post("/admin/simulate", data={"text": ANSWERED, "replies": eleven}, headers=AUTH)
    html = page.get_data(as_text=True)
    assert page.status_code == 400 and "Type at most 10 replies, one per line (11 typed)." in html
    assert "reply 10</textarea>" in html and f">{ANSWERED}</textarea>" in html  # the form keeps what was typed
    assert 'id="result"' not in html
    long = client.post("/admin/simulate", data={"text": ANSWERED, "replies": "x" * (MAX_REPLIES_CHARS + 1)}, headers=AUTH)
    assert long.status_code == 400 and "The replies must be at most 4000 characters in all (4001 typed)." in long.get_data(as_text=True)
    assert client.post("/admin/simulate", data={"text": "  ", "replies": "ok"}, headers=AUTH).status_code == 400
    assert client.post("/admin/simulate", data={"text": ANSWERED, "replies": "thanks"}).status_code == 401


def test_the_replies_field_is_one_reply_a_line() -> None:
    assert replies_field("") == ([], None) == replies_field(" \r\n \n")
    assert replies_field("a\r\nb\rc\n\n d ") == (["a", "b", "c", "d"], None)
    assert replies_field("\n".join("r" * 10 for _ in range(10)))[1] is None
    assert replies_field("\r\n".join("x" * 399 for _ in range(10)))[1] is None  # 3999 characters: a line break is one
    assert "at most 4000 characters" in str(replies_field("x" * 4001)[1])


def test_the_command_prints_what_each_reply_recorded(configured: dict[str, Any], tmp_path: Path) -> None:
    env = {"HUB_DATABASE_URL": configured["HUB_DATABASE_URL"], "HUB_DENSE": "off",
           "HUB_CHANNEL_POLICIES": json.dumps(POLICY["HUB_CHANNEL_POLICIES"])}
    result = run_hub("simulate", "slack", ANSWERED, "--reply", "thanks, that worked", "--reply", "that didn't help",
                     env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Then the person replies in the thread: 'thanks, that worked'" in out
    assert "Read as: says the answer worked. Then: recorded the answer as solved.\nRecorded: solved (via reply)" in out
    assert "Recorded: not solved (via not_solved), escalated (reason not_solved)" in out
    doc = json.loads(run_hub("simulate", "slack", ANSWERED, "--reply", "thanks, that worked", "--json",
                             env=env, cwd=tmp_path).stdout)
    assert doc["replies"][0]["outcomes"] == [{"kind": "solved", "detail": {"via": "reply"}}]
    assert doc["replies"][0]["read_as"] == "says the answer worked"


@pytest.mark.parametrize("replies, error", [
    ([f"reply {i}" for i in range(MAX_REPLIES + 1)], "--reply: give at most 10 replies (11 given)"),
    (["x" * (MAX_REPLIES_CHARS + 1)], "--reply: the replies must be at most 4000 characters in all (4001 given)"),
    (["x" * 2000, "y" * 2000], "at most 4000 characters in all (4001 given)"),  # a line break between, as on the page
    ([f"reply {i}" for i in range(MAX_REPLIES)], None),
    (["x" * MAX_REPLIES_CHARS], None),
])
def test_the_command_refuses_the_pages_limits_before_simulating(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                                 replies: list[str], error: str | None) -> None:
    simulated: list[tuple[str, ...]] = []

    def recorded(text: str, settings: Any, workdir: Path, **kwargs: Any) -> Any:
        simulated.append(tuple(kwargs["replies"]))
        raise ConfigError("simulated")  # stops the command here: what is under test is what reached this point

    monkeypatch.setattr(surfaces.simulate.command, "simulate_slack", recorded)
    args = ["simulate", "slack", ANSWERED, *(arg for reply in replies for arg in ("--reply", reply))]
    result = CliRunner().invoke(cli, args, env={"HUB_DATABASE_URL": f"sqlite:///{tmp_path / 'hub.db'}", "HUB_DENSE": "off",
                                               "HUB_CONFIG": None})
    if error is None:
        assert result.exit_code == 1 and simulated == [tuple(replies)], result.output
    else:
        assert result.exit_code == 2 and error in result.stderr and simulated == [], result.output
        assert "Usage: " in result.stderr and not result.stdout
