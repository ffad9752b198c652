"""Storage: the SQLAlchemy 2 schema; the engine and session helpers are :mod:`core.engine`'s, named here too.

SQLite is the embedded default; PostgreSQL the scaled-out one. The schema is created by Alembic
(``hub db upgrade``), never by ``create_all`` outside tests of the schema itself.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from core.engine import BUSY_SECONDS as BUSY_SECONDS
from core.engine import Database as Database
from core.engine import insert_ignoring as insert_ignoring
from core.engine import make_engine as make_engine
from core.models import EMAIL_CHARS, NAME_CHARS, PERSON_ID_CHARS, as_utc, utcnow


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as UTC and always read back timezone-aware (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else as_utc(value)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else as_utc(value)


MAX_ROW_ID = 2**31 - 1  # the largest id an INTEGER primary key holds (PostgreSQL refuses a larger one in a query)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON, list[Any]: JSON}


# -- inbound and outbound -------------------------------------------------------------------------


class InboxEvent(Base):
    """An inbound event, stored before it is acknowledged. Unique per ``(source, delivery_id)``: the event's own
    key (:class:`core.models.TicketEvent`), so repeated deliveries of one event are one row."""

    __tablename__ = "inbox_events"
    __table_args__ = (
        UniqueConstraint("source", "delivery_id", name="uq_inbox_source_delivery"),
        Index("ix_inbox_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(32))
    delivery_id: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(32))
    ticket_ref: Mapped[str] = mapped_column(String(255), index=True)
    event: Mapped[dict[str, Any]] = mapped_column(JSON)  # core.codec.event_to_dict
    raw_body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|running|done|failed|skipped
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_token: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # core.work.claim's fencing token
    other_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # not at the vendor: max_attempts caps these
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    locked_until: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    requeued_at: Mapped[datetime | None]  # an admin re-queued it (``hub retry``): the retry horizon restarts


class OutboxAction(Base):
    """A vendor write to perform, at most once per ``idempotency_key``, with retries."""

    __tablename__ = "outbox_actions"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    connector: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(64))
    ticket_ref: Mapped[str | None] = mapped_column(String(255), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    # pending|running|done|failed|skipped|superseded (an answer past its deadline, escalated instead; not finished:
    # the vendor may have it, asked again from next_attempt_at on, interceptor/overdue_recheck.py)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_token: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # core.work.claim's fencing token
    other_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # not at the vendor: max_attempts caps these
    max_attempts: Mapped[int] = mapped_column(Integer, default=8)
    last_error: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    inbox_event_id: Mapped[int | None] = mapped_column(ForeignKey("inbox_events.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    locked_until: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    requeued_at: Mapped[datetime | None]  # an admin re-queued it (``hub retry``): the retry horizon restarts


# -- people and tickets ---------------------------------------------------------------------------


class PersonRow(Base):
    """Someone seen in a source. ``email`` (lower-cased) joins one requester across channels."""

    __tablename__ = "people"
    __table_args__ = (UniqueConstraint("source", "external_id", name="uq_people_source_external"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(PERSON_ID_CHARS))
    name: Mapped[str] = mapped_column(String(NAME_CHARS), default="")
    email: Mapped[str | None] = mapped_column(String(EMAIL_CHARS), index=True)
    is_agent: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class TicketRow(Base):
    """A ticket the hub has seen, normalised, with the vendor's id."""

    __tablename__ = "tickets"
    __table_args__ = (UniqueConstraint("source", "external_id", name="uq_tickets_source_external"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(255))
    channel: Mapped[str | None] = mapped_column(String(255))  # e.g. a Slack channel id; per-channel stats
    subject: Mapped[str] = mapped_column(Text, default="")
    text: Mapped[str] = mapped_column(Text, default="")
    requester_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="new")
    priority: Mapped[str | None] = mapped_column(String(16))
    tags: Mapped[list[Any]] = mapped_column(JSON, default=list)
    url: Mapped[str | None] = mapped_column(Text)
    escalated_to: Mapped[str | None] = mapped_column(String(255))  # ref of the ticket of record
    escalated_url: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)


# -- knowledge base -------------------------------------------------------------------------------


