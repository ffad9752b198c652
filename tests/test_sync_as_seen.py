"""The conversation after a hand-off reads on each side as a person sees it on the other: through the real app on
SQLite and PostgreSQL, Slack the loopback stub, Zendesk ``responses`` at the transport.

- An agent's reply reaches the thread whole and as written: not cut at one Slack section's 3000 characters, and
  its ``*_backup_*``, ``~/a and ~/b`` or backticks are not taken for Slack's mrkdwn; a reply longer than a Slack
  message holds says where the rest is.
- An agent's Jira comment reads in the thread as Jira shows it: a ``{code}`` or ``{noformat}`` block's content is
  literal in Jira (``rm ~/tmp/*_old_*``, a ``# comment`` line), and so in Slack, not stripped of "wiki marks".
- The people a thread message mentions (``<@U123>``) reach the ticket by name, as Slack shows them; so do the
  channels it mentions with their label empty (``<#C123|>``: ``conversations.info``), within the read's budget of
  lookups, and its emoji shortcodes (``:thumbsup:``) as the emoji (a custom one, code and times as written).
- An agent's Jira numbered list reads in the thread numbered, nested as in Jira.
"""

from __future__ import annotations

import json
from typing import Any, Iterator

import pytest

from core.db import OutboxAction
from tests.slack_stub import SlackStub, shown
from tests.sync_world import (
    stub,  # noqa: F401 - a fixture
    AGENT_USER, JIRA_AGENT, OTHER, RECORD_ID, REQUESTER_USER, World, comment_added, jira_comment, jira_comment_created, jira_world,
    running, say, serve_issue, serve_record, zendesk_comment, zendesk_world,
)
from tests.test_slack_flow import USER
from tests.test_zendesk_connector import BASE

TICKET_URL = f"{BASE}/agent/tickets/{RECORD_ID}"
STEP = "Step {i}: delete the *_backup_* files in ~/exports and ~/archive, then run `ls -la` to check."


@pytest.fixture
def world(database_url: str, stub: SlackStub) -> Iterator[World]:
    with running(zendesk_world, database_url, stub) as built:
        yield built


def mirrored(world: World, text: str) -> dict[str, Any]:
    """An agent replies ``text`` publicly on ticket 4014 (webhook, then the hub reads the ticket): the one post it made."""
    before = len(world.posts())
    serve_record(world.api, [zendesk_comment(11, AGENT_USER, text, public=True)])
    assert world.zendesk(comment_added(11, AGENT_USER, "Joshua Teitelbaum", staff=True), "inv-11").status_code == 200
    world.drain()
    [post] = world.posts()[before:]
    [row] = [r for r in world.rows(OutboxAction) if r.idempotency_key.startswith("mirror:")]
    assert row.status == "done"
    return post.args


def within_slack_limits(post: dict[str, Any]) -> None:
    """NOTE(slack): at most 50 blocks a message, 3000 characters a block's text (the hub holds rich text to the
    section limit too); the notification ``text`` is bounded as well."""
    blocks = post["blocks"]
    assert 0 < len(blocks) <= 50 and len(post["text"]) <= 3000
    for block in blocks:
        assert block["type"] == "rich_text", "an agent's words are shown as written, not read as mrkdwn"
        assert len(shown([block])) <= 3000


def test_a_long_agent_reply_reaches_the_thread_whole_and_as_written(world: World) -> None:
    reply = "\n\n".join(STEP.format(i=i) for i in range(100))  # 9,000 characters: three sections' worth
    post = mirrored(world, reply)
    within_slack_limits(post)
    seen = shown(post["blocks"])
    assert seen.startswith(f"Joshua Teitelbaum replied on your ticket {TICKET_URL}:")
    assert reply in seen, "every step reaches the requester, its asterisks, tildes and backticks as the agent wrote them"


def test_a_reply_longer_than_a_slack_message_holds_says_where_the_rest_is(world: World) -> None:
    reply = "\n\n".join(STEP.format(i=i) for i in range(800))  # 72,000 characters (a Zendesk comment may hold more)
    post = mirrored(world, reply)
    within_slack_limits(post)
    seen = shown(post["blocks"])
    assert STEP.format(i=0) in seen and STEP.format(i=150) in seen and STEP.format(i=799) not in seen
    assert seen.rstrip().endswith(f"read all of it on the ticket {TICKET_URL}]"), "the requester is told where the rest is"


def comments(world: World, before: int) -> list[dict[str, Any]]:
    return [json.loads(c.request.body)["ticket"]["comment"] for c in world.api.calls if c.request.method == "PUT"][before:]


