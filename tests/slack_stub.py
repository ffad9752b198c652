"""A local stand-in for Slack's Web API (the style of bolt-python's mock Web API server).

``http.server`` on 127.0.0.1, port 0, in a thread. It records every call (HTTP method, path, query/form/JSON
arguments, Authorization header) and answers ``auth.test``, ``chat.postMessage``, ``chat.update``,
``conversations.replies``, ``conversations.history``, ``conversations.info`` (channels seeded with
``seed_channel``), ``reactions.get``, ``users.info`` and ``chat.getPermalink`` with fixture-shaped JSON, keeping
the messages it was sent so threads read back what was posted. Every answer names the token's scopes in an
``x-oauth-scopes`` header, as Slack's do (``scopes``: none, no header).
``fail(method, ...)`` queues error answers (429 with ``Retry-After``, 5xx, ``{"ok": false, "error": ...}``),
``spoil(method, ...)`` fields of a success's answer; ``rendezvous(method, n)`` holds the next ``n`` calls of a
method until all of them have arrived (two workers reading Slack at the same moment). ``outage(method, mode)``
sets how every later call of a method fares until changed (Slack down, rate-limiting, or losing its answers:
``"lose"`` makes the call as usual and answers a 503, ``"drop"`` makes it and closes the connection unanswered).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

FIXTURES = Path(__file__).parent / "fixtures" / "slack"
AUTH_TEST = json.loads((FIXTURES / "api_auth_test_bot.json").read_text())
BOT_USER, BOT_ID, BOT_APP = AUTH_TEST["user_id"], AUTH_TEST["bot_id"], "AHUBAPP01"
# The bot scopes docs/connectors/slack.md asks for, and channels:read/groups:read (conversations.info).
SCOPES = ("chat:write", "app_mentions:read", "channels:history", "groups:history", "im:history", "mpim:history",
          "users:read", "users:read.email", "reactions:read", "channels:read", "groups:read")


@dataclass(frozen=True)
class Call:
    """One recorded request."""

    api: str  # the Web API method, e.g. "chat.postMessage"
    http_method: str
    path: str
    args: dict[str, Any]
    authorization: str | None


@dataclass
class _Failure:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


class SlackStub:
    """The fake Slack Web API. ``url`` is what ``SLACK_API_URL`` should be set to."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.threads: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.users: dict[str, dict[str, Any]] = {}
        self.channels: dict[str, dict[str, Any]] = {}  # conversations.info's channel objects, by id
        self.scopes: tuple[str, ...] | None = SCOPES  # the x-oauth-scopes header of every answer
        self.replies_page_cap = 15  # conversations.replies' largest page (see _conversations_replies)
        self.repeat_parent = False  # whether conversations.replies repeats a thread's parent on later pages
        self._failures: dict[str, list[_Failure]] = {}
        self._spoiled: dict[str, list[dict[str, Any]]] = {}
        self._rendezvous: dict[str, tuple[threading.Barrier, list[int]]] = {}
        self._outages: dict[str, str] = {}
        self._lock = threading.Lock()
        self._clock = 1_800_000_000
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/api/"

    def start(self) -> "SlackStub":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- test controls -----------------------------------------------------------------------------

    def fail(self, api: str, status: int = 429, error: str = "ratelimited", headers: dict[str, str] | None = None, times: int = 1) -> None:
        """Answer the next ``times`` calls of ``api`` with ``status`` and ``{"ok": false, "error": error}``."""
        with self._lock:
            for _ in range(times):
                self._failures.setdefault(api, []).append(_Failure(status, {"ok": False, "error": error}, dict(headers or {})))

    def spoil(self, api: str, **fields: Any) -> None:
        """Make the next call of ``api`` as usual (a message is posted), and answer it with ``fields`` in place of
        its own (a ``ts`` of 10,000 characters, ``None``): an answer not of the documented shape."""
        with self._lock:
            self._spoiled.setdefault(api, []).append(fields)

    def outage(self, api: str, mode: str | None) -> None:
        """How every later call of ``api`` fares, until changed: ``None`` as usual; ``"5xx"`` a 503, nothing done;
        ``"429"`` a 429 with ``Retry-After: 30``, nothing done; ``"lose"`` done, then answered with a 503 (an answer
        lost on the way back); ``"drop"`` done, then the connection closed with no answer."""
        with self._lock:
            if mode is None:
                self._outages.pop(api, None)
            else:
                self._outages[api] = mode

    def rendezvous(self, api: str, parties: int = 2, timeout: float = 20.0) -> None:
        """Hold each of the next ``parties`` calls of ``api`` until all ``parties`` have arrived (or ``timeout``
        seconds passed: then the held calls are answered anyway)."""
        with self._lock:
            self._rendezvous[api] = (threading.Barrier(parties, timeout=timeout), [parties])

    def _meet(self, api: str) -> None:
        with self._lock:
            held = self._rendezvous.get(api)
            if held is None:
                return
            barrier, left = held
            left[0] -= 1
            if left[0] == 0:
                del self._rendezvous[api]
        try:
            barrier.wait()
        except threading.BrokenBarrierError:
            pass

    def seed_thread(self, channel: str, root: dict[str, Any], *replies: dict[str, Any]) -> None:
        """Make a thread readable through ``conversations.replies``."""
        with self._lock:
            self.threads[(channel, root["ts"])] = [dict(root), *map(dict, replies)]

    def seed_unreadable_thread(self, channel: str, thread_ts: str, root: Any, *replies: dict[str, Any]) -> None:
        """Make ``conversations.replies`` of ``thread_ts`` list ``root`` as it is (a string, a number: not of the
        documented shape) and then ``replies``."""
        with self._lock:
            self.threads[(channel, thread_ts)] = [root, *map(dict, replies)]

    def seed_channel(self, channel: str, name: str, *, is_member: bool = True, is_private: bool = False,
                     is_archived: bool = False) -> None:
        """Make ``conversations.info`` describe ``channel``."""
        with self._lock:
            self.channels[channel] = {"id": channel, "name": name, "is_channel": True, "is_private": is_private,
                                      "is_archived": is_archived, "is_member": is_member}

    def calls_to(self, api: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.api == api]

    # -- the fake API ------------------------------------------------------------------------------

    def _next_ts(self) -> str:
        self._clock += 1
        return f"{self._clock}.000100"

    def answer(self, api: str, args: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
        """Status, body and headers of the answer (a status of 0: close the connection without one)."""
        with self._lock:
            queued = self._failures.get(api)
            if queued:
                f = queued.pop(0)
                return f.status, f.body, f.headers
            outage = self._outages.get(api)
            if outage == "5xx":
                return 503, {"ok": False, "error": "service_unavailable"}, {}
            if outage == "429":  # NOTE(slack): a rate-limited call is not made; Retry-After says when to call again
                return 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "30"}
            handler = getattr(self, "_" + api.replace(".", "_"), None)
            if handler is None:
                return 200, {"ok": False, "error": "unknown_method"}, {}
            spoiled = self._spoiled.get(api)
            body = {**handler(args), **(spoiled.pop(0) if spoiled else {})}
            if outage == "lose":
                return 503, {"ok": False, "error": "service_unavailable"}, {}
            return (0 if outage == "drop" else 200), body, {}

    def _auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return dict(AUTH_TEST)

    def _chat_postMessage(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, thread_ts = args["channel"], args.get("thread_ts")
        metadata = args.get("metadata")
        message = {
            "type": "message",
            "user": BOT_USER,
            "bot_id": BOT_ID,
            "app_id": BOT_APP,
            "text": args.get("text", ""),
            "blocks": args.get("blocks", []),
            "ts": self._next_ts(),
        }
        if metadata:
            message["metadata"] = json.loads(metadata) if isinstance(metadata, str) else metadata
        if thread_ts:
            if (channel, thread_ts) not in self.threads:
                return {"ok": False, "error": "thread_not_found"}
            message["thread_ts"] = thread_ts
            self.threads[(channel, thread_ts)].append(message)
        else:
            self.threads[(channel, message["ts"])] = [message]
        return {"ok": True, "channel": channel, "ts": message["ts"], "message": message}

    def _chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        for (channel, _), messages in self.threads.items():
            for m in messages:
                if channel == args["channel"] and _ts(m) == args["ts"]:
                    m["text"], m["blocks"] = args.get("text", m.get("text")), args.get("blocks", m.get("blocks"))
                    return {"ok": True, "channel": channel, "ts": m["ts"], "text": m["text"]}
        return {"ok": False, "error": "message_not_found"}

    def _conversations_replies(self, args: dict[str, Any]) -> dict[str, Any]:
        thread = self.threads.get((args["channel"], args["ts"]))
        if thread is None:  # a reply's ts: Slack lists the thread it is in, from its parent
            thread = next((t for (c, _), t in self.threads.items() if c == args["channel"] and any(_ts(m) == args["ts"] for m in t)), None)
        if thread is None:
            return {"ok": False, "error": "thread_not_found"}
        oldest, latest = args.get("oldest"), args.get("latest")
        replies = [m for m in thread[1:] if (not oldest or m["ts"] >= oldest) and (not latest or m["ts"] <= latest)]
        # NOTE(slack): pages of ``limit`` messages, the next one named by ``response_metadata.next_cursor``.
        # https://docs.slack.dev/reference/methods/conversations.replies (capped at 15 only for commercially
        # distributed non-Marketplace apps since 2025-05-29; the hub is an internal app. The stub caps anyway,
        # so that tests read threads page by page.)
        # Whether a later page repeats the parent is not documented (reports differ): ``repeat_parent`` says.
        size = min(int(args.get("limit") or 1000), self.replies_page_cap)
        start = int(args.get("cursor") or 0)
        first = [_parent(thread)] if start == 0 or self.repeat_parent else []
        page = first + replies[start:start + size - len(first)]
        end = start + len(page) - len(first)
        if str(args.get("include_all_metadata", "")).lower() not in ("1", "true"):
            page = [{k: v for k, v in m.items() if k != "metadata"} if isinstance(m, dict) else m for m in page]
        more = end < len(replies)
        return {"ok": True, "messages": json.loads(json.dumps(page)), "has_more": more,
                "response_metadata": {"next_cursor": str(end) if more else ""}}

    def _conversations_history(self, args: dict[str, Any]) -> dict[str, Any]:
        # NOTE(slack): a channel's top-level messages, newest first, from ``oldest`` on (exclusive unless
        # ``inclusive``); metadata only with ``include_all_metadata``. https://docs.slack.dev/reference/methods/conversations.history
        roots = [t[0] for (c, _), t in self.threads.items() if c == args["channel"] and isinstance(t[0], dict)]
        if not roots:
            return {"ok": False, "error": "channel_not_found"}
        oldest, inclusive = args.get("oldest"), str(args.get("inclusive", "")).lower() in ("1", "true")
        picked = sorted((m for m in roots if not oldest or m["ts"] > oldest or (inclusive and m["ts"] == oldest)), key=lambda m: m["ts"], reverse=True)
        if str(args.get("include_all_metadata", "")).lower() not in ("1", "true"):
            picked = [{k: v for k, v in m.items() if k != "metadata"} for m in picked]
        return {"ok": True, "messages": json.loads(json.dumps(picked)), "has_more": False, "response_metadata": {"next_cursor": ""}}

    def _reactions_get(self, args: dict[str, Any]) -> dict[str, Any]:
        # NOTE(slack): the reacted-to item; for a message, the message object and its channel.
        # https://docs.slack.dev/reference/methods/reactions.get
        channel, ts = args["channel"], args["timestamp"]
        found = next((m for (c, _), ms in self.threads.items() if c == channel for m in ms if _ts(m) == ts), None)
        if found is None and (channel, ts) in self.threads:  # a root seeded not of the documented shape, as it is
            found = self.threads[(channel, ts)][0]
        if found is None:
            return {"ok": False, "error": "message_not_found"}
        return {"ok": True, "type": "message", "channel": channel, "message": json.loads(json.dumps(found))}

    def _conversations_info(self, args: dict[str, Any]) -> dict[str, Any]:
        # NOTE(slack): a public channel needs channels:read, a private one groups:read; a channel the token cannot
        # see is channel_not_found. https://docs.slack.dev/reference/methods/conversations.info
        channel = self.channels.get(args["channel"])
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        needed = "groups:read" if channel["is_private"] else "channels:read"
        if self.scopes is not None and needed not in self.scopes:
            return {"ok": False, "error": "missing_scope", "needed": needed, "provided": ",".join(self.scopes)}
        return {"ok": True, "channel": dict(channel)}

    def _users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user = self.users.get(args["user"])
        return {"ok": True, "user": user} if user else {"ok": False, "error": "user_not_found"}

    def _chat_getPermalink(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, ts = args["channel"], args["message_ts"]
        if not any(c == channel and any(_ts(m) == ts for m in ms) for (c, _), ms in self.threads.items()):
            return {"ok": False, "error": "message_not_found"}
        return {"ok": True, "channel": channel, "permalink": f"{AUTH_TEST['url']}archives/{channel}/p{ts.replace('.', '')}"}

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                parts = urlsplit(self.path)
                args: dict[str, Any] = {k: v[0] for k, v in parse_qs(parts.query).items()}
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode("utf-8") if length else ""
                if raw and "json" in (self.headers.get("Content-Type") or ""):
                    args.update(json.loads(raw))
                elif raw:
                    args.update({k: v[0] for k, v in parse_qs(raw).items()})
                api = parts.path.rsplit("/", 1)[-1]
                with stub._lock:
                    stub.calls.append(Call(api, self.command, parts.path, args, self.headers.get("Authorization")))
                stub._meet(api)
                status, body, headers = stub.answer(api, args)
                if status == 0:  # the call was made; its answer never comes back
                    self.close_connection = True
                    return
                data = json.dumps(body).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for key, value in headers.items():
                    self.send_header(key, value)
                if stub.scopes is not None:
                    self.send_header("x-oauth-scopes", ", ".join(stub.scopes))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _serve

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
                return

        return Handler


# -- helpers shared by the Slack tests ------------------------------------------------------------

SIGNING_SECRET = "test-signing-secret-8f742231b10e"
BOT_TOKEN = "xoxb-test-token"


def _ts(message: Any) -> Any:
    """A stored message's ``ts`` (``None`` for one seeded not of the documented shape)."""
    return message.get("ts") if isinstance(message, dict) else None


def fixture(name: str) -> dict[str, Any]:
    """Load ``tests/fixtures/slack/<name>.json``."""
    return json.loads((FIXTURES / f"{name}.json").read_text())


def sign(body: bytes, timestamp: int | None = None, secret: str = SIGNING_SECRET) -> dict[str, str]:
    """Return Slack's signature headers for ``body`` (``v0=hex(HMAC_SHA256(secret, "v0:{ts}:{body}"))``)."""
    import hashlib
    import hmac
    import time

    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


def slack_settings(database_url: str, stub: SlackStub, **overrides: Any) -> dict[str, Any]:
    """Settings for a hub with Slack pointed at ``stub``."""
    values: dict[str, Any] = {
        "HUB_DATABASE_URL": database_url,
        "HUB_DENSE": "off",
        "HUB_JOB_WORKERS": 2,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": stub.url,
        "SLACK_TRIAGE_CHANNEL": "CTRIAGE01",
    }
    values.update(overrides)
    return values


def shown(blocks: list[dict[str, Any]]) -> str:
    """The text of a message's ``rich_text`` blocks as Slack shows it: text elements as written, a link element
    as its text (its url when it has none)."""
    return "".join(
        str(e.get("text") or e.get("url") or "")
        for b in blocks if b.get("type") == "rich_text" for s in b["elements"] for e in s["elements"]
    )


def _parent(thread: list[Any]) -> Any:
    """A thread's parent as ``conversations.replies`` lists it: with ``reply_count`` and ``latest_reply`` when it
    has replies (NOTE(slack): the parent's thread fields, https://docs.slack.dev/reference/methods/conversations.replies)."""
    parent = thread[0]
    if not isinstance(parent, dict) or len(thread) < 2 or "reply_count" in parent:
        return parent
    return {**parent, "reply_count": len(thread) - 1, "latest_reply": _ts(thread[-1])}
