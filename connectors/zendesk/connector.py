"""The Zendesk connector: webhooks in, tickets read and written through zenpy, Help Center articles out."""

from __future__ import annotations

import hashlib
import logging
import threading
from functools import partial
from datetime import datetime
from typing import Any, Iterable, Iterator, Mapping

from zenpy.lib.api_objects import Comment as ZComment
from zenpy.lib.api_objects import Ticket as ZTicket
from zenpy.lib.api_objects import User as ZUser

from connectors.base import KnowledgeArticle, PostedMessage
from connectors.inbound import json_body
from connectors.polling import Held
from connectors.records import read_record, readable, record_id
from connectors.written import written_id
from connectors.zendesk import events, mapping, poll, verify
from connectors.zendesk.client import call, make_zenpy
from connectors.zendesk.settings import ZendeskSettings
from core.errors import Fatal, NotFound, SignatureError
from core.models import Person, Source, Ticket, TicketEvent, TicketRef
from core.telemetry import count

log = logging.getLogger(__name__)

ARTICLES_PATH = "/api/v2/help_center/incremental/articles.json"
LIST_PATH = "/api/v2/help_center/articles.json"
LIST_PAGE = 100  # NOTE(zendesk): cursor pagination's page[size] is at most 100
# NOTE(zendesk): show_many "accepts a comma-separated list of up to 100 user ids"; a ticket's requester and
# commenters can be more. https://developer.zendesk.com/api-reference/ticketing/users/users/#show-many-users
SHOW_MANY_IDS = 100


