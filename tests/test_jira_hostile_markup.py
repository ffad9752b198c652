"""Hostile text never becomes Jira wiki markup: the exact body the hub sends (REST v2 and the JSM request API
take wiki-markup strings), with Jira faked at the transport by ``responses`` on http://127.0.0.1:8766.

A requester's own words (from Slack) open an issue or a JSM request; an answer or an agents' draft becomes a
comment. Each must show the text as written: no image an agent's browser fetches (a tracking pixel), no link
under a false label, no macro, heading, quote, rule, table, list or line break of the requester's making.
``J`` is the invisible word joiner the hub puts where Jira has no backslash escape (connectors/jira/wiki.py).
"""

from __future__ import annotations

import json
from typing import Any, Iterator

import pytest
import responses

from config import load_settings
from connectors.jira import JiraConnector
from core.models import Person, Source, TicketRef
from tests.test_jira_connector import API, BASE, JIRA
from tests.test_jira_mapping import load

# The escaping once looped forever on any backslash (``C:\\Users``): a row that takes 10 s fails, not hangs.
pytestmark = pytest.mark.usefixtures("within_10_seconds")

J = "\u2060"  # connectors.jira.wiki.JOINER
REF = TicketRef(Source.JIRA, "TESTKEY13-1")
ALICE = Person("U1", "Alice", "alice@example.com")
HEADER = "Requested by Alice (alice@example.com)\n\n"

# (what the requester or an answer says, the wiki markup that shows it as written). Each row also carries
# text Jira would not render as markup, which stays as it is (5 * 3, file_name_v2, --force, "Thanks!").
# Images, links Jira's URL would hide, line-start marks and backslashes: wiki_plain once let them all through.
LINES_AND_IMAGES = [
    ("!https://evil.example/pixel.png! Thanks! See you!", "\\!https://evil.example/pixel.png! Thanks! See you!"),
    ("look !https://evil.example/p.png|width=1!", "look \\!https://evil.example/p.png|width=1!"),
    ("see !logo.png|thumbnail! here, Wow!!!", "see \\!logo.png|thumbnail! here, Wow!!!"),
    ("https://ok.example/[Reset|https://phish.example]", f"https://ok.example/{J}\\[Reset|https://phish.example]"),
    ("ftp://files.example/[Reset|https://phish.example]", f"ftp://files.example/{J}\\[Reset|https://phish.example]"),
    ("h1. Security notice: run it with --force", f"h1{J}. Security notice: run it with --force"),
    ("costs 3-4 h1 or 2 h2.\n  h6. small print", f"costs 3-4 h1 or 2 h2.\n  h6{J}. small print"),
    ("bq. the admin said so on 2024-05-01", f"bq{J}. the admin said so on 2024-05-01"),
    ("above\n----\nsee https://kb.example/a_b-c!", "above\n\\-\\-\\-\\-\nsee https://kb.example/a_b-c!"),
    ("|a|b|\n||head||", "\\|a|b|\n\\||head||"),
    ("* 5 * 3\n# file_name_v2\n- three\n** four", "\\* 5 * 3\n\\# file_name_v2\n\\- three\n\\** four"),
    ("line\\\\break \\{html} in C:\\Users\\alice", f"line\\{J}\\break \\{J}\\{{html}} in C:\\Users\\alice"),
]
# Macros, links and mentions anywhere: escaped in answers and drafts already, never in a description.
MACROS_AND_LINKS = [
    ("[Reset your password|https://phish.example]", "\\[Reset your password|https://phish.example]"),
    ("ask [~accountid:5b10ac8d82e05b22cc7d4ef5]", "ask \\[~accountid:5b10ac8d82e05b22cc7d4ef5]"),
    ("{html}<img src=x>{html}", "\\{html}<img src=x>\\{html}"),
    ("{color:red}URGENT{color}", "\\{color:red}URGENT\\{color}"),
    ("{code}rm -rf /{code}", "\\{code}rm -rf /\\{code}"),
]
HOSTILE = LINES_AND_IMAGES + MACROS_AND_LINKS


@pytest.fixture
def api() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def posted(api: responses.RequestsMock) -> list[tuple[str, dict[str, Any]]]:
    """Each POST the hub made: its URL and its JSON body."""
    calls: list[Any] = list(api.calls)
    return [(c.request.url, json.loads(c.request.body)) for c in calls if c.request.method == "POST"]


def sent(api: responses.RequestsMock, url: str) -> dict[str, Any]:
    [body] = [body for to, body in posted(api) if to == url]
    return body


