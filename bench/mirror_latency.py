"""Mirror latency benchmark: how long an agent's public reply on a ticket of record takes to reach the
originating Slack thread (issue 12 item 1: "within seconds of its webhook (or the next poll)"), end to end
through a real ``hub serve``.

Starts the Slack stand-in of ``bench/ingest.py`` (timing every ``chat.postMessage`` it receives), loopback
Zendesk and Jira Cloud APIs (``bench/desk_stubs.py``), and ``hub serve`` as a subprocess (its web process and
its worker process with the inbox and outbox pools) on a temporary SQLite database, or a temporary schema with
``--postgres URL``. It opens ``--threads`` Slack threads per help desk through the hub itself (signed Slack
``message`` events that the hub escalates to its help desk of record: one channel per desk, threshold 1.0), and
waits for each thread's escalation notice, which names its ticket. Then, per ticket, an agent's public reply
is written in the desk stand-in and:

- webhook mode (default): the signed webhook Zendesk (``ticket.comment_added``) or Jira Cloud (JSM
  ``comment_created`` with ``jsdPublic: true``) would send is POSTed to ``/webhooks/{desk}``, and the latency is
  from that POST to the stand-in receiving the ``chat.postMessage`` in the ticket's own thread;
- ``--poll``: no webhook; the hub's polling fallback (``ZENDESK_POLL``/``JIRA_POLL``, every
  ``--poll-interval`` seconds) has to find it, and the latency is from the reply appearing in the stand-in.

Replies go one at a time (``--rate 0``, the default in webhook mode: the next once the previous was mirrored),
or open loop at ``--rate`` per second; with ``--poll`` they are spread at random over the poll cycle. It prints
JSON: latency p50/p95/p99/max in ms, replies delivered, mirrored, mirrored into another thread, doubled (a
reply posted twice; must be 0) and missing, and the settings used.

Usage: python bench/mirror_latency.py [--threads 50] [--desks zendesk jira] [--rate 0] [--poll]
       [--poll-interval 5] [--postgres URL] [--timeout 30]

The figures depend on the machine and what else runs on it: say which when quoting them.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from bench.desk_stubs import AGENT_ID, AGENT_NAME, JIRA_AGENT, JiraStub, LoopbackAPI, ZendeskStub  # noqa: E402
from bench.ingest import USER, BenchSlack, database, free_port, hub_env, inbox_counts, message_event, start_hub, stop_hub  # noqa: E402
from core.db import Database, OutboxAction  # noqa: E402
from tests.slack_stub import sign  # noqa: E402
from tests.sync_world import comment_added, jira_comment_created_signed, zendesk_signed  # noqa: E402

CHANNELS = {"zendesk": "C0MIRRORZD", "jira": "C0MIRRORJR"}
REQUEST = "I was charged twice for order {n} and I want a refund"
SECRET = "s3cret"  # the webhook secrets (tests/sync_world.py signs with it)
TICKET_IN_NOTICE = {"zendesk": re.compile(r"/agent/tickets/(\d+)"), "jira": re.compile(r"/browse/([A-Z]+-\d+)")}


class TimedSlack(BenchSlack):
    """The ingest bench's Slack stand-in, noting when each thread reply arrives (``time.perf_counter``)."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived = threading.Condition(self._lock)  # answer() holds the lock while a handler runs
        self.replies: list[tuple[float, str, str, str]] = []  # (arrival, channel, thread_ts, text)
        self.by_thread: dict[tuple[str, str], list[str]] = {}  # (channel, thread_ts) -> the replies' texts

    def _chat_postMessage(self, args: dict[str, Any]) -> dict[str, Any]:
        at = time.perf_counter()
        answer = super()._chat_postMessage(args)
        if answer.get("ok") and args.get("thread_ts"):
            self.replies.append((at, str(args["channel"]), str(args["thread_ts"]), str(args.get("text", ""))))
            self.by_thread.setdefault((str(args["channel"]), str(args["thread_ts"])), []).append(str(args.get("text", "")))
            self.arrived.notify_all()
        return answer

    def wait_for(self, done: Callable[[], bool], timeout: float) -> bool:
        """Wait until ``done()`` (called with the lock held, after each reply) or ``timeout`` seconds."""
        with self.arrived:
            return self.arrived.wait_for(done, timeout)

    def posts_with(self, marker: str) -> list[tuple[float, str, str]]:
        """(arrival, channel, thread_ts) of every thread reply containing ``marker`` (call with the lock held or after)."""
        return [(at, channel, ts) for at, channel, ts, text in self.replies if marker in text]


