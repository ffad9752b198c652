"""``hub ask "TEXT" [--json] [--channel C] [--local] [-v]``: the decision on one question against the current KB.

A running hub answers in milliseconds with its KB already loaded, so ``hub ask`` first asks the server at
``HUB_URL`` (default ``http://127.0.0.1:$HUB_PORT``, port 8000), without recording the question. When no server
answers there it says so and decides here, which loads the KB index (and the embedding model) first: seconds.
Logs stay quiet (warnings only, no progress bars) unless ``-v``.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from typing import TYPE_CHECKING, Any

import click

from surfaces.cli.port import DEFAULT_PORT, parse_port

if TYPE_CHECKING:
    from config import Settings

# Only the local path imports the database, settings and interceptor (see ``decide_here``): a question a
# running server answers costs this process no more than click, json and urllib.

MAX_TEXT_CHARS = 8000  # as the web API (surfaces.views.MAX_TEXT_CHARS; a test keeps them equal)
EMPTY_KB = ("(the knowledge base is empty: nothing can be answered until you import articles with `hub kb import PATH`, "
            "e.g. config/sample_kb)")


def server_url() -> str:
    """The hub server ``hub ask`` tries first: ``HUB_URL``, else the local address ``hub serve`` uses.

    Raises:
        click.ClickException: ``HUB_URL`` is not an http(s) address, or ``HUB_PORT`` not a port number.
    """
    url = os.environ.get("HUB_URL")
    if url:
        try:
            parts = urllib.parse.urlsplit(url)
            valid = parts.scheme in ("http", "https") and bool(parts.hostname) and parts.port != 0
        except ValueError:  # a port that is not a number, or out of range
            valid = False
        if not valid:
            raise click.ClickException(f"HUB_URL is {url!r}: set it to the hub server's address, e.g. "
                                       f"http://127.0.0.1:{DEFAULT_PORT}, or unset it to use HUB_PORT")
        return url
    given = os.environ.get("HUB_PORT") or str(DEFAULT_PORT)
    port = parse_port(given)
    if port is None:
        raise click.ClickException(f"HUB_PORT is {given!r}: set it to the port `hub serve` listens on (1-65535), e.g. {DEFAULT_PORT}")
    return f"http://127.0.0.1:{port}"


def render(view: dict[str, Any]) -> str:
    """Return a decision's JSON view (:func:`surfaces.views.decision_json`) as an admin reads it in a terminal.
    The confidence is shown against its threshold as the agents' draft shows it: never as reaching a threshold
    it is under."""
    from interceptor.compose import shown_against  # light (no model, no database): see the note above
    lines = [
        f"verdict:    {view['verdict']}{' (dry run)' if view['dry_run'] else ''}",
        "confidence: {} (threshold {})".format(*shown_against(view["confidence"], view["threshold"])),
        f"reasons:    {', '.join(view['reasons'])}",
    ]
    if view["answer"] is not None:
        lines += ["", "answer:", view["answer"]]
    lines += ["", "citations:"]
    lines += [f"- {c['title']}" + (f" <{c['url']}>" if c["url"] else "") for c in view["citations"]] or ["(none)"]
    if view["draft"] is not None:
        lines += ["", "draft for agents:", view["draft"]]
    return "\n".join(lines)


def ask_server(url: str, text: str, channel: str | None, timeout: float = 30.0) -> dict[str, Any] | None:
    """Ask the hub server at ``url`` for a decision it does not record.

    Returns:
        The decision's JSON view, or ``None`` when no hub answers at ``url`` (nothing listening, or not a hub).

    Raises:
        click.ClickException: the server refused the question (4xx), with its message.
    """
    body = json.dumps({"text": text, "channel": channel, "record": False}).encode()
    req = urllib.request.Request(f"{url.rstrip('/')}/api/v1/ask", data=body, method="POST",
                                 headers={"Content-Type": "application/json", "Accept": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:  # noqa: S310 - an admin-given URL
            view: dict[str, Any] = json.loads(response.read())
    except urllib.error.HTTPError as e:
        if 400 <= e.code < 500 and e.code != 404:
            raise click.ClickException(f"the hub server at {url} refused the question: {_error_of(e)}") from e
        return None
    except (OSError, ValueError):  # refused, unreachable, timed out, not JSON
        return None
    if not isinstance(view, dict) or "verdict" not in view:
        return None  # something else answers there
    view.pop("ref", None)  # nothing was recorded: there is no request to refer to
    return view


def _error_of(e: urllib.error.HTTPError) -> str:
    try:
        return str(json.loads(e.read()).get("error", e.reason))
    except (ValueError, AttributeError):
        return str(e.reason)


def decide_here(settings: Settings, text: str, channel: str | None) -> dict[str, Any]:
    """Decide in this process (loads the KB index first) and return the decision's JSON view."""
    from sqlalchemy.exc import OperationalError

    from core.db import Database
    from interceptor.engine import build_interceptor
    from interceptor.kb.manage import kb_status
    from surfaces.cli.database import cannot_open, unreachable
    from surfaces.views import decision_json

    db = Database(settings.database_url)
    try:
        if not kb_status(db).articles:
            click.echo(EMPTY_KB, err=True)
        decision = build_interceptor(settings, db).decide(text, channel=channel)
    except OperationalError as e:
        if unreachable(e):  # it went away after check_database: the one line every command gives
            raise cannot_open(settings.database_url, e) from None
        raise click.ClickException(f"the database is not ready ({type(e.orig).__name__}): run `hub db upgrade`") from e
    finally:
        db.dispose()
    return decision_json(decision)