class ZendeskConnector:
    """Zendesk Support (tickets) and Help Center (knowledge) for one account.

    Args:
        settings: the Zendesk settings (URL, API user's email and token, webhook secret).
    """

    source = Source.ZENDESK

    def __init__(self, settings: ZendeskSettings) -> None:
        self.settings = settings
        self._zenpy, self.session = make_zenpy(settings.url, settings.email, settings.api_token.reveal())
        self._self_id: str | None = None
        self._lock = threading.Lock()

    # -- inbound -------------------------------------------------------------------------------

    def verify(self, headers: Mapping[str, str], body: bytes) -> None:
        """Check the webhook signature (see :func:`connectors.zendesk.verify.verify`).

        Raises:
            SignatureError: bad, missing or stale signature, or no ZENDESK_WEBHOOK_SECRET configured
                (webhooks are then off and the hub polls instead).
        """
        if self.settings.webhook_secret is None:
            log.warning("zendesk.webhook.no-secret")
            raise SignatureError("ZENDESK_WEBHOOK_SECRET is not set: Zendesk webhooks are off (the hub polls)")
        verify.verify(self.settings.webhook_secret.reveal(), headers, body)

    def parse_event(self, headers: Mapping[str, str], body: bytes) -> TicketEvent | None:
        """Parse a trigger or ticket-event webhook (see :mod:`connectors.zendesk.events`).

        Returns:
            The event, or ``None`` for the hub's own comments, agents' comments, internal notes and other
            ticket changes. No vendor call is made here: the hub's own user id is used once it is known.

        Raises:
            PayloadError: the body is not JSON or not a known shape.
        """
        data = json_body(body, "zendesk")
        return events.parse(headers, data, self._self_id)

    # -- reads ---------------------------------------------------------------------------------

    def me(self) -> dict[str, Any]:
        """The API user's record (``GET /users/me``: ``id``, ``role``, ``only_private_comments``, ...), asked anew.

        NOTE(zendesk): ``GET /users/me`` serves anonymous Help Center visitors too: credentials Zendesk does not
        take (no credentials, a wrong password) are answered 200 with an "Anonymous user" whose ``id`` is
        null, not 401 (observed on a live account in a public probe report; a wrong API token is a 401).
        https://developer.zendesk.com/api-reference/ticketing/users/users/#show-self

        Raises:
            Retriable, Fatal: the call failed, or Zendesk answered as the anonymous user (the credentials).
        """
        me = call("users.me", lambda: self._zenpy.users.me().to_dict())
        if not isinstance(me, dict) or me.get("id") is None:
            raise Fatal("zendesk users/me answered as an anonymous user: check ZENDESK_EMAIL and ZENDESK_API_TOKEN")
        return me

    def self_id(self) -> str:
        """The hub's own user id (the API user, ZENDESK_EMAIL), fetched once (:meth:`me`) and cached.

        Raises:
            Retriable, Fatal: as :meth:`me`.
        """
        with self._lock:
            if self._self_id is None:
                me = self.me()
                self._self_id = read_record(Source.ZENDESK, "user", "me", lambda: str(me["id"]))
            return self._self_id

    def fetch(self, ref: TicketRef) -> Ticket:
        """Read a ticket with all its comments and their authors.

        Raises:
            NotFound: the ticket is gone (or the id is not a Zendesk ticket id). Retriable, Fatal: as usual.
            UnreadableRecord (a Fatal): the ticket, a comment or a user is not of the documented shape.
        """
        ticket_id = _ticket_id(ref)
        read = partial(read_record, Source.ZENDESK, "ticket", str(ticket_id))
        data = call("tickets.show", lambda: self._zenpy.tickets(id=ticket_id).to_dict())
        listed = call("tickets.comments", lambda: list(self._zenpy.tickets.comments(ticket=ticket_id)))
        comments = read(lambda: [c.to_dict() for c in listed])
        ids = read(lambda: [int(i) for i in mapping.user_ids(data, comments)])
        users = [u for chunk in _chunks(ids, SHOW_MANY_IDS) for u in call("users.show_many", partial(self._users, chunk))]
        me = self.self_id()
        return read(lambda: mapping.ticket(data, comments, {str(u.get("id")): u for u in users}, me, self.settings.url))

    def _users(self, ids: list[int]) -> list[dict[str, Any]]:
        """``GET /users/show_many.json?ids=...`` for at most :data:`SHOW_MANY_IDS` ids. A deleted user is left out
        of the answer; the comments that name them keep the id, without a name or a role."""
        return [u.to_dict() for u in self._zenpy.users(ids=ids)]

    # -- writes --------------------------------------------------------------------------------

    def post_reply(
        self, ref: TicketRef, text: str, *, idempotency_key: str, kind: str = "answer", citations: Iterable[Mapping[str, Any]] = ()
    ) -> PostedMessage:
        """Post one public comment (with the sources the text does not link already). ``kind == "answer"``
        also tags the ticket ``hub_answered`` and sets it pending; ``"notice"`` only comments. The "did this
        solve it?" line is part of the composed text.

        The comment and a tag naming ``idempotency_key`` (:func:`key_tag`) are one ticket update, so the tag
        is on the ticket exactly when the comment is; :meth:`already_wrote` looks for it before a retry.

        Raises:
            NotFound, Retriable, Fatal: a call failed. UnreadableRecord (a Fatal): the comment was made, but the
                answer gives it no id (:func:`connectors.written.written_id`; so for every update below).
        """
        body = mapping.answer_body(text, citations)
        fields = mapping.answer_update(body) if kind == "answer" else mapping.notice_update(body)
        fields["additional_tags"] = [*fields.get("additional_tags", ()), key_tag(idempotency_key)]
        return self._update(ref, fields)

    def already_wrote(self, ref: TicketRef, idempotency_key: str) -> PostedMessage | None:
        """Whether the ticket carries the tag of ``idempotency_key`` (set with the comment in one update).

        NOTE(zendesk): a ticket update is atomic: the comment and ``additional_tags`` land together or not at
        all. https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/#update-ticket

        Returns:
            A message standing for the comment already posted (``<ticket id>:<tag>``), or ``None``.

        Raises:
            NotFound, Retriable, Fatal: reading the ticket failed. UnreadableRecord (a Fatal): its tags are not a
                list of tags.
        """
        ticket_id = _ticket_id(ref)
        data = call("tickets.show", lambda: self._zenpy.tickets(id=ticket_id).to_dict())
        tags = read_record(Source.ZENDESK, "ticket", str(ticket_id), lambda: mapping.tags_of(data))
        tag = key_tag(idempotency_key)
        if tag in tags:
            log.info("zendesk.reply.already-posted", extra={"ticket": ticket_id})
            return PostedMessage(f"{ticket_id}:{tag}", self.ticket_url(ref))
        return None

    def post_as(self, ref: TicketRef, text: str, author_id: str, *, idempotency_key: str) -> PostedMessage:
        """Post one public comment written as ``author_id`` (the requester), with :func:`key_tag` in the same
        update. NOTE(zendesk): an agent's API token may set ``comment.author_id`` on a ticket update.
        https://developer.zendesk.com/api-reference/ticketing/tickets/ticket_comments/

        Raises:
            Fatal: ``author_id`` is not a Zendesk user id. NotFound, Retriable, Fatal: the update failed.
        """
        if not author_id.isdigit():
            raise Fatal(f"not a Zendesk user id: {author_id[:40]!r}")
        fields = mapping.requester_comment_update(text, int(author_id))
        fields["additional_tags"] = [key_tag(idempotency_key)]
        return self._update(ref, fields)

    def add_internal_note(
        self, ref: TicketRef, text: str, *, reopen: bool = False, idempotency_key: str | None = None
    ) -> PostedMessage:
        """Post one private comment (the draft), tag ``hub_escalated`` and, with ``reopen``, set status open;
        with ``idempotency_key``, also its :func:`key_tag` in the same update (for :meth:`already_wrote`).

        Raises:
            NotFound, Retriable, Fatal: the update failed.
        """
        fields = mapping.note_update(text, reopen)
        if idempotency_key is not None:
            fields["additional_tags"] = [*fields["additional_tags"], key_tag(idempotency_key)]
        return self._update(ref, fields)

    def create_ticket(
        self, subject: str, text: str, requester: Person, *, tags: tuple[str, ...] = (), idempotency_key: str | None = None
    ) -> TicketRef:
        """Open a ticket for ``requester`` (found or created by email), tagged ``hub_created`` and ``tags``,
        with ``external_id`` naming ``idempotency_key`` (:meth:`created_ticket` finds it by that).

        Raises:
            Retriable, Fatal: the call failed. UnreadableRecord (a Fatal): the ticket was opened, but the answer
                gives it no ticket id (:func:`connectors.written.written_id`).
        """
        fields = mapping.create_fields(subject, text, requester, tags)
        ticket = ZTicket(
            subject=fields["subject"], comment=ZComment(**fields["comment"]), requester=ZUser(**fields["requester"]), tags=fields["tags"],
            external_id=key_tag(idempotency_key) if idempotency_key else None,
        )
        audit = call("tickets.create", lambda: self._zenpy.tickets.create(ticket))
        made = getattr(getattr(audit, "ticket", None), "id", None)
        return TicketRef(Source.ZENDESK, written_id(Source.ZENDESK, "ticket", made, mapping.is_id))

    def created_ticket(self, idempotency_key: str) -> TicketRef | None:
        """The ticket an earlier attempt opened: ``GET /api/v2/tickets.json?external_id=...``.

        NOTE(zendesk): listing by ``external_id`` reads the tickets table, not the search index (no lag).
        https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/#list-tickets

        Raises:
            Retriable, Fatal: the call failed. UnreadableRecord (a Fatal): the ticket found has no ticket id.
        """
        page = self.session.get_json("/api/v2/tickets.json", {"external_id": key_tag(idempotency_key)})
        tickets = [t for t in page.get("tickets") or () if isinstance(t, dict)]  # listed by our key: ours, id or none
        return TicketRef(Source.ZENDESK, written_id(Source.ZENDESK, "ticket", tickets[0].get("id"), mapping.is_id)) if tickets else None

    def is_closed(self, ref: TicketRef) -> bool:
        """Whether the ticket's status, read back, is ``closed``.

        Raises:
            NotFound, Retriable, Fatal: the read failed.
        """
        ticket_id = _ticket_id(ref)
        data = call("tickets.show", lambda: self._zenpy.tickets(id=ticket_id).to_dict())
        return str(data.get("status") or "").lower() == "closed"

    def follow_up(self, closed: TicketRef, text: str, *, idempotency_key: str, written_as: str) -> TicketRef:
        """Open a follow-up of the closed ticket (:func:`mapping.follow_up_fields`), with ``external_id`` naming
        ``idempotency_key`` (:meth:`created_ticket` finds it by that) and the tag of ``written_as`` (:meth:`already_wrote`
        finds the description as that write).

        Raises:
            NotFound, Retriable, Fatal: a call failed. UnreadableRecord (a Fatal): the answer gives no ticket id.
        """
        ticket_id = _ticket_id(closed)
        data = call("tickets.show", lambda: self._zenpy.tickets(id=ticket_id).to_dict())
        fields = mapping.follow_up_fields(data, ticket_id, text, key_tag(written_as))
        ticket = ZTicket(**{**fields, "comment": ZComment(**fields["comment"]), "external_id": key_tag(idempotency_key)})
        audit = call("tickets.create", lambda: self._zenpy.tickets.create(ticket))
        made = getattr(getattr(audit, "ticket", None), "id", None)
        return TicketRef(Source.ZENDESK, written_id(Source.ZENDESK, "ticket", made, mapping.is_id))

    def ticket_url(self, ref: TicketRef) -> str:
        """The agent-facing link: ``{ZENDESK_URL}/agent/tickets/{id}``."""
        return mapping.agent_url(self.settings.url, ref.external_id)

    def _update(self, ref: TicketRef, fields: dict[str, Any]) -> PostedMessage:
        ticket_id = _ticket_id(ref)
        payload = dict(fields)
        ticket = ZTicket(id=ticket_id, comment=ZComment(**payload.pop("comment")), **payload)
        result = call("tickets.update", lambda: self._zenpy.tickets.update(ticket))
        audit = result.audit.to_dict() if getattr(result, "audit", None) is not None else {}
        comment = mapping.posted_comment_id(audit)
        if comment is not None:
            comment_id = written_id(Source.ZENDESK, "comment", comment, mapping.is_id)
        else:  # an answer without the comment's event (none seen): the update's audit stands for it
            comment_id = f"{ticket_id}:{written_id(Source.ZENDESK, 'ticket update', audit.get('id'), mapping.is_id)}"
        return PostedMessage(comment_id, self.ticket_url(ref))

    # -- optional capabilities -----------------------------------------------------------------

    def poll(self, cursor: str | None, held: Held | None = None) -> tuple[list[TicketEvent], str | None]:
        """Changed tickets since ``cursor`` (see :mod:`connectors.zendesk.poll`)."""
        return poll.poll(self, cursor, held)

    def first_cursor(self) -> str:
        """Where a first poll starts (:func:`connectors.zendesk.poll.first_cursor`)."""
        return poll.first_cursor()

    def fetch_articles(self, since: datetime | None) -> Iterator[KnowledgeArticle]:
        """Yield Help Center articles changed since ``since`` (all when ``None``), oldest change first; one no longer
        public (made a draft, restricted to a user segment) is flagged ``deleted`` (:func:`mapping.article`). With
        ``ZENDESK_HC_LOCALE``, only the articles in that locale (:func:`mapping.in_locale`).

        NOTE(zendesk): the incremental export needs an agent; each page's ``next_page`` carries the next
        ``start_time``, the time of the last change on the page, so the articles changed in that second are listed
        again at the top of the next page: an article is yielded once per change (the repeats are counted as
        ``kb_sync_relisted``). Archived articles are not listed at all (:meth:`article_ids` finds them).
        https://developer.zendesk.com/documentation/help_center/help-center-api/understanding-incremental-article-exports/

        Raises:
            Retriable, Fatal: a call failed.
        """
        url: str | None = ARTICLES_PATH
        params: dict[str, Any] | None = {"start_time": int(since.timestamp()) if since else 0}
        last_end = None
        yielded: set[tuple[str, str, bool]] = set()  # id, the change's updated_at, deleted
        asked: set[str] = set()  # the pages asked for: one asked again is a listing going round (the next sync resumes)
        while url and url not in asked:
            asked.add(url)
            page = self.session.get_json(url, params)
            for item in page.get("articles") or ():
                if not mapping.in_locale(item, self.settings.hc_locale):
                    continue
                article = readable(Source.ZENDESK, "article", record_id(item, "id"), partial(mapping.article, item))
                if article is None:
                    continue
                change = (article.external_id, str(item.get("updated_at")), article.deleted)
                if change in yielded:
                    count("kb_sync_relisted", connector="zendesk")
                    continue
                yielded.add(change)
                yield article
            end, following = page.get("end_time"), page.get("next_page")
            # the same end_time again, or the same page again, would never end (a page without end_time goes on)
            if not page.get("articles") or (end is not None and end == last_end) or following == url:
                break
            url, params, last_end = following, None, end

    def article_ids(self) -> set[str]:
        """The ids of every Help Center article there is (published or not), archived ones left out:
        ``GET /api/v2/help_center/articles.json`` page by page (cursor pagination, 100 a page). With
        ``ZENDESK_HC_LOCALE``, only those in that locale (:func:`mapping.in_locale`), so that the sync removes the
        articles stored in the others.

        NOTE(zendesk): an archived article is in no listing, the incremental export included, and no article
        carries an archived flag: it is known only by its absence. An agent's listing holds drafts and
        segment-restricted articles too. https://developer.zendesk.com/api-reference/help_center/help-center-api/articles/#list-articles ;
        observed: https://github.com/dust-tt/dust/issues/8656

        Raises:
            Retriable, Fatal: a call failed, or the pages went round in a circle (no partial answer is returned).
                UnreadableRecord (a Fatal): an article without an id (its absence would read as an archive).
        """
        ids: set[str] = set()
        url: str | None = LIST_PATH
        params: dict[str, Any] | None = {"page[size]": LIST_PAGE}
        asked: set[str] = set()
        while url:
            if url in asked:  # a listing going round would never end, and what it held so far is not every article
                raise Fatal(f"zendesk GET {LIST_PATH}: the listing's pages go round in a circle (back to {url[:200]})")
            asked.add(url)
            page = self.session.get_json(url, params)
            items = page.get("articles") or []
            ids.update(read_record(Source.ZENDESK, "article", record_id(item, "id"), partial(mapping.article_id, item))
                       for item in items if mapping.in_locale(item, self.settings.hc_locale))
            meta, links = page.get("meta") or {}, page.get("links") or {}
            following = links.get("next") if meta.get("has_more") else None
            if not items or following == url:
                break
            url, params = following, None
        return ids


def key_tag(idempotency_key: str) -> str:
    """The tag that marks a public write with its idempotency key (tags allow letters, digits and ``_``)."""
    return "hub_w_" + hashlib.sha1(idempotency_key.encode("utf-8")).hexdigest()[:16]


def _ticket_id(ref: TicketRef) -> int:
    if ref.source is not Source.ZENDESK or not ref.external_id.isdigit():
        raise NotFound(f"not a Zendesk ticket: {ref}")
    return int(ref.external_id)


def _chunks(ids: list[int], size: int) -> list[list[int]]:
    return [ids[i:i + size] for i in range(0, len(ids), size)]