def test_people_a_thread_message_mentions_reach_the_ticket_by_name(world: World) -> None:
    before = len(comments(world, 0))
    say(world, USER, "<@U0BOBBY01> can you check <https://status.example.com|the status page>? cc <@U0NOBODY1>", "1800000100.000100")
    say(world, OTHER, f"<@{USER}> the invoice is attached to your account", "1800000101.000100")
    world.drain()
    [public] = [c for c in comments(world, before) if c["public"]]
    [internal] = [c for c in comments(world, before) if not c["public"]]  # carried by parallel workers: in either order
    # Bob is known to Slack (users.info); the one Slack does not know stays as Slack names them.
    assert public == {"body": "@Bob Teammate can you check the status page (https://status.example.com)? cc @U0NOBODY1", "public": True,
                      "author_id": REQUESTER_USER}
    assert internal == {"body": "Bob Teammate wrote in Slack:\n\n@Ada Lovelace the invoice is attached to your account", "public": False}


def test_channels_a_thread_message_mentions_unnamed_reach_the_ticket_by_name(world: World) -> None:
    before = len(comments(world, 0))
    world.stub.seed_channel("C0BILLING1", "billing")
    world.stub.seed_channel("C0SECRET01", "secret", is_private=True)
    world.stub.scopes = tuple(s for s in world.stub.scopes or () if s != "groups:read")  # refused: missing_scope
    say(world, USER, "asked in <#C0BILLING1|> and <#C0SECRET01> (<#C0GONE0001|>), see <#C0HELP0001|help>", "1800000100.000100")
    world.drain()
    [public] = comments(world, before)
    # Slack names the one it knows; the one it refuses and the one it cannot find stay as their ids.
    assert public["body"] == "asked in #billing and #C0SECRET01 (#C0GONE0001), see #help"
    assert [c.args["channel"] for c in world.stub.calls_to("conversations.info")][-3:] == ["C0BILLING1", "C0SECRET01", "C0GONE0001"]


def test_a_message_naming_many_channels_costs_a_read_its_budget_of_lookups_at_most(world: World) -> None:
    before, looked = len(comments(world, 0)), len(world.stub.calls_to("conversations.info")) + len(world.stub.calls_to("users.info"))
    mentions = " ".join(f"<#C0MANY{n:04d}|>" for n in range(30))
    say(world, USER, f"<@U0BOBBY01> all of {mentions}", "1800000100.000100")
    world.drain()
    [public] = comments(world, before)
    assert public["body"].startswith("@Bob Teammate all of #C0MANY0000 #C0MANY0001")
    calls = len(world.stub.calls_to("conversations.info")) + len(world.stub.calls_to("users.info")) - looked
    assert calls == 20, "at most 20 lookups a read, the people (its author, Bob) first"
    assert len(world.stub.calls_to("users.info")) and [c.args["channel"] for c in world.stub.calls_to("conversations.info")][-1] == "C0MANY0017"


def test_emoji_in_a_thread_message_reach_the_ticket_as_the_emoji(world: World) -> None:
    before = len(comments(world, 0))
    say(world, USER, "works now :thumbsup::skin-tone-2: :white_check_mark: :partyparrot: since 10:30:00 (`:tada:`)", "1800000100.000100")
    world.drain()
    [public] = comments(world, before)
    assert public["body"] == "works now \U0001F44D\U0001F3FB \u2705 :partyparrot: since 10:30:00 (`:tada:`)"


WIKI = """Please run this, then tell me what it prints:
{code:bash}
# count the old backups
ls ~/tmp/*_old_* | wc -l
{code}
If it says [x|y] or *_v2_*, that is {noformat}[config|~/app/*.ini]{noformat}. *Thanks*"""
SHOWN = """Please run this, then tell me what it prints:

# count the old backups
ls ~/tmp/*_old_* | wc -l

If it says x (y) or v2, that is [config|~/app/*.ini]. Thanks"""


NUMBERED = "Try these:\n# Open *Billing*\n## Plans\n## Pro\n# Pick a plan\n#* the yearly one\n# Save\n\nThen:\n# reload"
NUMBERED_SHOWN = "Try these:\n1. Open Billing\n  1. Plans\n  2. Pro\n2. Pick a plan\n  - the yearly one\n3. Save\n\nThen:\n1. reload"


@pytest.mark.parametrize("markup, seen", [
    pytest.param(WIKI, SHOWN, id="code: the command the agent wrote, not one with its marks stripped"),
    pytest.param(NUMBERED, NUMBERED_SHOWN, id="numbered: steps as Jira numbers them, not bullets"),
])
def test_an_agents_jira_markup_reaches_the_thread_as_jira_shows_it(database_url: str, stub: SlackStub, markup: str,
                                                                      seen: str) -> None:
    with running(jira_world, database_url, stub) as world:
        comment = jira_comment("20001", JIRA_AGENT, markup, jsdPublic=True)
        serve_issue(world.api, [comment])
        assert jira_comment_created(world, comment).status_code == 200
        world.drain()
        [_, post] = world.posts()
        within_slack_limits(post.args)
        assert shown(post.args["blocks"]).endswith(seen)
