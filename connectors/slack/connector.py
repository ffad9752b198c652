"""The Slack connector: verifies and parses inbound requests, reads threads, and writes replies through the
Web API (slack_sdk ``WebClient`` pointed at ``SLACK_API_URL``).

The one piece of state it keeps is the hub's own identity (``auth.test``), resolved at first need outside the
request path and cached: the request path never calls Slack (see :meth:`SlackConnector.parse_event`).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import replace
from typing import Any, Callable, Mapping, Sequence

from slack_sdk import WebClient
from slack_sdk.signature import SignatureVerifier

from config.settings import ChannelPolicy
from connectors.base import PostedMessage
from connectors.records import read_record, readable, record_id
from connectors.slack import blocks, edits, events, mapping, names, reactions, reads, schemas, verify, workspace
from connectors.slack.errors import call
from connectors.slack.settings import SlackSettings
from connectors.written import written_id
from core.errors import Fatal, NotFound, PayloadError
from core.models import Message, Person, Source, Ticket, TicketEvent, TicketRef, utcnow
from core.notices import VendorNotice
from core.telemetry import count

log = logging.getLogger(__name__)


class SlackConnector:
    """Slack as a channel of requests: answers go in the request's own thread.

    Args:
        settings: the Slack settings (token, signing secret, API URL, channels, triage channel).
        policy: the per-channel policy lookup (``Settings.policy``), for ``respond_to_bots``.
        client: a ``WebClient`` to use instead of one built from ``settings`` (tests pass none: the base URL
            setting points the real client at a stub).
    """

    source = Source.SLACK

    def __init__(
        self,
        settings: SlackSettings,
        policy: Callable[[str | None], ChannelPolicy],
        client: WebClient | None = None,
        timeout: int = 10,
    ) -> None:
        self.settings = settings
        self._policy = policy
        # NOTE(slack): no SDK-level retries (its default retries a connection error once): a retried
        # chat.postMessage could post twice; the outbox retries instead, after the thread check in post_reply.
        self.client = client or WebClient(
            token=settings.bot_token.reveal(), base_url=settings.api_url, timeout=timeout, retry_handlers=[]
        )
        self._verifier = SignatureVerifier(settings.signing_secret.reveal())
        self._identity: mapping.Identity | None = None
        self._identity_lock = threading.Lock()

    # -- identity ------------------------------------------------------------------------------------

    def known_identity(self) -> mapping.Identity | None:
        """Return the hub's identity if already resolved (never calls Slack)."""
        return self._identity

    def identity(self) -> mapping.Identity:
        """Return the hub's identity, calling ``auth.test`` once per process at first need.

        Raises:
            Retriable, Fatal: ``auth.test`` failed (for example ``invalid_auth``).
        """
        with self._identity_lock:
            if self._identity is None:
                data = call("auth.test", self.client.auth_test).data
                self._identity = mapping.identity_from_auth_test(data if isinstance(data, dict) else {})
                log.info("slack.identity.resolved", extra={"bot_id": self._identity.bot_id})
            return self._identity

    # -- inbound -------------------------------------------------------------------------------------

    def verify(self, headers: Mapping[str, str], body: bytes) -> None:
        """Check the request's signature (:func:`connectors.slack.verify.verify`)."""
        verify.verify(self._verifier, headers, body)

    def handshake(self, headers: Mapping[str, str], body: bytes) -> dict[str, Any] | None:
        """Answer Slack's ``url_verification`` and ``ssl_check``: the JSON body to answer 200 with, or ``None`` when the
        request is not a handshake (:func:`connectors.slack.events.handshake`; raises PayloadError: the body is malformed)."""
        return events.handshake(headers, body)

    def notice(self, headers: Mapping[str, str], body: bytes) -> VendorNotice | None:
        """Slack's ``app_rate_limited`` notice to this install, to store for admins (:func:`workspace.rate_limit_notice`),
        or ``None``. Asked only of a delivery :meth:`parse_event` ignored (raises PayloadError: the body is malformed)."""
        envelope = events.read(headers, body)
        return None if envelope is None else workspace.rate_limit_notice(envelope, self.settings.team_id, utcnow())

    def answers_in(self, channel: str) -> bool:
        """Whether messages in ``channel`` can be requests: ``SLACK_CHANNELS``, minus the triage channel (where
        agents talk about escalations; with the default ``*`` it would otherwise count)."""
        return self.settings.answers_in(channel) and channel != self.settings.triage_channel

    def parse_event(self, headers: Mapping[str, str], body: bytes) -> TicketEvent | None:
        """Translate a verified Slack request into an event (no Slack API call).

        The hub's own messages are recognised from the envelope (``authorizations[].user_id`` of our bot,
        ``api_app_id``) and from the ``auth.test`` identity when it is already cached. A bot message in a
        channel that allows bots is taken only when it provably comes from another app. With ``SLACK_TEAM_ID``,
        an Events API delivery made to another workspace's installation of the app is none of the hub's
        (:func:`connectors.slack.workspace.foreign`: counted, ``hub_slack_events_ignored_total{reason="other_workspace"}``);
        Slack's ``app_rate_limited`` notice is logged and counted (``hub_slack_app_rate_limited_total``).

        Args:
            headers: the request headers.
            body: the raw request body.

        Returns:
            The event, or ``None`` when the request is not a request for the hub.

        Raises:
            PayloadError: the body is not UTF-8 JSON (or a form with one JSON ``payload``), or a field has the
                wrong type (:mod:`connectors.slack.schemas`).
        """
        envelope = events.read(headers, body)
        if envelope is None:
            return None
        other = workspace.foreign(envelope, self.settings.team_id)
        if other is not None:
            count("slack_events_ignored", reason="other_workspace")
            log.info("slack.events.other-workspace", extra={"team": other[:64], "own_team": self.settings.team_id})
            return None
        minute = workspace.rate_limited(envelope)
        if minute is not None:
            count("slack_app_rate_limited")
            log.warning("slack.events.app-rate-limited", extra={"minute_rate_limited": minute, "team": envelope.get("team_id")})
            return None
        identity = self.known_identity()
        if edits.is_change(envelope):  # an edit or deletion: never a request; told to a thread's ticket of record
            return edits.change_event(envelope, ids=mapping.self_ids(envelope, identity), answers_in=self.answers_in)
        return mapping.to_event(
            envelope,
            ids=mapping.self_ids(envelope, identity),
            answers_in=self.answers_in,
            allows_bots=lambda channel: self._policy(channel).respond_to_bots,
            identity_known=identity is not None and identity.bot_id is not None,
            ticket_emoji=self.settings.ticket_emoji,
        )

    # -- reads ---------------------------------------------------------------------------------------

    def permalink(self, channel: str, ts: str) -> str:
        """Return a message's permalink (``chat.getPermalink``)."""
        return call("chat.getPermalink", self.client.chat_getPermalink, channel=channel, message_ts=ts)["permalink"]

    def fetch(self, ref: TicketRef) -> Ticket:
        """Read a thread as a ticket: ``conversations.replies`` for the transcript, ``users.info`` for names
        and the requester's email, ``conversations.info`` for the channels it mentions unnamed
        (:func:`connectors.slack.names.looked_up`), ``chat.getPermalink`` for its link.

        Args:
            ref: a Slack thread reference.

        Returns:
            The ticket; the root message's author is the requester. When ``ref`` names a reply rather than
            a thread's root (a reaction on a reply), the ticket is the whole thread under the root's ref. A thread
            longer than :data:`connectors.slack.reads.LATEST_KEPT` messages after its first is its first and its
            latest (``Ticket.left_out`` counts the others); one too long to read to its end within the read's bound
            is its first and the latest read (``Ticket.unread``: :func:`connectors.slack.reads.excerpt`).

        Raises:
            NotFound: the thread is gone. Retriable, Fatal: a call failed. UnreadableRecord (a Fatal): the
                thread's first message is not of the documented shape (a later message, or a ``users.info``
                user, that is not is passed over).
        """
        team, channel, thread_ts = self._split(ref)
        read = reads.excerpt(self.client, channel, thread_ts)
        messages = read.messages
        if not messages:
            raise NotFound(f"slack thread {ref} is empty")
        # NOTE(slack): conversations.replies takes the ts of "either a thread's parent message or a message in
        # the thread" and lists the thread from its parent. https://docs.slack.dev/reference/methods/conversations.replies
        root_ts = read_record(Source.SLACK, "thread", ref.external_id, lambda: str(messages[0].get("ts") or thread_ts))
        if root_ts != thread_ts:
            ref = mapping.thread_ref(team, channel, root_ts)
        ids = mapping.self_ids({}, self.identity())
        people, named = names.looked_up(self.client, messages, ids)
        try:
            ticket = mapping.ticket_from_thread(ref, messages, people, ids, self.permalink(channel, thread_ts), named)
        except PayloadError as e:
            raise NotFound(str(e)) from e
        return replace(ticket, left_out=read.left_out, unread=read.unread)

    def read_message(self, ref: TicketRef, message_id: str) -> Message | None:
        """One message of a thread as Slack lists it now (:func:`connectors.slack.reads.one`: one
        ``conversations.replies`` call whatever the thread's length), its author and the people and channels it
        mentions named (:func:`connectors.slack.names.looked_up`).

        Returns:
            The message (``is_self`` for the hub's own), or ``None``: deleted, of no words, or not of the documented shape.

        Raises:
            NotFound: the thread is gone. Retriable, Fatal: a call failed.
        """
        _, channel, thread_ts = self._split(ref)
        found = reads.one(self.client, channel, thread_ts, message_id)
        if found is None:
            return None
        ids = mapping.self_ids({}, self.identity())
        people, named = names.looked_up(self.client, [found], ids, tolerant=True)
        return readable(Source.SLACK, "message", message_id, lambda: mapping.thread_message(found, people, named, ids))

    def ticket_from_event(self, event: TicketEvent) -> Ticket | None:
        """The request as its event alone tells it, for a thread :meth:`fetch` cannot read (see
        :class:`connectors.base.ReadsEventAlone`): a message event's message, or the message an emoji intake names
        (:func:`connectors.slack.reactions.reacted_ticket`); the author from ``users.info`` and the link, where
        those calls still answer.

        Raises:
            NotFound: the message an emoji intake names is gone. Retriable: a call failed passingly (one that
                fails otherwise is left out).
        """
        _, channel, thread_ts = self._split(event.ref)
        message = event.message
        if message is None:
            return reactions.reacted_ticket(self, event) if event.data.get("intake") == "emoji" else None
        message = replace(message, author=self.person(message.author))
        return mapping.ticket_of(event.ref, [message], self.link(channel, thread_ts))

    def person(self, who: Person) -> Person:
        """``who`` as ``users.info`` tells them (name, email), or as given when it does not (not found, another
        shape, refused for good). Raises: Retriable: ``users.info`` failed passingly."""
        return names.people(self.client, [who.external_id], tolerant=True).get(who.external_id, who) if who.external_id else who

    def link(self, channel: str, ts: str) -> str | None:
        """A message's permalink, or ``None`` when Slack refuses it for good or the message is gone.
        Raises: Retriable: ``chat.getPermalink`` failed passingly."""
        try:
            return self.permalink(channel, ts)
        except (Fatal, NotFound):
            return None

    # -- writes --------------------------------------------------------------------------------------

    def post_reply(
        self,
        ref: TicketRef,
        text: str,
        *,
        idempotency_key: str,
        citations: Sequence[Mapping[str, Any]] = (),
        kind: str = "answer",
    ) -> PostedMessage:
        """Reply in the request's thread (``chat.postMessage`` with ``thread_ts`` = the root's ts).

        ``kind == "answer"`` adds the cited links and the two feedback buttons; ``"notice"`` is text only.
        The reply carries ``idempotency_key`` in its message metadata, which :meth:`already_wrote` looks for
        before a retry, so a retry after a post that succeeded (but was not recorded) does not post twice.

        Args:
            ref: the thread.
            text: the reply, plain text (escaped for mrkdwn here).
            idempotency_key: the outbox key of this write.
            citations: ``[{"title", "url"}]`` for answers.
            kind: ``"answer"`` or ``"notice"``.

        Returns:
            The posted reply; ``external_id`` is its ts.

        Raises:
            NotFound: the channel or thread is gone. Retriable, Fatal: the call failed. UnreadableRecord (a Fatal):
                the reply was posted, but Slack's answer gives it no ts (:func:`connectors.written.written_id`).
        """
        _, channel, thread_ts = self._split(ref)
        fallback, body = blocks.answer(text, citations, str(ref)) if kind == "answer" else blocks.notice(text)
        response = call(
            "chat.postMessage",
            self.client.chat_postMessage,
            channel=channel,
            thread_ts=thread_ts,
            text=fallback,
            blocks=body,
            metadata=mapping.reply_metadata(idempotency_key),
            unfurl_links=False,
            unfurl_media=False,
        )
        return PostedMessage(_made(response.get("ts")))

    def already_wrote(self, ref: TicketRef, idempotency_key: str) -> PostedMessage | None:
        """Look in the thread (``conversations.replies`` with ``include_all_metadata``) for a reply of ours
        whose metadata carries ``idempotency_key``.

        NOTE(slack): residual risk: a post Slack accepted but does not list yet in ``conversations.replies``.
        https://docs.slack.dev/messaging/message-metadata/

        Args:
            ref: the thread.
            idempotency_key: the outbox key of the write.

        Returns:
            The reply already posted with that key (``external_id`` is its ts), or ``None``.

        Raises:
            NotFound: the thread is gone. Retriable, Fatal: the call failed.
        """
        _, channel, thread_ts = self._split(ref)
        ids = mapping.self_ids({}, self.identity())
        for message in reads.thread(self.client, channel, thread_ts, include_all_metadata=True):
            if self._marked(message, ids, idempotency_key):
                log.info("slack.reply.already-posted", extra={"ref": str(ref)})
                return PostedMessage(_made(message.get("ts")))
        triage = self.settings.triage_channel
        if not triage:
            return None
        # A triage post (add_internal_note) is a top-level message of the triage channel, never older than the
        # thread it is about. NOTE(slack): conversations.history lists newest first, from ``oldest`` on, and
        # returns metadata with ``include_all_metadata``. https://docs.slack.dev/reference/methods/conversations.history
        # A triage channel the bot cannot read (no channels:history / groups:history) leaves its posts at least once.
        history = reads.history(self.client, triage, oldest=thread_ts, include_all_metadata=True)
        try:
            found = next((m for m in history if self._marked(m, ids, idempotency_key)), None)
        except (Fatal, NotFound) as e:
            log.warning("slack.triage.unreadable", extra={"error": str(e)})
            return None
        if found is None:
            return None
        log.info("slack.triage.already-posted", extra={"ref": str(ref)})
        return PostedMessage(_made(found.get("ts")), url=self.permalink(channel, thread_ts))

    @staticmethod
    def _marked(message: Any, ids: mapping.SelfIds, idempotency_key: str) -> bool:
        """Whether ``message`` is one of the hub's own, stamped with ``idempotency_key``: a message not of the
        documented shape (someone else's: the hub's own are) is passed over, logged and counted."""
        return bool(readable(Source.SLACK, "message", record_id(message, "ts"),
                             lambda: ids.owns(message) and mapping.reply_key(message) == idempotency_key))

    def add_internal_note(
        self, ref: TicketRef, text: str, *, reopen: bool = False, idempotency_key: str | None = None
    ) -> PostedMessage:
        """Post the draft to the admin's triage channel (``SLACK_TRIAGE_CHANNEL``) with the thread's link.

        Slack has no internal notes: with no help desk of record configured, the triage channel is where
        agents see escalated threads and their drafts. With ``idempotency_key`` the post carries it in its
        metadata, and :meth:`already_wrote` finds it in the triage channel before a retry (at most once);
        without it, at least once.

        Args:
            ref: the escalated thread.
            text: the draft reply.
            reopen: nothing more to do on Slack (the triage post is the hand-over).
            idempotency_key: the outbox key of this write, when it is to be made at most once.

        Returns:
            The triage post; ``url`` is the thread's permalink.

        Raises:
            Fatal: no triage channel is configured. NotFound, Retriable: as for :meth:`post_reply`.
        """
        if not self.settings.triage_channel:
            raise Fatal("SLACK_TRIAGE_CHANNEL is not set: Slack has no internal notes to put the draft in")
        _, channel, thread_ts = self._split(ref)
        permalink = self.permalink(channel, thread_ts)
        fallback, body = blocks.triage(channel, permalink, text)
        marked: dict[str, Any] = {"metadata": mapping.reply_metadata(idempotency_key)} if idempotency_key else {}
        response = call(
            "chat.postMessage", self.client.chat_postMessage, channel=self.settings.triage_channel, text=fallback, blocks=body, **marked
        )
        return PostedMessage(_made(response.get("ts")), url=permalink)

    def acknowledge_feedback(self, ref: TicketRef, feedback: str, channel: str, ts: str, user: str | None = None) -> bool:
        """Replace an answer's feedback buttons with what was chosen (``chat.update``).

        Returns:
            ``True`` when the message was updated, ``False`` when it had no buttons left (already done).

        Raises:
            NotFound: the answer is gone. Retriable, Fatal: a call failed.
        """
        _, _, thread_ts = self._split(ref)
        message = reads.one(self.client, channel, thread_ts, ts)
        if message is None:
            raise NotFound(f"slack message {ts} is not in thread {ref}")
        new_blocks, changed = blocks.acknowledged(message.get("blocks") or [], feedback, user)
        if changed:
            call("chat.update", self.client.chat_update, channel=channel, ts=ts, text=message.get("text") or "", blocks=new_blocks)
        return changed

    @staticmethod
    def _split(ref: TicketRef) -> tuple[str, str, str]:
        try:
            return mapping.split_ref(ref)
        except ValueError as e:
            raise Fatal(str(e)) from e


def _made(ts: Any) -> str:
    """The ts of a message the hub posted, as Slack's answer gives it. Raises: UnreadableRecord: it is no ts."""
    return written_id(Source.SLACK, "message", ts, schemas.is_ts)
