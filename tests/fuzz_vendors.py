"""Vendors for the processing fuzz (``tests/test_fuzz_processing.py``): Zendesk and Jira stand-ins that know
every ticket a well-formed id names, the Slack stub seeded with the threads the Slack fixtures name, and what
each example made them write.

A Zendesk ticket id (digits) or a Jira issue key (``ABC-12``) or id (digits) is answered with a valid ticket,
made when first asked (a question the knowledge base answers, so the hub's public answer is reached);
anything else is the vendor's 404 (the stand-ins route ids by pattern: :mod:`tests.vendor_standins`, :mod:`tests.standin_jira`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable

from tests.slack_stub import BOT_ID, BOT_USER, SlackStub
from tests.standin_jira import JiraStandin
from tests.vendor_standins import ZendeskStandin

QUESTION = "I forgot my password, how do I reset it?"
REQUESTER = 6130869168922  # the fixtures' requester
KEY = re.compile(r"[A-Z][A-Z0-9_]{0,9}-[1-9][0-9]{0,17}")
AUTO = "FZ"  # the project of an issue first asked for by its numeric id


class AnyZendesk(ZendeskStandin):
    """Zendesk, where every ticket id names a ticket (asked by the requester of the fixtures)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.user(REQUESTER, "The Customer", "customer@example.com")
        self.created: set[str] = set()  # tickets the hub opened

    def _known(self, tid: str) -> None:
        if int(tid) not in self.tickets:
            self.ticket(int(tid), "Password", REQUESTER, (REQUESTER, QUESTION, True))

    def _show(self, q: Any, b: Any, tid: str) -> tuple[int, Any]:
        self._known(tid)
        return super()._show(q, b, tid)

    def _comments(self, q: dict[str, list[str]], b: Any, tid: str) -> tuple[int, Any]:
        self._known(tid)
        return super()._comments(q, b, tid)

    def _update(self, q: Any, body: dict[str, Any], tid: str) -> tuple[int, Any]:
        self._known(tid)
        return super()._update(q, body, tid)

    def _create(self, q: Any, body: dict[str, Any]) -> tuple[int, Any]:
        status, answer = super()._create(q, body)
        if status == 201:
            self.created.add(str(answer["ticket"]["id"]))
        return status, answer

    def written(self, since: int) -> list[str]:
        """The tickets written to (a comment, a tag, a status) since call ``since``, by id."""
        return [m.group(1) for method, path, _, _ in self.calls[since:] if method == "PUT"
                for m in [re.fullmatch(r"/api/v2/tickets/(\d+)\.json", path)] if m]