class ArticleRow(Base):
    """A knowledge-base article. ``content_hash`` lets an import skip what did not change."""

    __tablename__ = "kb_articles"
    __table_args__ = (UniqueConstraint("source", "external_id", name="uq_kb_articles_source_external"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(64))  # "markdown", "html", "pack", "zendesk_hc", ...
    external_id: Mapped[str] = mapped_column(String(255))
    title: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text, default="")
    url: Mapped[str | None] = mapped_column(Text)
    tags: Mapped[list[Any]] = mapped_column(JSON, default=list)
    locale: Mapped[str | None] = mapped_column(String(32))
    section: Mapped[str | None] = mapped_column(String(255))
    content_hash: Mapped[str] = mapped_column(String(64))
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class PassageRow(Base):
    """A passage of an article's body, inside one section (retrieval returns the best passage of each article)."""

    __tablename__ = "kb_passages"

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("kb_articles.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    heading_path: Mapped[list[Any]] = mapped_column(JSON, default=list)  # the section's headings, outermost first
    section_id: Mapped[str | None] = mapped_column(String(255))  # the section's id where the source names one


class ArticleQuestionRow(Base):
    """A question an article answers: an alternate phrasing, or a past resolved ticket linked to it."""

    __tablename__ = "kb_questions"

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("kb_articles.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(Text)
    origin: Mapped[str] = mapped_column(String(32), default="phrasing")  # phrasing | ticket
    ticket_ref: Mapped[str | None] = mapped_column(String(255))


class CalibrationRow(Base):
    """A fitted confidence calibrator, stored with the KB version it was fitted for."""

    __tablename__ = "kb_calibrations"

    id: Mapped[int] = mapped_column(primary_key=True)
    kb_version: Mapped[str] = mapped_column(String(64), index=True)
    method: Mapped[str] = mapped_column(String(64))
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    provenance: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class EmbeddingRow(Base):
    """A retrieval unit's dense vector (float32 bytes), keyed by the embedding model and the SHA-1 of the
    unit's text: a restart, another worker process or an unchanged article embeds nothing again."""

    __tablename__ = "kb_embeddings"

    model: Mapped[str] = mapped_column(String(255), primary_key=True)  # model name and precision
    text_sha1: Mapped[str] = mapped_column(String(40), primary_key=True)
    vector: Mapped[bytes] = mapped_column(LargeBinary)


# -- decisions and outcomes -----------------------------------------------------------------------


class DecisionRow(Base):
    """One interceptor decision: the record every metric is computed from.

    Each new request gets exactly one decision with ``trigger == "request"``; later decisions on the same
    ticket (a refreshed draft after "did not help") have ``trigger == "follow_up"``. ``dry_run`` marks
    shadow-mode decisions, whose ANSWER was turned into an internal draft and never posted.
    """

    __tablename__ = "decisions"
    __table_args__ = (
        # One "request" decision per ticket, enforced by the database (concurrent deliveries race here).
        Index(
            "uq_decisions_one_request",
            "ticket_ref",
            unique=True,
            sqlite_where=text("\"trigger\" = 'request'"),
            postgresql_where=text("\"trigger\" = 'request'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    ticket_ref: Mapped[str] = mapped_column(String(255), index=True)
    source: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str | None] = mapped_column(String(255))
    requester_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), index=True)
    inbox_event_id: Mapped[int | None] = mapped_column(ForeignKey("inbox_events.id", ondelete="SET NULL"))
    trigger: Mapped[str] = mapped_column(String(16), default="request")  # request | follow_up
    verdict: Mapped[str] = mapped_column(String(16))  # answer | escalate
    confidence: Mapped[float] = mapped_column(Float, default=0.0)
    threshold: Mapped[float] = mapped_column(Float, default=1.0)
    reasons: Mapped[list[Any]] = mapped_column(JSON, default=list)
    candidates: Mapped[list[Any]] = mapped_column(JSON, default=list)
    latency_ms: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    kb_version: Mapped[str | None] = mapped_column(String(64))
    model: Mapped[str | None] = mapped_column(String(255))
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


ONE_ESCALATION = text("kind = 'escalated'")  # the predicate of the partial unique index on outcomes


class OutcomeRow(Base):
    """What followed a decision. ``kind`` is one of:

    - ``answer_posted``: the hub's public answer reached the thread (its time is the hub's first response; or
      when the hub found it there, after its deadline's hand-over, which the ``escalated`` row then predates);
    - ``already_solved`` / ``already_replied`` / ``already_noted``: the hub's answer was neither posted nor
      handed over: people solved or closed the ticket, or an agent replied in public, or wrote an internal note,
      while it waited (``detail.status``); never with ``answer_posted``;
    - ``solved``: the requester confirmed the answer solved it (a verified resolution);
    - ``not_solved``: the requester said it did not help;
    - ``escalated``: the request went to a person (``detail.reason``; ``detail.ticket_ref``/``url`` of the
      ticket of record when one was created); at most one per ticket, enforced by the database
      (``uq_outcomes_one_escalation``): of two concurrent escalations of one request, one commits;
    - ``agent_reply``: an agent answered on the ticket (first response time of agents);
    - ``reopened``: the ticket was reopened after it was solved;
    - ``csat``: a satisfaction rating, ``value`` in [0, 1].
    """

    __tablename__ = "outcomes"
    __table_args__ = (
        Index("uq_outcomes_one_escalation", "ticket_ref", unique=True, sqlite_where=ONE_ESCALATION, postgresql_where=ONE_ESCALATION),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    decision_id: Mapped[int | None] = mapped_column(ForeignKey("decisions.id"), index=True)
    ticket_ref: Mapped[str] = mapped_column(String(255), index=True)
    kind: Mapped[str] = mapped_column(String(32))  # solved | not_solved | escalated | reopened | agent_reply | csat
    value: Mapped[float | None] = mapped_column(Float)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


# -- small state ----------------------------------------------------------------------------------


class CursorRow(Base):
    """A named resume point (polling cursors, KB sync high-water marks), or a vendor notice kept for the dashboard
    (``notice:<vendor>:<kind>:<key>``, :mod:`core.notices`: ``updated_at`` is when it was received)."""

    __tablename__ = "cursors"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class LeaseRow(Base):
    """A named lease held by one process until it expires: the single active scheduler, the KB embedding, a KB
    version's cold-start fit."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    owner: Mapped[str] = mapped_column(String(255))
    expires_at: Mapped[datetime]


# -- engine ---------------------------------------------------------------------------------------
