"""``hub simulate slack "TEXT" [--json]``: print exactly the Slack messages and blocks the hub would post."""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import click

from config.settings import load_settings, read_sources
from core.errors import ConfigError
from core.words import plural
from interceptor.compose import shown_against
from surfaces.cli.database import uses_database
from surfaces.simulate.recorder import Call
from surfaces.simulate.replies import MAX_REPLIES, MAX_REPLIES_CHARS
from surfaces.simulate.slack import CHANNEL, Simulation, simulate_slack


def render(sim: Simulation) -> str:
    """The simulation as an admin reads it in a terminal: the decision, then every Slack write in order."""
    lines = [f"Simulated Slack message in #{sim.channel} (thread {sim.thread_ts}): {sim.text!r}",
             f"Knowledge base: {sim.kb_source}.", f"POST /slack/events answered {sim.status}.", *sim.notes, ""]
    if sim.decision is None:
        lines.append("No decision was recorded: the hub did not take this message as a request.")
    else:
        lines += _decision("Decision", sim.decision)
    lines += ["", f"Slack would receive {plural(len(sim.calls), 'write')}:"]
    for i, call in enumerate(sim.calls, 1):
        lines += ["", *_call(i, call)]
    done = len(sim.calls)
    if sim.click is not None or sim.after_click:
        lines += ["", f"Then the person clicks \"{sim.click}\"; Slack would receive {plural(len(sim.after_click), 'write')}:"]
        for i, call in enumerate(sim.after_click, done + 1):
            lines += ["", *_call(i, call)]
        done += len(sim.after_click)
    for reply in sim.replies:
        lines += ["", f"Then the person replies in the thread: {reply.text!r} (POST /slack/events answered {reply.status}).",
                  reply.summary, reply.recorded]
        for d in reply.decisions:
            lines += _decision("Follow-up decision", d)
        if not reply.decisions:
            lines.append("No decision was made on it.")
        lines.append(f"Slack would receive {plural(len(reply.calls), 'write')}:" if reply.calls else "Slack would receive no writes.")
        for i, call in enumerate(reply.calls, done + 1):
            lines += ["", *_call(i, call)]
        done += len(reply.calls)
    return "\n".join(lines)


def _decision(title: str, d: dict[str, Any]) -> list[str]:
    verdict = "SHADOW ANSWER (shadow mode: a draft instead of the answer)" if d["shadow"] else d["verdict"].upper()
    confidence, threshold = shown_against(d["confidence"], d["threshold"])
    return [f"{title}: {verdict}  confidence {confidence} (threshold {threshold})",
            f"Reasons:  {', '.join(d['reasons']) or '-'}",
            *(f"  candidate: {c['title']} ({c['score']})" for c in d["candidates"])]


def _call(i: int, call: Call) -> list[str]:
    where = f"channel {call.args.get('channel')}" + (f", in thread {call.args['thread_ts']}" if call.args.get("thread_ts") else "")
    if call.api == "chat.update":
        where = f"channel {call.args.get('channel')}, message {call.args.get('ts')}"
    out = [f"{i}. {call.api} ({where}){'' if call.response.get('ok') else ' -> error ' + str(call.response.get('error'))}",
           "   text:"]
    out += [f"     {line}" for line in str(call.args.get("text", "")).splitlines() or [""]]
    blocks = call.args.get("blocks")
    if blocks:
        parsed = json.loads(blocks) if isinstance(blocks, str) else blocks
        out += ["   blocks:"] + [f"     {line}" for line in json.dumps(parsed, indent=2, ensure_ascii=False).splitlines()]
    return out


def as_json(sim: Simulation) -> dict[str, Any]:
    """The simulation as JSON: the decisions and the Slack writes with their full arguments."""
    return {"text": sim.text, "channel": sim.channel, "thread_ts": sim.thread_ts, "kb_source": sim.kb_source,
            "status": sim.status, "decision": sim.decision, "notes": list(sim.notes), "calls": _calls(sim.calls),
            "click": sim.click, "after_click": _calls(sim.after_click),
            "replies": [{"text": r.text, "status": r.status, "decisions": r.decisions, "calls": _calls(r.calls),
                         "read_as": r.reading, "then": r.conclusion,
                         "outcomes": [{"kind": o["kind"], "detail": o["detail"]} for o in r.outcomes]}
                        for r in sim.replies]}


def _calls(calls: list[Call]) -> list[dict[str, Any]]:
    return [{"api": c.api, "args": c.args, "ok": bool(c.response.get("ok"))} for c in calls]


@click.group()
def simulate() -> None:
    """Try the hub without connecting anything: see what a channel's users would get."""


@simulate.command("slack")
@click.argument("text")
@click.option("--json", "json_out", is_flag=True, help="Print the decision and the Slack calls as JSON.")
@click.option("--click", "button", type=click.Choice(["solved", "not-solved"]), default=None,
              help="Then click this button on the answer, as the person would, and show what follows.")
@click.option("--reply", "replies", multiple=True, metavar="TEXT",
              help="Then post TEXT in the thread as the person who asked (a follow-up such as \"that didn't help\"); "
                   f"repeat for several replies, in order (at most {MAX_REPLIES}, {MAX_REPLIES_CHARS} characters in all).")
@click.option("--channel", default=CHANNEL, show_default=True,
              help="The Slack channel id to post in: its HUB_CHANNEL_POLICIES entry (threshold, shadow mode) applies.")
@click.option("-v", "--verbose", is_flag=True, help="Show the hub's logs.")
@uses_database(missing_ok=True)  # no database yet: the sample KB
def slack(text: str, json_out: bool, button: str | None, replies: tuple[str, ...], channel: str, verbose: bool) -> None:
    """Post TEXT as a new Slack message and print exactly what the hub would post back (messages and
    blocks), through the real pipeline, outbox and Slack connector against a recording Slack on 127.0.0.1.
    Nothing reaches Slack, Zendesk or Jira, and nothing is written to the configured database."""
    if not text.strip():
        raise click.UsageError("TEXT must not be empty")
    if any(not reply.strip() for reply in replies):
        raise click.UsageError("--reply TEXT must not be empty")
    chars = len("\n".join(replies))  # counted as the page counts its field: the replies one per line
    if chars > MAX_REPLIES_CHARS:
        raise click.UsageError(f"--reply: the replies must be at most {MAX_REPLIES_CHARS} characters in all ({chars} given)")
    if len(replies) > MAX_REPLIES:
        raise click.UsageError(f"--reply: give at most {MAX_REPLIES} replies ({len(replies)} given)")
    if not re.fullmatch(r"[A-Z0-9]{2,30}", channel):
        raise click.UsageError("--channel must be a Slack channel id such as C0123ABCD")
    if not verbose:
        logging.disable(logging.WARNING)  # the pipeline's INFO/WARNING lines would bury the output
        os.environ.setdefault("TQDM_DISABLE", "1")  # and so would the model's loading bars
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    try:
        with tempfile.TemporaryDirectory(prefix="hub-simulate-") as workdir:
            sim = simulate_slack(text, load_settings(read_sources()), Path(workdir), click=button, channel=channel,
                                 replies=replies)
    except ConfigError as e:
        raise click.ClickException(str(e)) from e
    finally:
        logging.disable(logging.NOTSET)
    click.echo(json.dumps(as_json(sim), indent=2, ensure_ascii=False) if json_out else render(sim))
    if button and sim.click is None and not json_out:
        click.echo(f"\nNo message the hub posted has a \"{button}\" button, so nothing was clicked.")