@pytest.mark.parametrize(("text", "markup"), HOSTILE)
def test_an_issue_the_hub_opens_shows_the_requesters_text_as_written(api: responses.RequestsMock, text: str, markup: str) -> None:
    api.post(f"{API}/issue", json=load("issue_create_response.json"), status=201)
    JiraConnector(load_settings(JIRA).jira).create_ticket("Help", text, ALICE)  # type: ignore[arg-type]
    assert sent(api, f"{API}/issue")["fields"]["description"] == HEADER + markup


def jsm(api: responses.RequestsMock) -> JiraConnector:
    api.get(f"{BASE}/rest/servicedeskapi/servicedesk/4",
            json={"id": "4", "projectId": "10002", "projectKey": "SUP", "_links": {"self": f"{BASE}/rest/servicedeskapi/servicedesk/4"}})
    api.post(f"{BASE}/rest/servicedeskapi/request", status=201,
             json={"issueId": "10107", "issueKey": "SUP-43", "requestTypeId": "25", "serviceDeskId": "4", "requestFieldValues": []})
    return JiraConnector(load_settings({**JIRA, "JIRA_SERVICE_DESK_ID": "4", "JIRA_REQUEST_TYPE_ID": "25"}).jira)  # type: ignore[arg-type]


@pytest.mark.parametrize(("text", "markup"), HOSTILE)
def test_a_jsm_request_the_hub_opens_shows_the_requesters_text_as_written(api: responses.RequestsMock, text: str, markup: str) -> None:
    """The JSM request API takes wiki markup too (ADF only with ``isAdfRequest``)."""
    jsm(api).create_ticket("Help", text, ALICE)
    assert sent(api, f"{BASE}/rest/servicedeskapi/request")["requestFieldValues"]["description"] == HEADER + markup


@pytest.mark.parametrize(("who", "header"), [
    (Person("U1", "[Boss|https://phish.example]", "boss@example.com"), "Requested by \\[Boss|https://phish.example] (boss@example.com)"),
    (Person("U1", "*CEO* !https://evil.example/p.png!", None), "Requested by \\*CEO* \\!https://evil.example/p.png!"),
    (Person("U1", "Mallory\nh1. Approved", None), f"Requested by Mallory\nh1{J}. Approved"),
    (Person("U1", "", "{color:red}x{color}@example.com"), "Requested by U1 (\\{color:red}x\\{color}@example.com)"),
])
def test_the_requesters_name_and_email_show_as_written(api: responses.RequestsMock, who: Person, header: str) -> None:
    api.post(f"{API}/issue", json=load("issue_create_response.json"), status=201)
    JiraConnector(load_settings(JIRA).jira).create_ticket("Help", "it burns", who)  # type: ignore[arg-type]
    assert sent(api, f"{API}/issue")["fields"]["description"] == f"{header}\n\nit burns"
    jsm(api).create_ticket("Help", "it burns", who)
    assert sent(api, f"{BASE}/rest/servicedeskapi/request")["requestFieldValues"]["description"] == f"{header}\n\nit burns"


@pytest.mark.parametrize(("text", "markup"), LINES_AND_IMAGES)
def test_an_answer_and_a_draft_show_line_marks_images_and_links_as_written(api: responses.RequestsMock, text: str,
                                                                          markup: str) -> None:
    api.post(f"{API}/issue/TESTKEY13-1/comment", json=load("comment_create_response.json"), status=201)
    api.put(f"{API}/issue/TESTKEY13-1", status=204)
    jira = JiraConnector(load_settings(JIRA).jira)  # type: ignore[arg-type]
    jira.post_reply(REF, text, idempotency_key="answer:x")
    jira.add_internal_note(REF, text, idempotency_key="draft:x")
    answer, draft = [body["body"] for _, body in posted(api)]
    assert answer == markup.strip() and draft == markup


def test_a_description_escaped_past_jiras_limit_is_cut_and_says_so(api: responses.RequestsMock) -> None:
    """Escaping doubles a ``[``: a 20,000-character transcript (interceptor/act.py's bound) of them would be
    40,000 characters, and Jira refuses a description over 32,767 (the escalation would fail)."""
    api.post(f"{API}/issue", json=load("issue_create_response.json"), status=201)
    JiraConnector(load_settings(JIRA).jira).create_ticket("Help", "[" * 20_000, ALICE)  # type: ignore[arg-type]
    description = sent(api, f"{API}/issue")["fields"]["description"]
    cut = " \\[cut: the whole conversation is in the original thread]"
    assert len(description) <= 32_767 and description.endswith(cut)
    assert description == HEADER + "\\[" * ((len(description) - len(HEADER) - len(cut)) // 2) + cut
    assert len(description) > 32_000  # cut to fit, not far below
