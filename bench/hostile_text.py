"""Hostile-text benchmark: adversarial texts of the largest size the hub accepts, fed to every pure text function
on the paths a requester's or a KB's text travels; one line per (function, input) with seconds.

An attacker sends text, not only malformed payloads: a regex that backtracks, a per-character loop that rescans
the rest of the text or a nested loop over words x sentences turns one message into seconds of a worker's CPU.
Each function is timed on plain prose of the same size first (the ``prose`` line); an input is flagged ``SLOW``
over 0.5 s, or over 5x prose (and over 0.05 s). A run over ``--timeout`` seconds is stopped and shown as ``>``;
one that raises is shown as ``FAIL`` with the exception's name (and counted with the slow ones).

Sizes (where the text enters):
- ``slack``: a Slack message, at most 40,000 characters (Slack's own limit on ``text``).
- ``api``: ``/api/v1/ask``'s ``text``, at most ``surfaces.views.MAX_TEXT_CHARS`` (8,000).
- ``webhook``: a Zendesk or Jira comment, bounded only by ``HUB_MAX_BODY_BYTES`` (1 MiB by default).
- ``page``: an HTML or Markdown KB page (1.5 MB).

Usage: python bench/hostile_text.py [--only SUBSTRING] [--timeout 10] [--scale 1.0]
(``--scale 0.25`` runs every size at a quarter, to see how a function grows.)
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterator

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SIZES = {"slack": 40_000, "api": 8_000, "webhook": 1024 * 1024, "page": 1_500_000}
FLAG_SECONDS = 0.5
PROSE = ("My laptop will not connect to the VPN since this morning, and I have tried restarting it twice. "
         "How do I reset my password? Could you also tell me where the expense portal is?\n\n")
_RUNS = ["*a ", "*", "_a", "_a ", "_", "~", "~a ", "`", "`a ", ">", "> ", "<", "<a ", "&", "&amp;", "[", "]", "[a",
         "[a]", "(", ")", "(a", "a)", "|", "|a", "!", "!a", "-", "- ", "#", "# ", "\\", "\\a", ":", "@", "<@U123>",
         "<@U123", "<http://x|y>", "<http://x|", "?", "? ", "a?", ".", ". ", "\n", "\n\n", " ", "\t", "\u200b",
         "\u202e", "\U0001f600", "e\u0301", "{{", "}}", "{code}", "^", "+", "+a ", "**a ", "__a ", "http://x ",
         "http://x)", "[a](", "](a", "![", "[^1]", "| a ", "1. ", "=", "'", "a'", "a_b ", "*a*", "_a_ "]

_HTML_RUNS = ["<br", "<a ", "<!--", "</", "<![CDATA[", "&#", '<a href="', "<", "<a x='", "<!--x>", "<![CDATA[x>",
              "<![if x>", "<![x>"]  # what never closes, for Python's HTML parser (CVE-2025-6069: core.html_feed)


def texts(size: int) -> Iterator[tuple[str, str]]:
    """``(name, text)`` pairs of about ``size`` characters: plain prose first, then the hostile ones."""
    yield "prose", (PROSE * (size // len(PROSE) + 1))[:size]
    for run in _RUNS:
        yield f"run {run!r}", (run * (size // len(run) + 1))[:size]
    yield "one word", "a" * size
    yield "one url", "http://x/" + "a" * (size - 9)
    yield "url then )", "http://x/" + ")" * (size - 9)
    yield "url then .", "http://x/" + "." * (size - 9)
    yield "greetings", ("hi " * size)[:size]
    yield "questions", ("why? " * size)[:size]
    yield "sentences?", ("Can I reset it? " * size)[:size]
    yield "thanks", ("thanks " * size)[:size]
    yield "instead of", ("instead of " * size)[:size]
    yield "not using", ("is it not using my a b " * size)[:size]
    yield "and how", ("and how and also how " * size)[:size]
    yield "it it", ("it " * size)[:size]
    yield "words", " ".join(f"w{i}x" for i in range(size))[:size]
    yield "misspelt", ("passwrod invoises recieve " * size)[:size]
    yield "long lines", ("a" * 999 + "\n") * (size // 1000)
    yield "headings", ("# h\n" * size)[:size]
    yield "setext", ("h\n=\n" * size)[:size]
    yield "table", "| a | b |\n| --- | --- |\n" + "| x | y |\n" * (size // 10)
    yield "list", ("- item\n" * size)[:size]
    yield "quotes", ("> " * size)[:size]
    yield "nested tags", "<div>" * (size // 11) + "x" + "</div>" * (size // 11)
    yield "unclosed tags", "<b>a" * (size // 4)
    yield "html table", "<table>" + "<tr><td>a</td><td>b</td></tr>" * (size // 30) + "</table>"
    yield "html headings", "<h2>t</h2><p>x</p>" * (size // 18)
    yield "html lists", "<ul>" * (size // 8) + "<li>x" * (size // 8)
    yield "html comments", "<!--" * (size // 4)
    yield "html entities", "&#x41;" * (size // 6)
    yield "br", "<br>" * (size // 4)
    for run in _HTML_RUNS:  # each alone (no ">" after it) and with a ">" after each or at the end
        yield f"html {run!r}", (run * (size // len(run) + 1))[:size]
        yield f"html {run!r}+'>'", (run * (size // len(run) + 1))[:size - 1] + ">"
    yield "html page '<!--x>'", "<html><body><article>" + "<!--x>" * (size // 6)
    yield "html attributes", "<a " + "x=1 " * (size // 4) + ">"
    yield "html quotes", "<a " + "x='y>" * (size // 5)
    yield "code fence", "```\n" + "a\n" * (size // 2)
    yield "fences", "```\n" * (size // 4)
    yield "references", "[a]: http://x\n" * (size // 14) + "[a] " * 10
    yield "footnotes", "[^1]: x\n" * (size // 8) + "[^1] " * 10


class Timeout(Exception):
    pass


def _alarm(signum: int, frame: Any) -> None:
    raise Timeout


def timed(fn: Callable[[str], Any], text: str, timeout: float) -> float | None:
    """Seconds ``fn(text)`` took, or ``None`` when it ran over ``timeout``."""
    signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    started = time.perf_counter()
    try:
        fn(text)
    except Timeout:
        return None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    return time.perf_counter() - started


def functions(tmp: Path) -> list[tuple[str, str, Callable[[str], Any]]]:
    """``(name, size, function of one text)`` for every text function on a request's or a KB's path."""
    from connectors import text as ctext
    from connectors.jira import mapping as jira, wiki
    from connectors.slack import blocks, mrkdwn
    from connectors.zendesk import mapping as zendesk
    from core import html, html_page, html_tables, text as core_text
    from interceptor import compose, coverage, guard, prefilter
    from interceptor.kb import body, importer, markdown, screen, sections
    from interceptor.retrieval import lexical
    from interceptor.types import Candidate, Scored

    kb = _small_kb(tmp)
    speller = kb["speller"]
    vocabulary = kb["vocabulary"]
    policy = kb["policy"]
    cite = [{"title": "Reset", "url": "https://kb.example/reset"}]
    person = jira.Person("u1", name="Ada")

    def cand(text: str) -> Candidate:
        return Candidate(1, "kb-1", "Reset your password", "https://kb.example/reset", text, 1.0)

    def scored(text: str) -> Scored:
        return Scored((cand(text),), 0.5, kb_version="v1", model="bench", latency_ms={})

    out: list[tuple[str, str, Callable[[str], Any]]] = []
    for size in ("slack", "api", "webhook"):  # the requester's text
        out += [
            (f"core.text.strip_for_matching [{size}]", size, core_text.strip_for_matching),
            (f"prefilter.clean [{size}]", size, prefilter.clean),
            (f"engine.prefilter+speller [{size}]", size, lambda t: kb["prefilter"](t, speller)),
            (f"Speller.correct [{size}]", size, speller.correct),
            (f"Speller.unknown_terms [{size}]", size, speller.unknown_terms),
            (f"coverage.coverage_features [{size}]", size, lambda t: coverage.coverage_features(t, vocabulary, t, t)),
            (f"guard.guard_reasons [{size}]", size, lambda t: kb["guard_reasons"]((t,), policy)),
            (f"guard.classify_followup [{size}]", size, guard.classify_followup),
            (f"lexical.tokenize [{size}]", size, lexical.tokenize),
            (f"lexical.quote_in_section [{size}]", size, lambda t: lexical.quote_in_section(t, t)),
            (f"decide.decide [{size}]", size, lambda t: kb["decide"](t, scored(t), policy)),
        ]
    out += [
        ("slack mrkdwn.to_text [slack]", "slack", lambda t: mrkdwn.to_text(t, drop=frozenset({"U123"}))),
        ("slack to_event [slack]", "slack", kb["slack_event"]),
        ("slack blocks.escape+split [slack]", "slack", lambda t: blocks.split(blocks.escape(t))),
        ("slack blocks.rich_text [slack]", "slack", blocks.rich_text),
        ("slack blocks.answer [slack]", "slack", lambda t: blocks.answer(t, cite, "ref")),
        ("slack blocks.triage [slack]", "slack", lambda t: blocks.triage("C1", "https://x", t)),
        ("connectors.text.split_urls [slack]", "slack", ctext.split_urls),
        ("connectors.text.with_sources [slack]", "slack", lambda t: ctext.with_sources(t, cite, lambda a, b: b)),
        ("compose.truncate [slack]", "slack", lambda t: compose.truncate(t, 3000)),
        ("compose.compose_answer [slack]", "slack", lambda t: compose.compose_answer(cand(t), 3000)),
        ("compose.compose_draft [slack]", "slack", lambda t: compose.compose_draft(scored(t), 0.9, ("x",))),
        ("compose.compose_answers [slack]", "slack", lambda t: compose.compose_answers([(t, cand(t))] * 3, 3000)),
        ("connectors.text.tidy [webhook]", "webhook", ctext.tidy),
        ("connectors.text.wiki_to_text [webhook]", "webhook", ctext.wiki_to_text),
        ("connectors.text.html_to_text [webhook]", "webhook", ctext.html_to_text),
        ("connectors.text.adf_to_text [webhook]", "webhook", lambda t: ctext.adf_to_text(_adf(t))),
        ("connectors.text.split_urls [webhook]", "webhook", ctext.split_urls),
        ("zendesk mapping.comment_text [webhook]", "webhook", lambda t: zendesk.comment_text({"html_body": t})),
        ("zendesk mapping.answer_body [webhook]", "webhook", lambda t: zendesk.answer_body(t, cite)),
        ("zendesk mapping.create_fields [webhook]", "webhook",
         lambda t: zendesk.create_fields(t[:200], t, person, ())),
        ("jira wiki.wiki_plain [webhook]", "webhook", wiki.wiki_plain),
        ("jira mapping.rich_text wiki [webhook]", "webhook", jira.rich_text),
        ("jira mapping.rich_text adf [webhook]", "webhook", lambda t: jira.rich_text(_adf(t))),
        ("jira mapping.referenced_files [webhook]", "webhook", lambda t: jira.referenced_files(t, {"a": "http://x"})),
        ("jira mapping.answer_body [webhook]", "webhook", lambda t: jira.answer_body(t, cite)),
        ("jira mapping.create_fields [webhook]", "webhook", lambda t: jira.create_fields("P", t[:200], t, person, ())),
        ("core.html.parse_html [page]", "page", html.parse_html),
        ("core.html_page.content_root [page]", "page", html_page.content_root),
        ("core.html_tables.layout_tables [page]", "page", html_tables.layout_tables),
        ("kb markdown.markdown_to_text [page]", "page", markdown.markdown_to_text),
        ("kb markdown.markdown_sections [page]", "page", markdown.markdown_sections),
        ("kb markdown.inline_references [page]", "page", markdown.inline_references),
        ("kb markdown.inline_footnotes [page]", "page", markdown.inline_footnotes),
        ("kb sections.split_passages [page]", "page", sections.split_passages),
        ("kb sections.section_passages [page]", "page",
         lambda t: sections.section_passages(html.parse_html(t).sections, title="t")),
        ("kb body.body_sections plain [page]", "page", body.plain_sections),
        ("kb body.body_sections [page]", "page", body.body_sections),
        ("kb screen.not_an_article [page]", "page", lambda t: screen.not_an_article("a.md", t, front_matter=False)),
        ("kb importer.parse_markdown [page]", "page",
         lambda t: importer.parse_markdown(f"---\ntitle: t\n---\n{t}", "a.md")),
        ("engine.decide_text small KB [api]", "api", kb["decide_text"]),
        ("POST /api/v1/ask small KB [api]", "api", kb["ask"]),
    ]
    return out


def _adf(text: str) -> dict[str, Any]:
    return {"type": "doc", "content": [{"type": "paragraph", "content": [{"type": "text", "text": line}]}
                                       for line in text.split("\n")]}


def _small_kb(tmp: Path) -> dict[str, Any]:
    """A small KB (three articles) in a temporary SQLite file, its speller, and the app serving it."""
    from datetime import datetime, timezone

    import migrations
    from app import build_hub, create_app
    from config import load_settings
    from connectors.slack.mapping import SelfIds, to_event
    from core.db import Database
    from interceptor.decide import decide, guard_reasons
    from interceptor.engine import decide_text, prefilter, speller_for
    from interceptor.kb.importer import import_articles, parse_markdown
    from interceptor.types import Policy

    url = f"sqlite:///{tmp / 'hostile.db'}"
    migrations.upgrade(url)
    db = Database(url)
    articles = {"reset.md": "---\ntitle: Reset your password\nurl: https://kb.example/reset\n---\n"
                            "Open Settings, then Security, and choose Reset password. We email you a reset link.\n",
                "vpn.md": "---\ntitle: Connect to the corporate VPN\nurl: https://kb.example/vpn\n---\n"
                          "Install the VPN client from the software portal, then sign in with single sign-on.\n",
                "expenses.md": "---\ntitle: Submit an expense report\nurl: https://kb.example/expenses\n---\n"
                               "Expense reports are submitted in the finance portal: attach your receipts.\n"}
    import_articles(db, (parse_markdown(text, name) for name, text in articles.items()))
    db.dispose()
    settings = load_settings({"HUB_DATABASE_URL": url, "HUB_DENSE": "off", "HUB_RATE_LIMIT": "off",
                              "HUB_CHANNEL_POLICIES": {"web": {"threshold": 0.0}}})
    hub = build_hub(settings)
    client = create_app(hub=hub).test_client()
    engine = hub.interceptor()
    scorer = engine.scorer
    speller = speller_for(scorer)
    policy = Policy(threshold=0.0)
    ids = SelfIds(frozenset({"U123"}), frozenset())
    when = datetime(2026, 1, 1, tzinfo=timezone.utc)

    def slack_event(text: str) -> Any:
        envelope = {"type": "event_callback", "team_id": "T1", "event": {
            "type": "message", "channel": "C1", "ts": "1700000000.000100", "user": "U9", "text": text}}
        return to_event(envelope, ids=ids, answers_in=lambda c: True, allows_bots=lambda c: False,
                        identity_known=True, received_at=when)

    def ask(text: str) -> Any:
        response = client.post("/api/v1/ask", json={"text": text, "record": False})
        assert response.status_code == 200, response.get_data(as_text=True)[:200]

    return {"speller": speller, "vocabulary": scorer.index.lexical.vocabulary(), "policy": policy,
            "prefilter": prefilter, "guard_reasons": guard_reasons, "decide": decide, "slack_event": slack_event,
            "decide_text": lambda t: decide_text(t, scorer, policy, speller=speller), "ask": ask}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="", help="run the functions whose name holds this")
    parser.add_argument("--input", default="", help="run the inputs whose name holds this")
    parser.add_argument("--timeout", type=float, default=10.0)
    parser.add_argument("--scale", type=float, default=1.0)
    args = parser.parse_args()
    slow = 0
    with tempfile.TemporaryDirectory(prefix="hub-hostile-") as tmp:
        for name, size, fn in functions(Path(tmp)):
            if args.only not in name:
                continue
            prose = None
            for label, text in texts(int(SIZES[size] * args.scale)):
                if args.input not in label and label != "prose":
                    continue
                try:
                    seconds = timed(fn, text, args.timeout)
                except Exception as error:  # a text that makes a function raise is as much a finding as a slow one
                    slow += 1
                    print(f"FAIL {type(error).__name__:>9}  {name}  {label}  ({len(text)} chars)", flush=True)
                    continue
                if label == "prose":
                    prose = seconds or args.timeout
                flag = seconds is None or seconds > FLAG_SECONDS or (seconds > 0.05 and seconds > 5 * (prose or 0))
                slow += flag
                shown = f">{args.timeout:.0f}" if seconds is None else f"{seconds:.3f}"
                print(f"{'SLOW' if flag else '    '} {shown:>8}s  {name}  {label}  ({len(text)} chars)", flush=True)
    print(f"{slow} slow", flush=True)


if __name__ == "__main__":
    main()