@dataclass
class Escalated:
    """One escalated Slack thread and its ticket of record."""

    desk: str
    channel: str
    ts: str
    ticket: str = ""
    marker: str = ""
    sent_at: float = 0.0  # the webhook POST (or, with --poll, the reply appearing in the desk)
    ack: tuple[int, float] | None = None  # the webhook's HTTP status and seconds to its answer


def post(conn: http.client.HTTPConnection, path: str, raw: bytes, headers: dict[str, str]) -> tuple[int, float]:
    """POST over a keep-alive connection; returns (status, seconds), status 0 for a transport failure."""
    start = time.perf_counter()
    try:
        conn.request("POST", path, body=raw, headers=headers)
        response = conn.getresponse()
        response.read()
        return response.status, time.perf_counter() - start
    except (OSError, http.client.HTTPException):
        conn.close()
        return 0, time.perf_counter() - start


def open_threads(port: int, slack: TimedSlack, desks: list[str], n: int, timeout: float) -> tuple[list[Escalated], float]:
    """Post ``n`` requests per desk as Slack messages and wait for each thread's escalation notice, which
    links its ticket of record. Returns the threads that got one, and the seconds it took."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    threads: list[Escalated] = []
    started = time.perf_counter()
    for k, desk in enumerate(desks, start=1):
        for i in range(n):
            thread = Escalated(desk, CHANNELS[desk], f"{1_900_000_000 + i}.{k:06d}")
            text = REQUEST.format(n=f"{desk[:2].upper()}-{i:05d}")
            slack.seed_thread(thread.channel, {"type": "message", "user": USER, "text": text, "ts": thread.ts})
            raw = message_event(f"EvMIR{k}x{i:06d}", thread.ts, text, channel=thread.channel)
            status, _ = post(conn, "/slack/events", raw, {"Content-Type": "application/json", **sign(raw)})
            if status != 200:
                raise SystemExit(f"the hub answered {status} to a Slack message event")
            threads.append(thread)
    conn.close()

    def linked() -> bool:
        for thread in threads:
            for text in slack.by_thread.get((thread.channel, thread.ts), ()) if not thread.ticket else ():
                found = TICKET_IN_NOTICE[thread.desk].search(text)
                thread.ticket = found.group(1) if found else thread.ticket
        return all(t.ticket for t in threads)

    slack.wait_for(linked, timeout)
    return [t for t in threads if t.ticket], time.perf_counter() - started


def reply(thread: Escalated, stubs: dict[str, LoopbackAPI], i: int, note_after: bool = False) -> tuple[bytes, dict[str, str]]:
    """Write an agent's public reply on the thread's ticket in the desk stand-in (with ``note_after``, and an
    internal note right after it); return the signed webhook the desk would send for the reply."""
    thread.marker = f"[mirror-bench {thread.desk} {i:05d}]"
    text = f"We refunded the second charge. {thread.marker}"
    note = "internal: refund approved by finance"
    stub = stubs[thread.desk]
    if isinstance(stub, ZendeskStub):
        comment = stub.add_agent_comment(int(thread.ticket), text)
        if note_after:
            stub.add_agent_note(int(thread.ticket), note)
        body = comment_added(comment, AGENT_ID, AGENT_NAME, staff=True, ticket=int(thread.ticket),
                             requester=stub.tickets[int(thread.ticket)]["requester_id"])
        return zendesk_signed(body, f"bench-{thread.ticket}-{comment}", SECRET)
    assert isinstance(stub, JiraStub)
    comment_id = stub.add_agent_comment(thread.ticket, text)
    if note_after:
        stub.add_agent_note(thread.ticket, note)
    jira_comment = {"id": comment_id, "author": JIRA_AGENT, "body": text, "jsdPublic": True}
    return jira_comment_created_signed(jira_comment, key=thread.ticket, issue_id=stub.issue_id(thread.ticket), base=stub.url, secret=SECRET)


def deliver(port: int, slack: TimedSlack, stubs: dict[str, LoopbackAPI], threads: list[Escalated], *, poll: bool, rate: float,
            spacing: float, timeout: float, note_after: bool = False, seed: int = 12) -> None:
    """Write one agent reply per thread (and, in webhook mode, POST its webhook): one at a time once the
    previous one is mirrored (``rate`` 0), ``rate`` per second, or (``spacing`` > 0) at random gaps of up to
    ``spacing`` seconds."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    rng = random.Random(seed)
    next_at = time.perf_counter()
    for i, thread in enumerate(threads):
        if spacing > 0:
            next_at += rng.uniform(0, spacing)
        elif rate > 0:
            next_at += 1.0 / rate
        time.sleep(max(0.0, next_at - time.perf_counter()))
        raw, headers = reply(thread, stubs, i, note_after)
        thread.sent_at = time.perf_counter()
        if not poll:
            thread.ack = post(conn, f"/webhooks/{thread.desk}", raw, headers)
        if rate <= 0 and spacing <= 0:  # closed loop
            marker = thread.marker
            slack.wait_for(lambda: bool(slack.posts_with(marker)), timeout)
    conn.close()
    slack.wait_for(lambda: all(slack.posts_with(t.marker) for t in threads), timeout)


