"""Ingest benchmark: concurrent signed Slack senders against a real ``hub serve``, while processing runs.

Starts a Slack Web API stand-in on loopback (the tests' stub, with O(1) look-ups), migrates a temporary
database, imports the sample KB, starts ``hub serve`` as a subprocess pointed at the stand-in, then drives
``--senders`` threads for ``--seconds``, each posting signed ``message`` events (a new thread each, a question
from the sample KB's topics) to ``/slack/events`` over keep-alive connections, ``--rate`` events per second
per sender (open loop, like webhook senders; ``0``: as fast as the acks come back, closed loop). Afterwards it waits for the
inbox to drain and prints:

- ack latency p50 / p99 / max (ms) of every request, and the HTTP statuses (5xx counted apart);
- accepted events/s during the send window;
- drain rate: inbox events processed per second, from the first send until the inbox was empty;
- lost events: events acknowledged 2xx that are not in the inbox, or not processed when the drain ended;
- public answers and triage posts the stand-in received.

With ``--kill``, the hub (web and worker process) is killed with SIGKILL right after the send window and
started again; the figures then also say how many events the dead hub left, how long the new one took to
process its first left-over event, and to drain them all.

Usage: python bench/ingest.py [--senders 20 50] [--seconds 20] [--rate 5] [--kill] [--postgres URL] [--drain-timeout 180]

The figures depend on the machine and what else runs on it: say which when quoting them.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Iterator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from core.db import Database, InboxEvent  # noqa: E402
from tests.schemas import scratch_schema  # noqa: E402
from tests.slack_stub import AUTH_TEST, BOT_TOKEN, SIGNING_SECRET, SlackStub, sign  # noqa: E402

TEAM, CHANNEL, USER = "T0BENCH01", "C0BENCH01", "U0BENCH01"
QUESTIONS = [
    "How do I reset my password?",
    "How can I export my reports to CSV?",
    "How do I invite teammates to my workspace?",
    "Can I connect Google Calendar?",
    "How do I enable two-factor authentication?",
    "The timer is not syncing between my devices",
    "How do I change my plan?",
    "Where can I download past receipts?",
    "I want a refund for last month",
    "How do I set up billable rates?",
]


class BenchSlack(SlackStub):
    """The tests' Slack stub with a direct permalink look-up (the stub scans every thread)."""

    def _chat_getPermalink(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "channel": args["channel"], "permalink": f"{AUTH_TEST['url']}archives/{args['channel']}/p{args['message_ts']}"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def database(postgres: str | None, tmp: Path) -> Iterator[str]:
    if postgres is None:
        yield f"sqlite:///{tmp / 'hub.db'}"
        return
    with scratch_schema(postgres, "hub_bench") as url:
        yield url


def hub_env(url: str, stub: SlackStub) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "HUB_DATABASE_URL": url, "HUB_DENSE": "off", "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": stub.url, "SLACK_TRIAGE_CHANNEL": "C0TRIAGE1", "OPENBLAS_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1",
    })
    return env


def start_hub(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    hub = shutil.which("hub", path=str(ROOT / ".venv" / "bin")) or "hub"
    if not log.exists():
        subprocess.run([hub, "db", "upgrade"], env=env, check=True, capture_output=True, cwd=ROOT)
        subprocess.run([hub, "kb", "import", "config/sample_kb"], env=env, check=True, capture_output=True, cwd=ROOT)
    proc = subprocess.Popen([hub, "serve", "--port", str(port)], env=env, cwd=ROOT, stdout=log.open("ab"), stderr=subprocess.STDOUT,
                            start_new_session=True)  # its own process group: --kill reaches the worker process too
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            response = conn.getresponse()
            health = json.loads(response.read() or b"{}")
            # Ready once the KB index is loaded (hub serve warms it up in the background at start).
            if response.status in (200, 503) and (health.get("knowledge_base") or {}).get("retrieval") != "not loaded yet":
                time.sleep(1.0)
                return proc
        time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"hub serve did not start; see {log}")