class AnyJira(JiraStandin):
    """Jira, where every issue key and every issue id names an issue (an id ``N`` is issue ``FZ-N``)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.user("requester-1", "The Customer", "customer@example.com")
        self.created: set[str] = set()

    def _known(self, key: str) -> str | None:
        if key.isdigit() and len(key) <= 18:
            key = f"{AUTO}-{int(key)}" if int(key) else key
        if not KEY.fullmatch(key):
            return None
        if key not in self.issues:
            self.issue(key, "Password", "requester-1", QUESTION)
        return key

    def _get(self, q: dict[str, list[str]], b: Any, key: str) -> tuple[int, Any]:
        return super()._get(q, b, self._known(key) or key)

    def _comments(self, q: dict[str, list[str]], b: Any, key: str) -> tuple[int, Any]:
        return super()._comments(q, b, self._known(key) or key)

    def _add_comment(self, q: Any, body: dict[str, Any], key: str) -> tuple[int, Any]:
        return super()._add_comment(q, body, self._known(key) or key)

    def _edit(self, q: Any, body: dict[str, Any], key: str) -> tuple[int, Any]:
        return super()._edit(q, body, self._known(key) or key)

    def _create(self, q: Any, body: dict[str, Any]) -> tuple[int, Any]:
        status, answer = super()._create(q, body)
        if status == 201:
            self.created.add(answer["key"])
        return status, answer

    def written(self, since: int) -> list[str]:
        """The issues written to (a comment, a label) since call ``since``, by the key or id in the path."""
        return [m.group(1) for method, path, _, _ in self.calls[since:] if method in ("POST", "PUT")
                for m in [re.fullmatch(r"/rest/api/2/issue/([^/]+)(?:/comment)?", path)] if m]


# -- Slack ---------------------------------------------------------------------------------------------------

SLACK_USERS = ("U06NU4E26M9", "U111", "U222")
ANSWER_TS = "1719209506.900000"  # the hub's answer the block_actions fixture clicks on
THREADS = {  # (channel, root ts) -> replies' ts: the threads the Slack fixtures name
    ("C06NRA6JLER", "1719209506.817929"): ("1719209600.000200",),
    ("C06NRA6JLER", "1719209700.000300"): (),
    ("C111", "1665102338.901939"): (),
    ("C111", "1665368619.804829"): (),
    ("C111", "1633663824.000500"): ("1633670813.007500",),
}


def seed_slack(stub: SlackStub) -> None:
    """(Re)seed the threads and people of the Slack fixtures, as they were before any event of an example."""
    for user in SLACK_USERS:
        stub.users[user] = {"id": user, "name": user.lower(), "real_name": f"Person {user}",
                            "profile": {"email": f"{user.lower()}@example.com", "real_name": f"Person {user}"}}
    stub.threads.clear()
    for (channel, root), replies in THREADS.items():
        author = "U222" if channel == "C111" else "U06NU4E26M9"
        listed = [{"type": "message", "user": author, "text": f"Thanks, and {QUESTION.lower()}", "ts": ts, "thread_ts": root} for ts in replies]
        if root == "1719209506.817929":
            listed.append({"type": "message", "user": BOT_USER, "bot_id": BOT_ID, "text": "Click Forgot password.", "ts": ANSWER_TS,
                           "thread_ts": root})
        stub.seed_thread(channel, {"type": "message", "user": author, "text": QUESTION, "ts": root}, *listed)


def slack_written(stub: SlackStub, since: int) -> list[tuple[str, str]]:
    """The Slack writes since call ``since``: (channel, the thread or message written to)."""
    with stub._lock:  # the stub's own lock: its server threads append to ``calls``
        calls = stub.calls[since:]
    return [(str(c.args.get("channel")), str(c.args.get("thread_ts") or c.args.get("ts") or ""))
            for c in calls if c.api in ("chat.postMessage", "chat.update", "chat.postEphemeral", "reactions.add")]


# The fields a body names its ticket, issue or thread in (whatever else it holds: a requester's or author's id
# is no ticket's): Zendesk's ``detail.id``, ``subject`` (``zen:ticket:N``) and trigger ``ticket_id``; Jira's
# ``issue.id`` and ``issue.key``; Slack's channels, message and thread ``ts``, and a button's ``value``
# (``slack:team:channel:ts``).
NAMING = frozenset({"id", "subject", "ticket_id", "key", "channel", "channel_id", "ts", "thread_ts", "message_ts", "deleted_ts",
                    "event_ts", "value"})


@dataclass(frozen=True)
class Named:
    """The ids a delivered body names: the texts and whole numbers of its :data:`NAMING` fields, and the parts of
    such a text written ``a:b:c`` (without the spaces around them)."""

    ids: frozenset[str]

    @classmethod
    def of(cls, body: Any) -> "Named":
        found: set[str] = set()
        for key, leaf in _leaves(body):
            if key not in NAMING or isinstance(leaf, bool) or not isinstance(leaf, (str, int)):
                continue
            text = str(leaf).strip()  # a trigger's rendered placeholder may carry the template's spaces
            found.add(text)
            found.update(part.strip() for part in text.split(":"))
        return cls(frozenset(found))

    def names_issue(self, key: str) -> bool:
        return key in self.ids or (key.startswith(f"{AUTO}-") and key[len(AUTO) + 1:] in self.ids)


def _leaves(value: Any) -> Iterable[tuple[Any, Any]]:
    """Every leaf of ``value`` with the key it is under (a list's items are under the list's key)."""
    stack: list[tuple[Any, Any]] = [(None, value)]
    while stack:
        key, item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.items())
        elif isinstance(item, list):
            stack.extend((key, inner) for inner in item)
        else:
            yield key, item
