"""The Jira Cloud / Jira Service Management connector: webhooks in, issues read and written through the
pycontribs ``jira`` client (REST v2)."""

from __future__ import annotations

import json
import logging
import threading
from datetime import timedelta
from typing import Any, Iterable, Mapping

from config.settings import JiraSettings
from connectors.base import PostedMessage
from connectors.inbound import json_body
from connectors.jira import events, mapping, poll, schemas
from connectors.jira.client import call, make_jira
from core.errors import Fatal
from core.models import Person, Source, Ticket, TicketEvent, TicketRef

log = logging.getLogger(__name__)


class JiraConnector:
    """One Jira site; tickets are issues, the hub opens new ones in ``JIRA_PROJECT_KEY``.

    Args:
        settings: the Jira settings (URL, API user's email and token, webhook secret, project key).
    """

    source = Source.JIRA

    def __init__(self, settings: JiraSettings) -> None:
        self.settings = settings
        self.jira = make_jira(settings.url, settings.email, settings.api_token.reveal())
        self._me: dict[str, Any] | None = None
        self._lock = threading.Lock()

    # -- inbound -------------------------------------------------------------------------------

    def verify(self, headers: Mapping[str, str], body: bytes) -> None:
        """Check ``X-Hub-Signature`` with JIRA_WEBHOOK_SECRET (required unless JIRA_ALLOW_UNSIGNED_WEBHOOKS).

        Raises:
            SignatureError: the signature is missing or wrong, or no secret is set and unsigned webhooks are
                not allowed.
        """
        secret = self.settings.webhook_secret
        events.verify(secret.reveal() if secret else None, headers, body, allow_unsigned=self.settings.allow_unsigned_webhooks)

    def parse_event(self, headers: Mapping[str, str], body: bytes) -> TicketEvent | None:
        """Parse ``jira:issue_created`` / ``comment_created`` (see :mod:`connectors.jira.events`).

        Returns:
            The event, or ``None`` for other events, internal comments and the hub's own comments. No vendor
            call is made: the hub's account id is used once known, its email always.

        Raises:
            PayloadError: the body is not JSON or not a Jira webhook of the declared shape.
            SignatureError: the delivery's ``timestamp`` is outside JIRA_WEBHOOK_MAX_AGE_SECONDS (a replay);
                a delivery already seen is caught by the inbox (its delivery id is the body's hash).
        """
        data = schemas.checked(json_body(body, "jira"))
        events.check_age(data, timedelta(seconds=self.settings.webhook_max_age_seconds))
        return events.parse(headers, data, self._self(fetch=False))

    # -- reads ---------------------------------------------------------------------------------

    def myself(self) -> dict[str, Any]:
        """The API user (``GET /myself``: accountId, emailAddress, timeZone), fetched once and cached.

        Raises:
            Retriable, Fatal: the call failed.
        """
        with self._lock:
            if self._me is None:
                self._me = dict(call("myself", self.jira.myself))
            return self._me

    def _self(self, fetch: bool = True) -> mapping.Self:
        me = self.myself() if fetch else (self._me or {})
        uid = me.get("accountId") or me.get("name") or me.get("key")
        return mapping.Self(user_id=str(uid) if uid else None, email=me.get("emailAddress") or self.settings.email)

    def fetch(self, ref: TicketRef) -> Ticket:
        """Read an issue with its comments (wiki text and ADF both become plain text).

        Raises:
            NotFound: the issue is gone. Retriable, Fatal: the call failed.
        """
        issue = call("issue", lambda: self.jira.issue(self._key(ref), fields=mapping.ISSUE_FIELDS).raw)
        return mapping.ticket(issue, self._self(), self.settings.url)

    def search(self, jql: str, page_token: str | None, limit: int) -> dict[str, Any]:
        """One page of ``GET /rest/api/2/search/jql`` (the Cloud search; ``nextPageToken`` paging).

        NOTE(jira): ``/search`` is deprecated on Cloud in favour of ``/search/jql``.
        https://developer.atlassian.com/changelog/#CHANGE-2046

        Raises:
            Retriable, Fatal: the call failed.
        """
        params: dict[str, Any] = {"jql": jql, "fields": mapping.ISSUE_FIELDS, "maxResults": limit}
        if page_token:
            params["nextPageToken"] = page_token
        url = self.jira._get_url("search/jql")
        return call("search", lambda: self.jira._session.get(url, params=params).json())

    # -- writes --------------------------------------------------------------------------------

    def post_reply(
        self, ref: TicketRef, text: str, *, idempotency_key: str, kind: str = "answer", citations: Iterable[Mapping[str, Any]] = ()
    ) -> PostedMessage:
        """Post one public comment; for an answer label the issue ``hub_answered`` first (a retry after a
        failed comment then does not double the label, and a failed label never leaves a second comment).

        Raises:
            NotFound, Retriable, Fatal: a call failed.
        """
        if kind == "answer":
            self._label(ref, mapping.ANSWERED_LABEL)
        body = mapping.answer_body(text, citations)
        comment = call("add_comment", lambda: self.jira.add_comment(self._key(ref), body))
        return PostedMessage(str(comment.id), f"{self.ticket_url(ref)}?focusedCommentId={comment.id}")

    def add_internal_note(self, ref: TicketRef, text: str, *, reopen: bool = False) -> PostedMessage:
        """Post one internal comment (JSM property ``sd.public.comment`` ``{"internal": true}``) and label
        the issue ``hub_escalated``. ``reopen`` changes nothing more: Jira workflows differ per project.

        Raises:
            NotFound, Retriable, Fatal: a call failed.
        """
        self._label(ref, mapping.ESCALATED_LABEL)
        comment = call("add_comment", lambda: self.jira.add_comment(self._key(ref), text, is_internal=True))
        return PostedMessage(str(comment.id), f"{self.ticket_url(ref)}?focusedCommentId={comment.id}")

    def create_ticket(self, subject: str, text: str, requester: Person, *, tags: tuple[str, ...] = ()) -> TicketRef:
        """Open an issue of type :data:`mapping.ISSUE_TYPE` in JIRA_PROJECT_KEY.

        Raises:
            Fatal: JIRA_PROJECT_KEY is not set, or Jira refused. Retriable: as usual.
        """
        if not self.settings.project_key:
            raise Fatal("JIRA_PROJECT_KEY is not set: the hub cannot open Jira issues")
        fields = mapping.create_fields(self.settings.project_key, subject, text, requester, tags)
        issue = call("create_issue", lambda: self.jira.create_issue(fields=fields, prefetch=False))
        return TicketRef(Source.JIRA, str(issue.key))

    def ticket_url(self, ref: TicketRef) -> str:
        """``{JIRA_URL}/browse/{key}``."""
        return mapping.browse_url(self.settings.url, self._key(ref))

    def _label(self, ref: TicketRef, label: str) -> None:
        url = self.jira._get_url(f"issue/{self._key(ref)}")
        call("label", lambda: self.jira._session.put(url, data=json.dumps(mapping.label_update(label))))

    @staticmethod
    def _key(ref: TicketRef) -> str:
        """The issue key (or numeric id) of ``ref``, checked before any URL is built from it.

        Raises:
            Fatal: ``ref`` is not a Jira issue key or id (``../../admin`` never reaches the Jira host).
        """
        if ref.source is not Source.JIRA or not schemas.is_issue_key(ref.external_id):
            raise Fatal(f"not a Jira issue key or id: {ref.external_id[:80]!r}")
        return ref.external_id

    # -- optional capabilities -----------------------------------------------------------------

    def poll(self, cursor: str | None) -> tuple[list[TicketEvent], str | None]:
        """Issues updated since ``cursor`` (see :mod:`connectors.jira.poll`)."""
        return poll.poll(self, cursor)