@click.command()
@click.argument("text")
@click.option("--json", "as_json", is_flag=True, help="Print the decision as JSON.")
@click.option("--channel", default=None, help="Decide with this channel's policy (web, slack, zendesk, jira, or a "
                                              "channel named in HUB_CHANNEL_POLICIES).")
@click.option("--local", is_flag=True, help="Decide in this process even when a hub server is running.")
@click.option("-v", "--verbose", is_flag=True, help="Show the log lines and progress bars (as `hub -v ask`).")
def ask(text: str, as_json: bool, channel: str | None, local: bool, verbose: bool) -> None:
    """Decide on one question against the current knowledge base; print verdict, confidence, answer and
    citations (and the agents' draft when it would go to a person). Nothing is recorded."""
    if verbose:  # `hub ask -v` as `hub -v ask`
        from surfaces.cli import verbose_logs

        verbose_logs()
    if not text.strip():
        raise click.BadParameter("the question is empty", param_hint="TEXT")
    if len(text) > MAX_TEXT_CHARS:
        raise click.BadParameter(f"the question is longer than {MAX_TEXT_CHARS} characters", param_hint="TEXT")
    url = server_url()
    view = None if local else ask_server(url, text, channel)
    if view is not None:
        click.echo(f"(answered by the hub server at {url})", err=True)
        if view.get("kb_version") == "empty":  # core.kb.EMPTY_VERSION (not imported: this path stays light)
            click.echo(EMPTY_KB, err=True)
    else:
        from config import load_settings
        from surfaces.views import channel_problem

        settings = load_settings()
        if channel is not None and (problem := channel_problem(channel, settings)) is not None:
            raise click.BadParameter(problem, param_hint="--channel")
        from surfaces.cli.database import check_database

        check_database(settings)
        if not local:
            click.echo(f"(no hub server at {url}: loading the knowledge base here, which takes a few seconds; "
                       "`hub serve` answers at once; a server on another port or host: set HUB_PORT or HUB_URL)", err=True)
        view = decide_here(settings, text, channel)
    if as_json:
        click.echo(json.dumps(view, indent=2, ensure_ascii=False))
    else:
        click.echo(render(view))