def percentile(values: list[float], p: float) -> float | None:
    """The nearest-rank ``p``-th percentile (``None`` for no values)."""
    if not values:
        return None
    ranked = sorted(values)
    return ranked[max(0, min(len(ranked) - 1, int(-(-p * len(ranked) // 100)) - 1))]


def figures(slack: TimedSlack, threads: list[Escalated], poll: bool) -> dict[str, Any]:
    """What happened to each desk's replies: latency percentiles, mirrored, doubled, misrouted, missing."""
    out: dict[str, Any] = {}
    for desk in dict.fromkeys(t.desk for t in threads):
        mine = [t for t in threads if t.desk == desk]
        latencies, doubled, misrouted, missing = [], 0, 0, 0
        with slack.arrived:
            for t in mine:
                posts = slack.posts_with(t.marker)
                right = [at for at, channel, ts in posts if (channel, ts) == (t.channel, t.ts)]
                misrouted += len(posts) - len(right)
                doubled += len(right) > 1
                if right:
                    latencies.append((min(right) - t.sent_at) * 1000)
                else:
                    missing += 1
        acks = [t.ack for t in mine if t.ack is not None]
        statuses: dict[str, int] = {}
        for status, _ in acks:
            statuses[str(status)] = statuses.get(str(status), 0) + 1
        out[desk] = {
            "path": "poll" if poll else "webhook",
            "delivered": len(mine) if poll else sum(1 for status, _ in acks if 200 <= status < 300),
            "mirrored": len(latencies), "doubled": doubled, "misrouted": misrouted, "missing": missing,
            "latency_ms": {name: None if (v := percentile(latencies, p)) is None else round(v, 1)
                           for name, p in (("p50", 50), ("p95", 95), ("p99", 99), ("max", 100))},
            "webhook_statuses": statuses or None,
            "webhook_ack_ms": None if poll else {"p50": _ms(percentile([a for _, a in acks], 50)),
                                                 "max": _ms(percentile([a for _, a in acks], 100))},
        }
    return out


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


def outbox_counts(db: Database) -> dict[str, int]:
    with db.session() as s:
        return {status: n for status, n in s.execute(select(OutboxAction.status, func.count()).group_by(OutboxAction.status))}


def run(args: argparse.Namespace) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="hub-mirror-"))
    slack = TimedSlack()
    slack.start()
    slack.users[USER] = {"id": USER, "name": "ada", "real_name": "Ada Lovelace", "profile": {"real_name": "Ada Lovelace", "email": "ada@example.com"}}
    stubs: dict[str, LoopbackAPI] = {"zendesk": ZendeskStub().start(), "jira": JiraStub().start()}
    policies = {CHANNELS[d]: {"threshold": 1.0, "escalation_target": d} for d in args.desks}  # every request goes to a person
    (tmp / "hub.yaml").write_text(json.dumps({"HUB_CHANNEL_POLICIES": policies}))  # JSON is YAML
    load_before = os.getloadavg()
    with database(args.postgres, tmp) as url:
        env = hub_env(url, slack)
        env.update({
            "HUB_CONFIG": str(tmp / "hub.yaml"), "HUB_ESCALATION_TARGET": args.desks[0],
            "ZENDESK_URL": stubs["zendesk"].url, "ZENDESK_EMAIL": "hub@example.com", "ZENDESK_API_TOKEN": "tok",
            "JIRA_URL": stubs["jira"].url, "JIRA_EMAIL": "hub@example.com", "JIRA_API_TOKEN": "tok", "JIRA_PROJECT_KEY": "SUP",
        })
        if args.poll:
            env.update({"ZENDESK_POLL": "true", "JIRA_POLL": "true", "HUB_POLL_INTERVAL_SECONDS": str(args.poll_interval)})
        else:
            env.update({"ZENDESK_WEBHOOK_SECRET": SECRET, "JIRA_WEBHOOK_SECRET": SECRET})
        port = free_port()
        proc = start_hub(env, port, tmp / "hub.log")
        db = Database(url)
        try:
            threads, setup_s = open_threads(port, slack, args.desks, args.threads, args.setup_timeout)
            # Let the escalations' follow-ups (the agents' draft note on each ticket) land first: an agent
            # answers a ticket after it was opened, not within the same second.
            wait_idle(db, args.setup_timeout)
            spacing = args.poll_interval / 2 if args.poll and args.rate <= 0 else 0.0
            timeout = args.timeout + (args.poll_interval if args.poll else 0)
            for desk in args.desks:
                deliver(port, slack, stubs, [t for t in threads if t.desk == desk], poll=args.poll, rate=args.rate,
                        spacing=spacing, timeout=timeout, note_after=args.note_after)
            time.sleep(args.settle + (args.poll_interval if args.poll else 0))  # a late double would land in here
            wait_idle(db, args.timeout)
            result = {"desks": figures(slack, threads, args.poll), "inbox": inbox_counts(db), "outbox": outbox_counts(db)}
        finally:
            stop_hub(proc)
            db.dispose()
    slack.stop()
    for stub in stubs.values():
        stub.stop()
    return {
        **result,
        "threads_escalated": {d: sum(1 for t in threads if t.desk == d) for d in args.desks},
        "setup_seconds": round(setup_s, 1),
        "settings": {
            "threads_per_desk": args.threads, "desks": args.desks, "database": "postgresql" if args.postgres else "sqlite",
            "path": "poll" if args.poll else "webhook", "poll_interval_s": args.poll_interval if args.poll else None,
            "internal_note_after_each_reply": args.note_after,
            "replies": "closed loop (one at a time)" if args.rate <= 0 and not args.poll else
                       (f"open loop, {args.rate}/s" if args.rate > 0 else f"open loop, random gaps of 0-{args.poll_interval / 2} s"),
            "hub": "hub serve (web process + worker process), defaults: HUB_JOB_WORKERS (1 on SQLite, else 2), HUB_OUTBOX_WORKERS 2",
            "load_average_before": [round(x, 2) for x in load_before], "load_average_after": [round(x, 2) for x in os.getloadavg()],
        },
        "hub_log": str(tmp / "hub.log"),
    }


def wait_idle(db: Database, timeout: float) -> None:
    """Wait until no inbox event and no outbox action is pending or running (or ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        busy = {**{f"in:{k}": v for k, v in inbox_counts(db).items()}, **{f"out:{k}": v for k, v in outbox_counts(db).items()}}
        if not any(n for k, n in busy.items() if k.endswith((":pending", ":running"))):
            return
        time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--threads", type=int, default=50, help="Slack threads (tickets of record) per help desk")
    parser.add_argument("--desks", nargs="+", choices=sorted(CHANNELS), default=["zendesk", "jira"])
    parser.add_argument("--rate", type=float, default=0.0, help="replies per second, open loop (0: one at a time)")
    parser.add_argument("--poll", action="store_true", help="no webhooks: time the polling fallback")
    parser.add_argument("--poll-interval", type=float, default=5.0, help="HUB_POLL_INTERVAL_SECONDS with --poll (5 is its minimum)")
    parser.add_argument("--note-after", action="store_true", help="the agent adds an internal note right after each reply")
    parser.add_argument("--postgres", default=None, help="run on a temporary schema of this PostgreSQL URL")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for one reply to be mirrored")
    parser.add_argument("--setup-timeout", type=float, default=300.0, help="seconds to wait for the escalations")
    parser.add_argument("--settle", type=float, default=3.0, help="seconds to wait after the last reply for late doubles")
    args = parser.parse_args()
    result = run(args)
    for desk, f in result["desks"].items():
        lat = f["latency_ms"]
        print(f"{desk} {f['path']}: p50 {lat['p50']} ms, p95 {lat['p95']} ms, p99 {lat['p99']} ms, max {lat['max']} ms; "
              f"delivered {f['delivered']}, mirrored {f['mirrored']}, doubled {f['doubled']}, misrouted {f['misrouted']}, "
              f"missing {f['missing']}", file=sys.stderr)
    print(json.dumps(result, indent=1), flush=True)


if __name__ == "__main__":
    main()