def stop_hub(proc: subprocess.Popen[bytes]) -> None:
    """Stop ``hub serve`` and its worker processes (its process group), waiting up to 30 s."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(30)


def message_event(event_id: str, ts: str, text: str, channel: str = CHANNEL, user: str = USER) -> bytes:
    """The Events API body of a person's new ``message`` in ``channel`` (a thread root), as Slack sends it."""
    return json.dumps({
        "token": "x", "team_id": TEAM, "api_app_id": "A0OTHER01", "type": "event_callback", "event_id": event_id,
        "event_time": int(time.time()), "authorizations": [{"team_id": TEAM, "user_id": AUTH_TEST["user_id"], "is_bot": True}],
        "event": {"type": "message", "user": user, "text": text, "ts": ts, "channel": channel, "channel_type": "channel",
                  "event_ts": ts, "team": TEAM},
    }).encode()


class Sender(threading.Thread):
    """Posts signed Slack message events until ``stop`` is set; records (latency s, status, event id)."""

    def __init__(self, n: int, port: int, stub: SlackStub, stop: threading.Event, rate: float) -> None:
        super().__init__(daemon=True)
        self.n, self.port, self.stub, self.stop = n, port, stub, stop
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.results: list[tuple[float, int, str]] = []

    def run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        i = 0
        next_at = time.monotonic() + self.interval * (self.n / 50.0)  # spread the senders' phases
        while not self.stop.is_set():
            if self.interval:
                wait = next_at - time.monotonic()
                if wait > 0 and self.stop.wait(wait):
                    break
                next_at += self.interval
            i += 1
            ts = f"{1_800_000_000 + self.n * 100_000 + i}.{self.n:06d}"
            question = QUESTIONS[(self.n + i) % len(QUESTIONS)]
            self.stub.seed_thread(CHANNEL, {"type": "message", "user": USER, "text": question, "ts": ts})
            event_id = f"EvB{self.n:03d}x{i:07d}"
            delivery = f"{TEAM}:{CHANNEL}:{ts}"  # the hub's delivery key for a Slack message
            body = message_event(event_id, ts, question)
            headers = {"Content-Type": "application/json", **sign(body)}
            start = time.perf_counter()
            try:
                conn.request("POST", "/slack/events", body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                status = 0
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            self.results.append((time.perf_counter() - start, status, delivery))


def _key(args: dict[str, Any]) -> str:
    """The idempotency key the hub stamped on a post (message metadata), or ''."""
    metadata = args.get("metadata") or {}
    if isinstance(metadata, str):
        metadata = json.loads(metadata)
    return str((metadata.get("event_payload") or {}).get("key") or "")


def inbox_counts(db: Database) -> dict[str, int]:
    with db.session() as s:
        return {status: n for status, n in s.execute(select(InboxEvent.status, func.count()).group_by(InboxEvent.status))}


def kill_and_restart(proc: subprocess.Popen[bytes], env: dict[str, str], port: int, log: Path, db: Database) -> tuple[subprocess.Popen[bytes], dict[str, Any]]:
    """SIGKILL the hub's process group, start it again, and time how it takes up what the dead one left."""
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(30)
    left = inbox_counts(db)
    unfinished = left.get("pending", 0) + left.get("running", 0)
    done_before = left.get("done", 0)
    started = time.monotonic()
    proc = start_hub(env, port, log)
    ready = time.monotonic() - started
    first = None
    while time.monotonic() - started < 600:
        counts = inbox_counts(db)
        if first is None and counts.get("done", 0) > done_before:
            first = time.monotonic() - started
        if not counts.get("pending") and not counts.get("running"):
            break
        time.sleep(0.2)
    return proc, {"left_unfinished": unfinished, "left_running": left.get("running", 0), "restart_ready_s": round(ready, 1),
                  "first_processed_s": None if first is None else round(first, 1), "drained_s": round(time.monotonic() - started, 1)}


def run(senders: int, seconds: float, rate: float, postgres: str | None, drain_timeout: float, kill: bool = False) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="hub-ingest-"))
    stub = BenchSlack().start()
    stub.users[USER] = {"id": USER, "name": "ada", "profile": {"real_name": "Ada", "email": "ada@example.com"}}
    with database(postgres, tmp) as url:
        port, env = free_port(), hub_env(url, stub)
        proc = start_hub(env, port, tmp / "hub.log")
        db = Database(url)
        recovery: dict[str, Any] | None = None
        try:
            stop = threading.Event()
            threads = [Sender(n, port, stub, stop, rate) for n in range(senders)]
            began = time.monotonic()
            for t in threads:
                t.start()
            time.sleep(seconds)
            stop.set()
            for t in threads:
                t.join(60)
            sent_for = time.monotonic() - began
            done_in_window = inbox_counts(db).get("done", 0)
            if kill:
                proc, recovery = kill_and_restart(proc, env, port, tmp / "hub.log", db)
            while time.monotonic() - began < seconds + drain_timeout:
                counts = inbox_counts(db)
                if not counts.get("pending") and not counts.get("running"):
                    break
                time.sleep(0.5)
            drained_for = time.monotonic() - began
            counts = inbox_counts(db)
            results = [r for t in threads for r in t.results]
            with db.session() as s:
                stored = set(s.scalars(select(InboxEvent.delivery_id)))
        finally:
            stop_hub(proc)
            db.dispose()
    stub.stop()
    latencies = sorted(r[0] * 1000 for r in results)
    acked = [r for r in results if 200 <= r[1] < 300]
    statuses: dict[str, int] = {}
    for r in results:
        statuses[str(r[1])] = statuses.get(str(r[1]), 0) + 1
    processed = sum(n for status, n in counts.items() if status not in ("pending", "running"))
    posts = stub.calls_to("chat.postMessage")
    return {
        "senders": senders,
        "rate_per_sender": rate,
        "seconds": round(sent_for, 1),
        "database": "postgresql" if postgres else "sqlite",
        "requests": len(results),
        "statuses": statuses,
        "http_5xx": sum(n for s, n in statuses.items() if s.startswith("5")),
        "ack_ms": {
            "p50": round(statistics.median(latencies), 1) if latencies else None,
            "p99": round(latencies[max(0, int(len(latencies) * 0.99) - 1)], 1) if latencies else None,
            "max": round(latencies[-1], 1) if latencies else None,
        },
        "accepted_per_s": round(len(acked) / sent_for, 1),
        "processed_during_send": done_in_window,
        "drain_per_s": round(processed / drained_for, 1),
        "drain_seconds": round(drained_for, 1),
        "inbox": counts,
        "lost": len({r[2] for r in acked} - stored) + counts.get("pending", 0) + counts.get("running", 0),
        "public_answers": sum(1 for c in posts if _key(c.args).startswith("answer:")),
        "escalation_notices": sum(1 for c in posts if _key(c.args).startswith("escalation-notice:")),
        "triage_posts": sum(1 for c in posts if not c.args.get("thread_ts")),
        "recovery_after_sigkill": recovery,
        "hub_log": str(tmp / "hub.log"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--senders", type=int, nargs="+", default=[20, 50])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rate", type=float, default=5.0, help="events/s per sender (0: closed loop)")
    parser.add_argument("--postgres", default=None, help="run on a temporary schema of this PostgreSQL URL")
    parser.add_argument("--drain-timeout", type=float, default=180.0)
    parser.add_argument("--kill", action="store_true", help="SIGKILL the hub after the send window, restart it, time the recovery")
    args = parser.parse_args()
    for n in args.senders:
        result = run(n, args.seconds, args.rate, args.postgres, args.drain_timeout, args.kill)
        ack = result["ack_ms"]
        print(f"{n} senders x {args.rate}/s, {result['seconds']} s, {result['database']}: ack p50 {ack['p50']} ms, p99 {ack['p99']} ms, "
              f"max {ack['max']} ms; {result['accepted_per_s']} accepted/s; drain {result['drain_per_s']} events/s "
              f"({result['drain_seconds']} s); lost {result['lost']}; 5xx {result['http_5xx']}")
        print(json.dumps(result, indent=2), flush=True)


if __name__ == "__main__":
    main()
