"""A recording Slack Web API on loopback: what ``hub simulate slack`` points the real Slack connector at.

It answers the methods the hub calls (``auth.test``, ``chat.postMessage``, ``chat.update``,
``conversations.replies``, ``users.info``, ``chat.getPermalink``) the way Slack documents them
(https://api.slack.com/methods), keeps the threads it was sent so the hub reads back what it posted, and
records every call in order. Standard library only; it never reaches beyond 127.0.0.1.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

TEAM = "TSIMULATE1"
BOT_USER, BOT_ID, BOT_APP = "USIMHUB01", "BSIMHUB01", "ASIMHUB01"
WORKSPACE_URL = "https://simulated-workspace.slack.com/"


@dataclass(frozen=True)
class Call:
    """One Web API call the hub made: the method (``chat.postMessage``), its arguments and Slack's answer."""

    api: str
    args: dict[str, Any]
    response: dict[str, Any]


class RecordingSlack:
    """The recording Slack Web API. ``url`` is what ``SLACK_API_URL`` should be set to.

    Args:
        users: ``users.info`` profiles by user id (the requester, so the hub can read their name and email).
    """

    def __init__(self, users: dict[str, dict[str, Any]] | None = None) -> None:
        self.calls: list[Call] = []
        self.threads: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.users = dict(users or {})
        self._lock = threading.Lock()
        self._clock = 1_800_000_000
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/api/"

    def __enter__(self) -> "RecordingSlack":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def post_user_message(self, channel: str, user: str, text: str, thread_ts: str | None = None) -> str:
        """Put a person's message at the root of a new thread, or as a reply in thread ``thread_ts`` (as Slack
        would hold it: ``conversations.replies`` lists it after its parent), and return its ``ts``."""
        with self._lock:
            ts = self._next_ts()
            message = {"type": "message", "user": user, "text": text, "ts": ts, "team": TEAM}
            if thread_ts is None:
                self.threads[(channel, ts)] = [message]
            else:
                parent = self.threads[(channel, thread_ts)][0]
                parent["thread_ts"] = thread_ts
                self.threads[(channel, thread_ts)].append({**message, "thread_ts": thread_ts, "parent_user_id": parent.get("user")})
            return ts

    def writes(self) -> list[Call]:
        """The calls that would change something in Slack (posts and updates), in order."""
        with self._lock:
            return [c for c in self.calls if c.api in ("chat.postMessage", "chat.update")]

    # -- the fake API (called with the lock held) ----------------------------------------------------

    def _next_ts(self) -> str:
        self._clock += 1
        return f"{self._clock}.000100"

    def answer(self, api: str, args: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            handler = getattr(self, "_" + api.replace(".", "_"), None)
            body = handler(args) if handler is not None else {"ok": False, "error": "unknown_method"}
            self.calls.append(Call(api, args, body))
            return body

    def _auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "url": WORKSPACE_URL, "team": "Simulated workspace", "user": "hub", "team_id": TEAM,
                "user_id": BOT_USER, "bot_id": BOT_ID}

    def _chat_postMessage(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, thread_ts = args.get("channel"), args.get("thread_ts")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        blocks = args.get("blocks") or []
        message = {"type": "message", "user": BOT_USER, "bot_id": BOT_ID, "app_id": BOT_APP, "team": TEAM,
                   "text": args.get("text", ""), "blocks": json.loads(blocks) if isinstance(blocks, str) else blocks,
                   "ts": self._next_ts()}
        metadata = args.get("metadata")
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
                if channel == args.get("channel") and m["ts"] == args.get("ts"):
                    m["text"], m["blocks"] = args.get("text", m.get("text")), args.get("blocks", m.get("blocks"))
                    return {"ok": True, "channel": channel, "ts": m["ts"], "text": m["text"]}
        return {"ok": False, "error": "message_not_found"}

    def _conversations_replies(self, args: dict[str, Any]) -> dict[str, Any]:
        thread = self.threads.get((args.get("channel", ""), args.get("ts", "")))
        if thread is None:
            return {"ok": False, "error": "thread_not_found"}
        with_metadata = str(args.get("include_all_metadata", "")).lower() in ("1", "true")
        messages = [m if with_metadata else {k: v for k, v in m.items() if k != "metadata"} for m in thread]
        return {"ok": True, "messages": json.loads(json.dumps(messages)), "has_more": False}

    def _users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user = self.users.get(args.get("user", ""))
        return {"ok": True, "user": user} if user else {"ok": False, "error": "user_not_found"}

    def _chat_getPermalink(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, ts = args.get("channel", ""), args.get("message_ts", "")
        if not any(c == channel and any(m["ts"] == ts for m in ms) for (c, _), ms in self.threads.items()):
            return {"ok": False, "error": "message_not_found"}
        return {"ok": True, "channel": channel, "permalink": f"{WORKSPACE_URL}archives/{channel}/p{ts.replace('.', '')}"}


def _handler(slack: RecordingSlack) -> type[BaseHTTPRequestHandler]:
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
            body = slack.answer(parts.path.rsplit("/", 1)[-1], args)
            data = json.dumps(body).encode("utf-8")
            self.send_response(200)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _serve

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
            return

    return Handler
