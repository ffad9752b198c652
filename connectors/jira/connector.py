"""The Jira Cloud / Jira Service Management connector: webhooks in, issues read and written through the
pycontribs ``jira`` client (REST v2)."""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from dataclasses import replace
from datetime import timedelta
from functools import partial
from typing import Any, Iterable, Mapping

from connectors.base import PostedMessage
from connectors.inbound import json_body
from connectors.polling import Held
from connectors.jira import comments, events, mapping, poll, schemas, wiki
from connectors.jira.client import call, json_object, make_jira
from connectors.jira.settings import JiraSettings
from connectors.jira.visibility import CommentVisibility
from connectors.records import read_record
from connectors.written import id_text, listed_unreadable, written_id
from core.errors import ConnectorError, Fatal, NotFound
from core.models import Person, Source, Ticket, TicketEvent, TicketRef, Visibility

log = logging.getLogger(__name__)

KEY_PROPERTY = "hub_key"
"""The comment property that marks a public write with its idempotency key."""


def key_label(idempotency_key: str) -> str:
    """The label that marks an issue the hub opened with its write's idempotency key."""
    return "hub_w_" + hashlib.sha1(idempotency_key.encode("utf-8")).hexdigest()[:16]


def issue_ref(key: Any, asked: TicketRef) -> TicketRef:
    """The issue's reference by the key Jira answered with (an issue asked by its numeric id, or moved to
    another project, answers under its key), or ``asked`` when that is no issue key: none, a number, or longer
    than an issue key the hub takes (``schemas.MAX_KEY_CHARS``; the tickets table and the outbox keys hold 255)."""
    said = str(key or "")
    return TicketRef(Source.JIRA, said) if schemas.is_issue_key(said) and not said.isdigit() else asked


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
        self._offset_search = False  # this Jira has no /search/jql (Server/DC): search pages by startAt
        self.visibility = CommentVisibility(self.jira)

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
        data = json_body(body, "jira")
        event = events.parse(headers, data, self._self(fetch=False))  # checks the declared shape first
        events.check_age(data, timedelta(seconds=self.settings.webhook_max_age_seconds))
        return event

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
        """Read an issue with its comments (wiki text and ADF both become plain text). An agent's comment
        without ``jsdPublic`` (Jira Server/DC) is judged by its ``sd.public.comment`` property
        (:class:`CommentVisibility`: one or two requests the first time, none while its verdict is held); a
        comment whose look-up failed is ``Visibility.UNKNOWN`` (shown to no one; the next read asks again).

        Raises:
            NotFound: the issue is gone. Retriable, Fatal: reading the issue failed. Fatal: Jira refused a
                comment's look-up (:meth:`CommentVisibility.of`). UnreadableRecord (a Fatal): the issue is not
                of the documented shape.
        """
        key = self._key(ref)
        issue = comments.complete(self.jira, call("issue", lambda: self.jira.issue(key, fields=mapping.ISSUE_FIELDS).raw))
        me = self._self()
        needed = read_record(Source.JIRA, "issue", key, lambda: mapping.lookups_needed(issue, me))
        looked_up = {comment_id: self.visibility.of(comment_id) for comment_id in needed}
        ticket = read_record(Source.JIRA, "issue", key, lambda: mapping.ticket(issue, me, self.settings.url, looked_up))
        keyed = issue_ref(ticket.ref.external_id, ref)
        if keyed == ticket.ref:
            return ticket
        return replace(ticket, ref=keyed, url=mapping.browse_url(self.settings.url, keyed.external_id))

    def resolve(self, event: TicketEvent) -> TicketEvent:
        """The event as the issue tells it, from one cheap read (``GET /issue/{id or key}?fields=reporter,creator``)
        made only when the webhook left something out (a poll's events and a key-named issue event cost none):

        - the issue's key for an issue named by its numeric id, as Jira Server/DC's ``comment_created`` names
          it (:func:`events._issue_from_comment`); the hub keeps issues by key (a ticket of record included);
        - the comment's author judged on the issue's reporter (:func:`mapping.judged`), which no comment
          webhook names: the reporter's own comment stays the requester's word, anyone else's is an agent's,
          and an agent's comment without ``jsdPublic`` gets its looked-up visibility (:meth:`fetch` then finds
          the verdict held).

        Raises:
            NotFound: the issue is gone. Retriable, Fatal: the read failed. Fatal: Jira refused the comment's
                look-up. UnreadableRecord (a Fatal): the issue is not of the documented shape.
        """
        if_agent = event.data.get(mapping.IF_AGENT) if event.message is not None else None
        if if_agent is None and not event.ref.external_id.isdigit():
            return event
        asked = self._key(event.ref)
        issue = call("issue", lambda: self.jira.issue(asked, fields=mapping.REPORTER_FIELDS).raw)
        read = partial(read_record, Source.JIRA, "issue", asked)
        ref = read(lambda: issue_ref(issue.get("key"), event.ref))
        if event.message is None or if_agent is None:
            return replace(event, ref=ref)
        said, if_agent_sees, me = event.message, Visibility(if_agent), self._self()
        message = read(lambda: mapping.judged(said, mapping.reporter_id(issue), if_agent_sees, me))
        if message.visibility is Visibility.UNKNOWN and message.external_id.isdigit():
            message = replace(message, visibility=self.visibility.of(message.external_id))
        return replace(event, ref=ref, message=message)

    def search(self, jql: str, page_token: str | None, limit: int) -> dict[str, Any]:
        """One page of the issues ``jql`` finds, ``{"issues", "nextPageToken", "isLast"}``: ``GET
        /rest/api/2/search/jql`` (Cloud; ``nextPageToken`` paging), or, on a Jira without that endpoint
        (Server/DC answers 404), ``GET /rest/api/2/search`` paged by ``startAt``, its page in the same shape
        (``nextPageToken`` is the next ``startAt``; ``isLast`` from ``total``).

        NOTE(jira): ``/search`` is deprecated on Cloud in favour of ``/search/jql``, which Server/DC does not
        have. https://developer.atlassian.com/changelog/#CHANGE-2046

        Raises:
            NotFound, Retriable, Fatal: the call failed.
        """
        params: dict[str, Any] = {"jql": jql, "fields": mapping.ISSUE_FIELDS, "maxResults": limit}
        if not self._offset_search:
            url = self.jira._get_url("search/jql")
            try:
                return call("search", lambda: self.jira._session.get(url, params={**params, "nextPageToken": page_token}
                                                                      if page_token else params).json())
            except NotFound:
                if page_token:  # a later page of a search the endpoint served: not a Jira without it
                    raise
                self._offset_search = True
                log.info("jira.search.offset-paging", extra={"reason": "no /search/jql here (Jira Server/DC)"})
        start = int(page_token) if page_token and page_token.isdigit() else 0
        url = self.jira._get_url("search")
        page = call("search", lambda: self.jira._session.get(url, params={**params, "startAt": start}).json())
        page = page if isinstance(page, dict) else {}
        issues = [i for i in page.get("issues") or () if isinstance(i, dict)]
        following, total = start + len(issues), page.get("total")
        last = not issues or (following >= total if isinstance(total, int) else len(issues) < limit)
        return {"issues": issues, "nextPageToken": str(following), "isLast": last}

    # -- writes --------------------------------------------------------------------------------

    def post_reply(
        self, ref: TicketRef, text: str, *, idempotency_key: str, kind: str = "answer", citations: Iterable[Mapping[str, Any]] = ()
    ) -> PostedMessage:
        """Post one public comment carrying the comment property ``hub_key`` = ``{"key": idempotency_key}``
        (set in the same request, so the comment never exists without it); then, for an answer, label the
        issue ``hub_answered``. The label comes after the comment: a label never marks an issue whose answer
        was not posted. A failed label is logged and counted, not retried (the comment is what matters, and a
        retry would be answered by :meth:`already_wrote` without labelling).

        NOTE(jira): comment ``properties`` are accepted on create.
        https://developer.atlassian.com/cloud/jira/platform/rest/v2/api-group-issue-comments/#api-rest-api-2-issue-issueidorkey-comment-post

        Raises:
            NotFound, Retriable, Fatal: the comment could not be posted. UnreadableRecord (a Fatal): it was, but
                Jira's answer gives it no comment id (:func:`connectors.written.written_id`).
        """
        body = {"body": mapping.answer_body(text, citations), "properties": [{"key": KEY_PROPERTY, "value": {"key": idempotency_key}}]}
        url = self.jira._get_url(f"issue/{self._key(ref)}/comment")
        comment = call("add_comment", lambda: json_object(self.jira._session.post(url, data=json.dumps(body))))
        comment_id = written_id(Source.JIRA, "comment", comment.get("id"), schemas.is_numeric_id)
        if kind == "answer":
            try:
                self._label(ref, mapping.ANSWERED_LABEL)
            except ConnectorError as e:
                log.warning("jira.answer.label-failed", extra={"ref": str(ref), "error": type(e).__name__})
        return PostedMessage(comment_id, f"{self.ticket_url(ref)}?focusedCommentId={comment_id}")

    def already_wrote(self, ref: TicketRef, idempotency_key: str) -> PostedMessage | None:
        """Look for a comment of the hub's on the issue whose ``hub_key`` property holds ``idempotency_key``:
        ``GET /issue/{key}/comment`` (newest pages first), then ``GET /comment/{id}/properties/hub_key`` for
        each of the hub's own comments (a 404 there means the comment has no key).

        Returns:
            The comment already posted with that key, or ``None``.

        Raises:
            NotFound: the issue is gone. Retriable, Fatal: a call failed. UnreadableRecord (a Fatal): no comment
                asked has the key, and one of the hub's is listed with an id that is none, so it cannot be asked
                and may be the write (:func:`connectors.written.listed_unreadable`: never posted twice).
        """
        me = self._self()
        unasked: list[Any] = []
        for comment in self._own_comments(ref, me):
            comment_id = id_text(comment.get("id"), schemas.is_numeric_id)
            if comment_id is None:  # never build a URL from a value that is not a comment id
                unasked.append(comment.get("id"))
                continue
            url = self.jira._get_url(f"comment/{comment_id}/properties/{KEY_PROPERTY}")
            try:
                prop = call("comment_property", lambda: json_object(self.jira._session.get(url)))
            except NotFound:
                continue
            if (prop.get("value") or {}).get("key") == idempotency_key:
                log.info("jira.reply.already-posted", extra={"ref": str(ref)})
                return PostedMessage(comment_id, f"{self.ticket_url(ref)}?focusedCommentId={comment_id}")
        if unasked:
            listed_unreadable(Source.JIRA, "comment", unasked[0])
        return None

    def _own_comments(self, ref: TicketRef, me: mapping.Self) -> list[dict[str, Any]]:
        own = [c for page in comments.pages(self.jira, self._key(ref)) for c in page if me.owns(c.get("author"))]
        return own[::-1]  # newest first: the write being retried is recent

    def add_internal_note(
        self, ref: TicketRef, text: str, *, reopen: bool = False, idempotency_key: str | None = None
    ) -> PostedMessage:
        """Post one internal comment (JSM property ``sd.public.comment`` ``{"internal": true}``), then label
        the issue ``hub_escalated`` (at least once: a retry after a failed label may post the note again).
        With ``reopen``, the workflow transition ``JIRA_REOPEN_TRANSITION`` comes first, when one is configured
        (Jira workflows differ per project; without one the ``hub_escalated`` label is the hand-back); a
        transition Jira refuses from the issue's current status is logged and skipped, not retried.
        With ``idempotency_key`` the comment also carries the ``hub_key`` property (one request), which
        :meth:`already_wrote` looks for.

        Raises:
            NotFound, Retriable, Fatal: a call failed. UnreadableRecord (a Fatal): the note was made, but Jira's
                answer gives it no comment id.
        """
        if reopen and self.settings.reopen_transition:
            self._transition(ref, self.settings.reopen_transition)
        text = wiki.wiki_plain(text)  # the draft is plain text; the body is wiki markup
        if idempotency_key is None:
            comment = call("add_comment", lambda: self.jira.add_comment(self._key(ref), text, is_internal=True))
            comment_id = written_id(Source.JIRA, "comment", getattr(comment, "id", None), schemas.is_numeric_id)
        else:
            properties = [
                {"key": mapping.INTERNAL_PROPERTY, "value": {"internal": True}},
                {"key": KEY_PROPERTY, "value": {"key": idempotency_key}},
            ]
            url = self.jira._get_url(f"issue/{self._key(ref)}/comment")
            body = {"body": text, "properties": properties}
            made = call("add_comment", lambda: json_object(self.jira._session.post(url, data=json.dumps(body)))).get("id")
            comment_id = written_id(Source.JIRA, "comment", made, schemas.is_numeric_id)
        self._label(ref, mapping.ESCALATED_LABEL)
        return PostedMessage(comment_id, f"{self.ticket_url(ref)}?focusedCommentId={comment_id}")

    def create_ticket(
        self, subject: str, text: str, requester: Person, *, tags: tuple[str, ...] = (), idempotency_key: str | None = None
    ) -> TicketRef:
        """Open an issue of type JIRA_ISSUE_TYPE (default ``Task``) in JIRA_PROJECT_KEY, labelled ``hub_created``
        and the tags, or, when JIRA_SERVICE_DESK_ID and JIRA_REQUEST_TYPE_ID are set, a JSM request of that type.

        ``idempotency_key`` becomes one more label (:func:`key_label`), which :meth:`created_ticket` looks for.
        An issue gets its labels in the call that creates it. A JSM request cannot (the request API sets no
        labels): they are :meth:`mark_created`'s write, a follow-up of this one (:meth:`marks_after_create`),
        so that a failed label call is retried on its own instead of opening a second request. NOTE(jira):
        residual risk: a crash between Jira's answer to the request and the hub's commit leaves a request
        without its key label, which a retry cannot find.

        Raises:
            Fatal: JIRA_PROJECT_KEY is not set (for issues), or Jira refused. Retriable: as usual.
            UnreadableRecord (a Fatal): the issue was opened, but Jira's answer gives it no issue key.
        """
        s = self.settings
        if self.marks_after_create():
            assert s.service_desk_id is not None and s.request_type_id is not None
            body = mapping.customer_request(s.service_desk_id, s.request_type_id, subject, text, requester)
            request = call("create_customer_request", lambda: self.jira.create_customer_request(fields=body, prefetch=False))
            raw = getattr(request, "raw", None)
            made = raw.get("issueKey") if isinstance(raw, dict) else None
            return TicketRef(Source.JIRA, written_id(Source.JIRA, "issue", made, schemas.is_issue_key))
        if idempotency_key:
            tags = (*tags, key_label(idempotency_key))
        if not s.project_key:
            raise Fatal("JIRA_PROJECT_KEY is not set: the hub cannot open Jira issues")
        fields = mapping.create_fields(s.project_key, subject, text, requester, tags, issue_type=s.issue_type)
        issue = call("create_issue", lambda: self.jira.create_issue(fields=fields, prefetch=False))
        return TicketRef(Source.JIRA, written_id(Source.JIRA, "issue", getattr(issue, "key", None), schemas.is_issue_key))

    def marks_after_create(self) -> bool:
        """Whether escalations open JSM requests, whose labels :meth:`mark_created` puts on afterwards."""
        return self.settings.service_desk_id is not None and self.settings.request_type_id is not None

    def mark_created(self, ref: TicketRef, tags: tuple[str, ...], idempotency_key: str) -> None:
        """Label a request the hub opened ``hub_created``, the tags and :func:`key_label` (adding a label the
        issue has is a no-op in Jira, so a retry is harmless).

        Raises:
            NotFound, Retriable, Fatal: the call failed.
        """
        labels = sorted({*(t.replace(" ", "_") for t in tags), mapping.CREATED_LABEL, key_label(idempotency_key)})
        self._label(ref, *labels)

    def created_ticket(self, idempotency_key: str) -> TicketRef | None:
        """The issue an earlier attempt opened: a JQL search for its key label.

        NOTE(jira): JQL reads the search index, which trails a new issue by seconds; an attempt retried that
        soon after a create it did not record could still open a second one (the outbox's backoff makes it rare).

        Raises:
            Retriable, Fatal: the search failed. UnreadableRecord (a Fatal): the issue found has no issue key.
        """
        page = self.search(f'labels = "{key_label(idempotency_key)}" ORDER BY created ASC', None, 1)
        issues = [i for i in page.get("issues") or () if isinstance(i, dict)]  # found by our label: ours, key or none
        return TicketRef(Source.JIRA, written_id(Source.JIRA, "issue", issues[0].get("key"), schemas.is_issue_key)) if issues else None

    def ticket_url(self, ref: TicketRef) -> str:
        """``{JIRA_URL}/browse/{key}``."""
        return mapping.browse_url(self.settings.url, self._key(ref))

    def _transition(self, ref: TicketRef, transition_id: str) -> None:
        """``POST /issue/{key}/transitions``. NOTE(jira): a transition not available from the current status
        is a 400. https://developer.atlassian.com/cloud/jira/platform/rest/v2/api-group-issues/#api-rest-api-2-issue-issueidorkey-transitions-post"""
        url = self.jira._get_url(f"issue/{self._key(ref)}/transitions")
        body = {"transition": {"id": transition_id}}
        try:
            call("transition", lambda: self.jira._session.post(url, data=json.dumps(body)))
        except (Fatal, NotFound) as e:
            log.warning("jira.reopen.transition-refused", extra={"ref": str(ref), "error": type(e).__name__})

    def _label(self, ref: TicketRef, label: str, *more: str) -> None:
        url = self.jira._get_url(f"issue/{self._key(ref)}")
        call("label", lambda: self.jira._session.put(url, data=json.dumps(mapping.label_update(label, *more))))

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

    def poll(self, cursor: str | None, held: Held | None = None) -> tuple[list[TicketEvent], str | None]:
        """Issues updated since ``cursor`` (see :mod:`connectors.jira.poll`; it needs no ``held``)."""
        return poll.poll(self, cursor)

    def first_cursor(self) -> str:
        """Where a first poll starts (:func:`connectors.jira.poll.first_cursor`)."""
        return poll.first_cursor()
